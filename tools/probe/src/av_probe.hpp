#pragma once
// Publishes the test pattern to an RTMP input and watches an RTMP output, measuring what a
// viewer would see: tracks, start-up time, end-to-end delay, A/V sync, which audio came out.
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_pattern.hpp"

namespace livedub::probe {

struct CheckOptions {
  std::string input_url;   // where the pattern is published
  std::string output_url;  // where the dubbed stream is read
  std::chrono::seconds duration{20};       // how long the pattern is published
  std::chrono::seconds drain{8};           // how long to keep reading after publishing stops
  std::optional<std::string> record_path;  // FLV copy of the output
  std::optional<std::string> speech_wav;   // mixed under the beeps, looped
  std::optional<std::string> music_wav;    // the bed: mixed under everything, looped
  double music_gain = 0.25;                // of the music file's own level
  PatternSpec pattern;
  // Further outputs of the same stream (other languages), read and measured alongside.
  struct OtherOutput {
    std::string url;
    std::optional<std::string> record_path;
  };
  std::vector<OtherOutput> other_outputs;
  // Called about once per second with seconds since publishing started (for fault injection).
  std::function<void(double)> on_tick;
  // Who publishes the pattern. gstreamer: this process, live (rtmp2sink). ffmpeg: the pattern
  // is rendered to an FLV file first, then FFmpeg publishes it in real time (-re -c copy), as
  // a user's ffmpeg command would; delays are then measured from when each frame reached the
  // media server (read back from input_url as a viewer), not from FFmpeg's start.
  enum class Publisher { gstreamer, ffmpeg };
  // Play each output again whenever it ends (a restarted worker publishes it anew).
  bool reconnect = false;
  Publisher publisher = Publisher::gstreamer;
  // Publisher::ffmpeg only: the rendered file's audio is re-encoded with these FFmpeg output
  // options (e.g. {"-c:a", "libmp3lame"}) before it is published, as from a publisher sending
  // another codec; the video is copied.
  std::vector<std::string> ffmpeg_audio;
  std::string ffmpeg = "/usr/bin/ffmpeg";
};

struct ToneWindow {
  double input_time_s = 0;      // where this window was in the input
  double tone_fraction = 0;     // energy share at the mock tone frequency (440 Hz)
  double level = 0;             // RMS relative to full scale
};

struct CheckReport {
  bool has_video = false;
  bool has_audio = false;
  std::int64_t video_frames = 0;
  std::int64_t unreadable_frames = 0;
  std::int64_t missing_frames = 0;  // gaps in the frame numbers between first and last
  double audio_seconds = 0;
  double output_duration_s = 0;
  std::optional<double> first_output_after_publish_s;
  std::optional<double> delay_median_ms, delay_min_ms, delay_max_ms;
  double max_arrival_gap_ms = 0;
  int reconnects = 0;  // times the output was played again after it ended (CheckOptions::reconnect)
  std::vector<double> sync_offsets_ms;  // beep onset - flash onset, in output order
  int flashes = 0;
  int beeps = 0;
  std::vector<ToneWindow> windows;  // 1 s windows on the input timeline
  std::optional<double> passthrough_correlation;  // output vs. regenerated input (no speech)
  // With music_wav: how much of the published music each output window carries.
  struct BedWindow {
    double input_time_s = 0;
    double gain_db = 0;       // projection of the output onto the music, against the music
    double correlation = 0;   // output vs. music
    double projection = 0;    // sum of output x music (gain_db's numerator, for adding windows up)
    double music_energy = 0;  // sum of music x music (its denominator)
  };
  std::vector<BedWindow> bed;
  std::optional<double> bed_lag_ms;    // output audio vs. video clock, found by correlation
  double max_sample_jump = 0;          // largest |x[n] - x[n-1]| in the output (full scale 1)
  double input_max_sample_jump = 0;    // the same in what was published
  // Output pts - input time (median over the readable frames): maps the output's timeline
  // (as this reader sees it) back to the input's.
  std::optional<double> pts_offset_ms;
  // CheckOptions::other_outputs, in order, each measured like this one.
  std::vector<CheckReport> other_outputs;

  nlohmann::json to_json() const;
};

// A few lines a person can read: what was verified and the measured numbers.
std::string human_summary(const CheckReport& report);

// Runs the whole check; throws std::runtime_error when a pipeline cannot be built.
CheckReport run_av_check(const CheckOptions& options);

}  // namespace livedub::probe
