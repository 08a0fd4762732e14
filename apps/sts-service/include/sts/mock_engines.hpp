#pragma once
// Deterministic engines for tests and pipeline bring-up: no models, no language processing.
#include <chrono>

#include "sts/engine.hpp"

namespace livedub::sts {

struct MockOptions {
  // Sleep inside dub(), to exercise the caller's latency budget and timeouts.
  std::chrono::milliseconds processing_delay{0};
  // LIVEDUB_STS_VOICE_CLONE: the mocks take a stream's reference clip (no model: its frame
  // count is what they keep) and report its dubs as spoken by voice "speaker", so the worker's
  // reference-clip path runs end to end without models.
  bool voice_clone = false;
};

// Returns the input audio fitted to the requested duration (truncated or padded with silence).
class PassthroughEngine final : public DubbingEngine {
 public:
  explicit PassthroughEngine(MockOptions options = {});
  using DubbingEngine::dub;
  DubResult dub(const DubRequestMetadata& request, const AudioBuffer& input, const DubContext& context) override;
  std::string name() const override;
  EngineCapabilities capabilities() const override;
  std::shared_ptr<const PocketVoice> encode_speaker(const AudioBuffer& clip) override;

 private:
  MockOptions options_;
};

// Returns a sine tone of the requested duration at the input's rate and channel count, so a
// listener can tell dubbed fragments from original audio at a glance.
class ToneEngine final : public DubbingEngine {
 public:
  static constexpr double kAmplitude = 0.3;  // of full scale

  explicit ToneEngine(double frequency_hz = 440.0, MockOptions options = {});
  using DubbingEngine::dub;
  DubResult dub(const DubRequestMetadata& request, const AudioBuffer& input, const DubContext& context) override;
  std::string name() const override;
  EngineCapabilities capabilities() const override;

 private:
  double frequency_hz_;
  MockOptions options_;
};

}  // namespace livedub::sts
