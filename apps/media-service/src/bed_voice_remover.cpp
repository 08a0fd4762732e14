#include <stdexcept>

#include "dub_mixer.hpp"
#include "voice_reducer.hpp"

#if LIVEDUB_HAVE_ONNXRUNTIME
#include "source_separator.hpp"
#endif

namespace livedub::worker {

std::unique_ptr<BedVoiceRemover> make_voice_remover(BedMode mode, AudioFormat format, const std::string& separator_model,
                                                    int separator_rate) {
  if (mode == BedMode::reduce) return std::make_unique<VoiceReducer>(format);
  if (mode != BedMode::separator) return nullptr;
#if LIVEDUB_HAVE_ONNXRUNTIME
  try {
    return std::make_unique<OnnxSeparator>(separator_model, separator_rate);
  } catch (const onnx::OnnxError& e) {
    throw std::runtime_error(std::string("LIVEDUB_BED_SEPARATOR_MODEL: ") + e.what());
  }
#else
  (void)format;
  (void)separator_model;
  (void)separator_rate;
  throw std::runtime_error("LIVEDUB_BED_MODE=separator: this build has no ONNX Runtime (scripts/fetch-onnxruntime)");
#endif
}

}  // namespace livedub::worker
