#include "sts_client.hpp"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "livedub/secrets.hpp"
#include "livedub/wav.hpp"

namespace livedub::worker {

namespace {
struct DecodedVoice {
  std::optional<AudioBuffer> audio;
  std::optional<SpeechSpan> span;
  std::string error;
};

// One language's dub from the answer: mono at the fragment's rate and length, and where it speaks.
DecodedVoice decode_voice(const std::string& wav_base64, double speech_start_ms, double speech_end_ms,
                          const AudioBuffer& fragment) {
  DecodedVoice out;
  auto wav_bytes = sts::base64_decode(wav_base64);
  auto decoded = decode_wav(std::span(reinterpret_cast<const std::uint8_t*>(wav_bytes.data()), wav_bytes.size()));
  const auto want = fragment.frames();
  const auto got_at_our_rate = decoded.frames() * fragment.format.sample_rate / std::max(1, decoded.format.sample_rate);
  // More than 5% off means the service ignored duration_ms: that is a bug worth surfacing.
  if (std::llabs(got_at_our_rate - want) > want / 20 + 1) {
    out.error = "STS returned " + std::to_string(got_at_our_rate) + " frames, expected " + std::to_string(want);
    return out;
  }
  // The dub is one voice: mono here, placed in the centre of the bed by the mixer.
  const int rate = fragment.format.sample_rate;
  out.audio = conform_audio(decoded, {rate, 1}, want);
  const auto to_frame = [&](double ms) { return std::clamp<std::int64_t>(std::llround(ms * rate / 1000.0), 0, want); };
  if (speech_end_ms > speech_start_ms) out.span = SpeechSpan{to_frame(speech_start_ms), to_frame(speech_end_ms)};
  return out;
}
}  // namespace

namespace {
std::string phrase_url(const std::string& base_url, const std::string& stream_id, std::int64_t seq) {
  return base_url + sts::kStreamsPrefix + stream_id + "/phrases/" + std::to_string(seq);
}
}  // namespace

StsResult call_sts(HttpClient& http, const std::string& base_url, const std::optional<std::string>& token,
                   const StsRequest& request, std::chrono::milliseconds timeout) {
  StsResult result;
  std::vector<std::string> headers;
  if (token) headers.push_back("Authorization: Bearer " + *token);
  std::vector<MultipartPart> parts{{"metadata", "application/json", "", sts::to_json(request.metadata).dump()}};
  const auto add_audio = [&] {
    // Speech engines work in mono: a stereo bed is not worth twice the upload.
    const auto& audio = *request.audio;
    auto wav = audio.format.channels == 1
                   ? encode_wav(audio)
                   : encode_wav(AudioBuffer{{audio.format.sample_rate, 1}, audio.start_frame,
                                            downmix_to_mono(audio.samples, audio.format.channels)});
    parts.push_back({"audio", "audio/wav", "fragment.wav", std::string(wav.begin(), wav.end())});
  };
  const auto started = std::chrono::steady_clock::now();
  HttpResponse response;
  try {
    if (request.streamed_chunks) {
      response = http.post_multipart(phrase_url(base_url, request.metadata.stream_id, request.metadata.sequence) +
                                         "?chunks=" + std::to_string(*request.streamed_chunks),
                                     parts, timeout, headers);
    }
    // Not streamed, or the service lost the phrase (restarted, forgot it idle, a chunk missing):
    // the whole audio, within what is left of the budget.
    if (!request.streamed_chunks || response.status == 404 || response.status == 409) {
      const auto left = timeout - std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::steady_clock::now() - started);
      add_audio();
      response = http.post_multipart(base_url + sts::kDubPath, parts, std::max(left, std::chrono::milliseconds(1)),
                                     headers);
    }
  } catch (const HttpTransportError& e) {
    result.error = e.what();
    result.timed_out = e.timed_out();
    return result;
  }
  result.http_status = static_cast<int>(response.status);
  if (response.status != 200) {
    std::string message = response.body.substr(0, 300);
    try {
      auto body = nlohmann::json::parse(response.body);
      message = body.at("error").at("message").get<std::string>();
    } catch (const std::exception&) {
    }
    result.error = "STS answered HTTP " + std::to_string(response.status) + ": " + message;
    return result;
  }
  try {
    result.response = sts::parse_response(response.body);
    auto voice = decode_voice(result.response.audio_wav_base64, result.response.speech_start_ms,
                              result.response.speech_end_ms, *request.audio);
    result.response.audio_wav_base64.clear();
    if (!voice.error.empty()) {
      result.error = std::move(voice.error);
      return result;
    }
    result.audio = std::move(voice.audio);
    result.voice_span = voice.span;
    for (const auto& target : request.metadata.extra_targets) {
      ExtraStsResult extra{target.target_lang, std::nullopt, std::nullopt, {}, {}};
      auto it = std::find_if(result.response.extra.begin(), result.response.extra.end(),
                             [&](const sts::ExtraDub& e) { return e.target_lang == target.target_lang; });
      if (it == result.response.extra.end()) {
        extra.error = "STS answered without target language " + target.target_lang;
      } else if (!it->error_code.empty()) {
        extra.error = "STS could not dub " + target.target_lang + " (" + it->error_code + "): " + it->error;
      } else {
        auto decoded = decode_voice(it->audio_wav_base64, it->speech_start_ms, it->speech_end_ms, *request.audio);
        it->audio_wav_base64.clear();
        extra.error = std::move(decoded.error);
        if (extra.error.empty()) {
          extra.audio = std::move(decoded.audio);
          extra.voice_span = decoded.span;
          extra.translation = it->translation;
        }
      }
      result.extra.push_back(std::move(extra));
    }
  } catch (const std::exception& e) {
    result.error = std::string("unusable STS response: ") + e.what();
  }
  return result;
}

namespace {
SpeakerCall speaker_call(HttpClient& http, const std::string& method, const std::string& url,
                         const std::optional<std::string>& token, const std::string& body, const std::string& type,
                         std::chrono::milliseconds timeout) {
  std::vector<std::string> headers;
  if (token) headers.push_back("Authorization: Bearer " + *token);
  SpeakerCall call;
  try {
    const auto response = http.send(method, url, body, type, timeout, headers);
    call.http_status = static_cast<int>(response.status);
    if (response.status != 204) {
      call.error = "HTTP " + std::to_string(response.status) + ": " + response.body.substr(0, 300);
    }
  } catch (const std::exception& e) {
    call.error = e.what();
  }
  return call;
}
}  // namespace

SpeakerCall put_speaker_clip(HttpClient& http, const std::string& base_url, const std::optional<std::string>& token,
                             const std::string& stream_id, const AudioBuffer& clip, std::chrono::milliseconds timeout) {
  const auto wav = encode_wav(clip);
  return speaker_call(http, "PUT", base_url + "/v1/streams/" + stream_id + "/voice", token,
                      std::string(wav.begin(), wav.end()), "audio/wav", timeout);
}

SpeakerCall forget_speaker(HttpClient& http, const std::string& base_url, const std::optional<std::string>& token,
                           const std::string& stream_id, std::chrono::milliseconds timeout) {
  return speaker_call(http, "DELETE", base_url + "/v1/streams/" + stream_id + "/voice", token, "", "", timeout);
}

ChunkCall send_phrase_chunk(HttpClient& http, const std::string& base_url, const std::optional<std::string>& token,
                            const std::string& stream_id, std::int64_t seq, int n, const AudioBuffer& audio,
                            const std::string& language, std::chrono::milliseconds timeout) {
  ChunkCall call;
  std::vector<std::string> headers{"Content-Language: " + language};
  if (token) headers.push_back("Authorization: Bearer " + *token);
  const auto mono = audio.format.channels == 1 ? audio.samples : downmix_to_mono(audio.samples, audio.format.channels);
  std::string body(mono.size() * 2, '\0');
  for (std::size_t i = 0; i < mono.size(); ++i) {  // L16 is big-endian (RFC 2586)
    const auto value = static_cast<std::uint16_t>(mono[i]);
    body[2 * i] = static_cast<char>(value >> 8);
    body[2 * i + 1] = static_cast<char>(value & 0xff);
  }
  const auto type = "audio/L16; rate=" + std::to_string(audio.format.sample_rate) + "; channels=1";
  try {
    const auto response = http.send("POST", phrase_url(base_url, stream_id, seq) + "/chunks/" + std::to_string(n), body,
                                    type, timeout, headers);
    call.http_status = static_cast<int>(response.status);
    if (response.status != 200) {
      std::string message = response.body.substr(0, 300);
      try {
        message = nlohmann::json::parse(response.body).at("error").at("message").get<std::string>();
      } catch (const std::exception&) {
      }
      call.error = "STS answered HTTP " + std::to_string(response.status) + ": " + message;
      return call;
    }
    const auto reply = nlohmann::json::parse(response.body);
    for (const auto& word : reply.at("words")) {
      call.words.push_back({word.at("start_ms").get<std::int64_t>(), word.at("end_ms").get<std::int64_t>()});
    }
  } catch (const HttpTransportError& e) {
    call.error = e.what();
  } catch (const std::exception& e) {
    call.error = std::string("unusable STS chunk answer: ") + e.what();
  }
  return call;
}

std::optional<std::chrono::milliseconds> sts_request_budget(std::chrono::steady_clock::time_point deadline,
                                                            std::chrono::steady_clock::time_point now) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
  if (left.count() <= 0) return std::nullopt;
  return std::min(left, std::chrono::milliseconds(60000));
}

void abandon_phrase(HttpClient& http, const std::string& base_url, const std::optional<std::string>& token,
                    const std::string& stream_id, std::int64_t seq, std::chrono::milliseconds timeout) {
  std::vector<std::string> headers;
  if (token) headers.push_back("Authorization: Bearer " + *token);
  try {
    http.send("DELETE", phrase_url(base_url, stream_id, seq), "", "", timeout, headers);
  } catch (const std::exception&) {
    // The service forgets an idle phrase on its own.
  }
}

std::vector<SpeechSpan> word_gaps(const std::vector<HeardWordMs>& words, int sample_rate) {
  std::vector<SpeechSpan> gaps;
  const auto frame = [sample_rate](std::int64_t ms) { return ms * sample_rate / 1000; };
  for (std::size_t i = 1; i < words.size(); ++i) {
    const auto begin = words[i - 1].end_ms;
    const auto end = std::max(begin, words[i].start_ms);
    gaps.push_back({frame(begin), frame(end)});
  }
  return gaps;
}

StsCost parse_sts_cost(const std::string& capabilities_json, bool streamed) {
  StsCost cost;
  try {
    const auto body = nlohmann::json::parse(capabilities_json);
    auto it = body.find("cost");
    if (const auto s = body.find("streamed_cost");
        streamed && s != body.end() && s->is_object() && s->value("samples", 0) > 0) {
      it = s;
    }
    if (it == body.end() || !it->is_object()) {
      cost.why_not = "the STS reports no cost (an older version)";
    } else if (it->value("samples", 0) <= 0 || !it->contains("p95_ms_per_audio_s")) {
      cost.why_not = "the STS has timed no dub yet";
    } else if (const auto& p95 = (*it)["p95_ms_per_audio_s"]; !p95.is_number() || p95.get<double>() < 0) {
      cost.why_not = "the STS reports an unusable cost";
    } else {
      cost.p95_ms_per_audio_s = p95.get<double>();
      cost.samples = (*it)["samples"].is_number_integer() ? (*it)["samples"].get<int>() : 1;
    }
  } catch (const nlohmann::json::exception& e) {
    cost.why_not = std::string("the STS capabilities are not JSON: ") + e.what();
  }
  return cost;
}

StsCost fetch_sts_cost(HttpClient& http, const std::string& base_url, const std::optional<std::string>& token,
                       std::chrono::milliseconds timeout, bool streamed) {
  std::vector<std::string> headers;
  if (token) headers.push_back("Authorization: Bearer " + *token);
  try {
    const auto response = http.get(base_url + "/v1/capabilities", timeout, headers);
    if (response.status != 200) return {std::nullopt, 0, "GET /v1/capabilities: HTTP " + std::to_string(response.status)};
    return parse_sts_cost(response.body, streamed);
  } catch (const std::exception& e) {
    return {std::nullopt, 0, std::string("GET /v1/capabilities: ") + e.what()};
  }
}

void plan_output_delay(WorkerConfig& config, const LogContext& log) {
  HttpClient http;
  std::optional<PlannedStsCost> worst;
  std::string why_not;
  // Phrases stream only when the detector finds them.
  const bool streams = config.sts_streaming && config.vad != "off";
  for (const auto& url : config.sts_urls) {
    const auto cost = fetch_sts_cost(http, url, config.sts_token, std::chrono::seconds(3), streams);
    if (!cost.p95_ms_per_audio_s) {
      why_not = redact_url(url) + ": " + cost.why_not;
      continue;
    }
    const PlannedStsCost planned{*cost.p95_ms_per_audio_s, cost.samples};
    if (!worst || planned_output_delay(config, planned) > planned_output_delay(config, worst)) worst = planned;
  }
  config.output_delay = planned_output_delay(config, worst);
  if (worst) {
    log_info(log, "output delay {} ms: longest fragment {} ms + STS p95 {:.0f} ms per audio second{} ({} dubs{}) + margin",
             config.output_delay.count(), config.longest_fragment.count(), worst->p95_ms_per_audio_s,
             streams ? " left once a streamed phrase ends" : "", worst->samples,
             worst->samples < kTrustedCostSamples ? ", counted double" : "");
  } else {
    log_warn(log, "output delay {} ms (longest fragment + default STS budget): no STS cost known ({})",
             config.output_delay.count(), why_not);
  }
}

}  // namespace livedub::worker
