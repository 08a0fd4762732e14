// livedub-sts-file IN.wav OUT.wav [--source en] [--target es] [--voice NAME]
// Sends one WAV file to the STS service at STS_SERVICE_URL (POST /v1/dub), writes the dubbed
// audio to OUT.wav (same duration, sample rate and channels as IN.wav) and prints the
// response metadata (transcript, translation, voice, time fit, stage timings) as JSON on stdout.
// Exit status: 0 dubbed; 1 the service refused or failed (its error JSON on stderr);
// 2 bad usage or unreadable input. Tools outside the project rely on this interface.
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "livedub/config.hpp"
#include "livedub/http_client.hpp"
#include "livedub/stream_id.hpp"
#include "livedub/sts_protocol.hpp"
#include "livedub/wav.hpp"

namespace {

constexpr int kExitServiceError = 1;
constexpr int kExitUsage = 2;

void fail_json(const std::string& code, const std::string& message) {
  std::cerr << nlohmann::json{{"error", {{"code", code}, {"message", message}}}}.dump() << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace livedub;
  CLI::App app{"Dub one WAV file with the livedub STS service at STS_SERVICE_URL"};
  std::string input_path, output_path, source = "en", target = "es", voice = "default", stream_id = "sts-file";
  double timeout_s = 120;
  app.add_option("input", input_path, "WAV file to dub (PCM 16-bit, mono or stereo, 8-192 kHz)")->required();
  app.add_option("output", output_path, "where to write the dubbed WAV")->required();
  app.add_option("--source", source, "language spoken in the input")->capture_default_str();
  app.add_option("--target", target, "language to dub into")->capture_default_str();
  app.add_option("--voice", voice, "voice profile (GET /v1/capabilities lists them)")->capture_default_str();
  app.add_option("--stream-id", stream_id, "stream id the service files the request under")->capture_default_str();
  app.add_option("--timeout", timeout_s, "seconds to wait for the service")->check(CLI::Range(1.0, 3600.0));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;  // prints help or the usage error
  }

  std::string url;
  std::optional<std::string> token;
  try {
    EnvConfig env;
    // A worker may list several endpoints; one file needs one: the first.
    url = env.string("STS_SERVICE_URL", "http://127.0.0.1:8000");
    url = url.substr(0, url.find(','));
    const auto scheme = url_scheme(url);
    if (!scheme || (*scheme != "http" && *scheme != "https")) {
      throw ConfigError("STS_SERVICE_URL", "'" + url + "' is not an http(s):// URL");
    }
    while (!url.empty() && url.back() == '/') url.pop_back();
    token = env.raw("LIVEDUB_STS_TOKEN");
  } catch (const ConfigError& e) {
    fail_json("invalid_configuration", e.what());
    return kExitUsage;
  }
  if (!sts::is_valid_language_tag(source) || !sts::is_valid_language_tag(target)) {
    fail_json("invalid_argument", "--source/--target must be language tags such as en, es, pt-BR");
    return kExitUsage;
  }
  if (!sts::is_valid_voice_name(voice) || !is_valid_stream_id(stream_id)) {
    fail_json("invalid_argument", "--voice must be [A-Za-z0-9_.+-]{1,64} and --stream-id [A-Za-z0-9_-]{1,64}");
    return kExitUsage;
  }

  std::ifstream in(input_path, std::ios::binary);
  if (!in) {
    fail_json("unreadable_input", "cannot read " + input_path);
    return kExitUsage;
  }
  std::string wav((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  AudioBuffer audio;
  try {
    audio = decode_wav({reinterpret_cast<const std::uint8_t*>(wav.data()), wav.size()});
  } catch (const WavError& e) {
    fail_json("invalid_audio", input_path + ": " + e.what() + " (convert with: sox IN -b 16 OUT.wav)");
    return kExitUsage;
  }
  if (audio.frames() == 0) {
    fail_json("invalid_audio", input_path + " contains no samples");
    return kExitUsage;
  }
  const double duration_ms = static_cast<double>(audio.frames()) * 1000.0 / audio.format.sample_rate;
  if (duration_ms > sts::kMaxDurationMs) {
    fail_json("input_too_long", input_path + " lasts " + std::to_string(duration_ms / 1000) +
                                    " s; the STS API takes at most " +
                                    std::to_string(static_cast<int>(sts::kMaxDurationMs / 1000)) + " s per request");
    return kExitUsage;
  }

  sts::DubRequestMetadata metadata{stream_id, 0, source, target, voice, duration_ms};
  std::vector<std::string> headers;
  if (token && !token->empty()) headers.push_back("Authorization: Bearer " + *token);
  HttpResponse response;
  try {
    HttpClient client;
    response = client.post_multipart(
        url + sts::kDubPath,
        {MultipartPart{"metadata", "application/json", "", to_json(metadata).dump()},
         MultipartPart{"audio", "audio/wav", "input.wav", std::move(wav)}},
        std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000)), headers);
  } catch (const HttpTransportError& e) {
    fail_json("service_unreachable", url + ": " + e.what());
    return kExitServiceError;
  }
  if (response.status != 200) {
    auto body = nlohmann::json::parse(response.body, nullptr, false);
    if (body.is_object() && body.contains("error")) {
      body["status"] = response.status;
      std::cerr << body.dump() << "\n";
    } else {
      fail_json("http_" + std::to_string(response.status), response.body.substr(0, 500));
    }
    return kExitServiceError;
  }
  try {
    auto dub = sts::parse_response(response.body);
    const auto dubbed = sts::base64_decode(dub.audio_wav_base64);
    std::ofstream out(output_path, std::ios::binary | std::ios::trunc);
    if (!out.write(dubbed.data(), static_cast<std::streamsize>(dubbed.size())) || !out.flush()) {
      fail_json("unwritable_output", "cannot write " + output_path);
      return kExitUsage;
    }
    auto report = sts::to_json(dub);
    report.erase("audio_wav_base64");
    report["output"] = output_path;
    std::cout << report.dump(2) << std::endl;
    return 0;
  } catch (const sts::ProtocolError& e) {
    fail_json("invalid_response", e.what());
    return kExitServiceError;
  }
}
