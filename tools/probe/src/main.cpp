// livedub-probe: publishes the A/V test pattern into a live input and measures the dubbed
// output as a viewer gets it (tracks, start-up, delay, sync, which audio). Used by the demo.
#include <gst/gst.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>

#include "av_probe.hpp"

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  CLI::App app{"livedub-probe: publish a flash/beep test stream and measure the dubbed output"};
  livedub::probe::CheckOptions options;
  int duration_s = 20, drain_s = 8;
  std::string record, speech, json_path;
  bool human = false;
  app.add_option("--in", options.input_url, "RTMP URL to publish the pattern to")->required();
  app.add_option("--out", options.output_url, "RTMP URL of the dubbed output")->required();
  app.add_option("--duration", duration_s, "seconds to publish")->check(CLI::Range(3, 3600));
  app.add_option("--drain", drain_s, "seconds to keep reading after publishing stops")->check(CLI::Range(0, 120));
  app.add_option("--record", record, "write the output stream to this FLV file");
  app.add_option("--speech", speech, "WAV file mixed under the beeps (looped)");
  std::string music;
  app.add_option("--music", music, "audio file (WAV) mixed under everything as the bed (looped)");
  app.add_option("--music-gain", options.music_gain, "level of the music in the mix, 0-1 of its own")->check(CLI::Range(0.0, 1.0));
  app.add_option("--beep-amplitude", options.pattern.beep_amplitude,
                 "beep level, 0-1 of full scale (0: no beeps, e.g. so speech recognition hears only the speech)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--json", json_path, "also write the report as JSON here");
  std::string publisher = "gstreamer";
  app.add_option("--publisher", publisher,
                 "who publishes: gstreamer (this process, live) or ffmpeg (the pattern rendered to a file, "
                 "then published by ffmpeg -re, as a user would)")
      ->check(CLI::IsMember({"gstreamer", "ffmpeg"}));
  app.add_option("--ffmpeg", options.ffmpeg, "the ffmpeg executable (--publisher ffmpeg)");
  app.add_flag("--reconnect", options.reconnect, "play the output again whenever it ends (a restarted worker)");
  app.add_flag("--human", human, "print a readable summary instead of JSON on stdout");
  CLI11_PARSE(app, argc, argv);
  options.duration = std::chrono::seconds(duration_s);
  if (publisher == "ffmpeg") options.publisher = livedub::probe::CheckOptions::Publisher::ffmpeg;
  options.drain = std::chrono::seconds(drain_s);
  if (!record.empty()) options.record_path = record;
  if (!speech.empty()) options.speech_wav = speech;
  if (!music.empty()) options.music_wav = music;
  try {
    auto report = livedub::probe::run_av_check(options);
    auto json = report.to_json();
    if (!json_path.empty()) std::ofstream(json_path) << json.dump(2) << "\n";
    if (human) {
      std::cout << livedub::probe::human_summary(report);
    } else {
      std::cout << json.dump(2) << std::endl;
    }
    return report.has_video && report.has_audio ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "livedub-probe: " << e.what() << "\n";
    return 2;
  }
}
