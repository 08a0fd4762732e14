#pragma once
// Writes a stand-in source-separation model in ONNX format, for tests and benchmarks: it
// follows the separator contract (one float input "mixture" [1, channels, samples], first
// output "background" of the same shape) and computes background = mixture x gain with a
// random gain in [0.2, 0.8] (seeded). No real separation weights exist here; this proves
// loading, the contract checks and the plumbing through ONNX Runtime.
#include <cstdint>
#include <filesystem>

namespace livedub::tools {

// Returns the gain the model applies.
float write_separator_model(const std::filesystem::path& path, std::uint32_t seed);

}  // namespace livedub::tools
