#include "sts/engine.hpp"

#include <algorithm>
#include <cmath>

namespace livedub::sts {

void check_deadline(const DubContext& context, const char* stage) {
  if (std::chrono::steady_clock::now() >= context.deadline) {
    throw DeadlineExpired(std::string("deadline passed before the ") + stage + " stage");
  }
}

AudioBuffer DubbingEngine::calibration_speech(const std::string& /*language*/) {
  AudioBuffer tone;
  tone.format = {16000, 1};
  tone.samples.resize(static_cast<std::size_t>(kCalibrationSeconds * 16000));
  for (std::size_t i = 0; i < tone.samples.size(); ++i) {
    tone.samples[i] = static_cast<std::int16_t>(8000 * std::sin(2 * M_PI * 220.0 * static_cast<double>(i) / 16000.0));
  }
  return tone;
}

bool DubbingEngine::supports(const std::string& source_lang, const std::string& target_lang) const {
  auto caps = capabilities();
  if (caps.any_language_pair) return true;
  return std::any_of(caps.pairs.begin(), caps.pairs.end(), [&](const LanguagePair& pair) {
    return pair.source == source_lang && pair.target == target_lang;
  });
}

bool DubbingEngine::supports_voice(const std::string& voice) const {
  auto caps = capabilities();
  return caps.any_voice || std::find(caps.voices.begin(), caps.voices.end(), voice) != caps.voices.end();
}

std::int64_t frames_for_duration(double duration_ms, int sample_rate) {
  return std::llround(duration_ms * sample_rate / 1000.0);
}

SpeechLayout speech_layout(const DubRequestMetadata& request, int sample_rate) {
  SpeechLayout layout;
  layout.total_frames = frames_for_duration(request.duration_ms, sample_rate);
  for (const auto& span : request.speech) {
    layout.spans.emplace_back(std::clamp(frames_for_duration(span.start_ms, sample_rate), std::int64_t{0}, layout.total_frames),
                              std::clamp(frames_for_duration(span.end_ms, sample_rate), std::int64_t{0}, layout.total_frames));
  }
  if (layout.spans.empty()) layout.spans.emplace_back(0, layout.total_frames);
  layout.slot_end = request.slot_end_ms
                        ? std::clamp(frames_for_duration(*request.slot_end_ms, sample_rate), layout.last(), layout.total_frames)
                        : layout.total_frames;
  return layout;
}

}  // namespace livedub::sts
