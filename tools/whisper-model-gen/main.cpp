// livedub-make-whisper-model OUT.bin [--size NAME] [--f32] [--seed N]
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "sts/whisper_model_file.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Writes a whisper.cpp ggml model with random weights (for tests and speed measurements)."};
  std::string out;
  std::string size = "test";
  bool f32 = false;
  std::uint64_t seed = 1;
  app.add_option("out", out, "model file to write")->required();
  app.add_option("--size", size, "test (tiny test shape, 8 MB), tiny, base, small, medium, large-v3, large-v3-turbo")
      ->capture_default_str();
  app.add_flag("--f32", f32, "store weight matrices as f32 (real models use f16; whisper.cpp's CPU convolution cannot run f32 models)");
  app.add_option("--seed", seed, "pseudo-random seed")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  using namespace livedub::sts;
  WhisperHparams hparams;
  if (size == "test") {
    hparams = tiny_test_whisper_hparams();
  } else if (auto real = whisper_hparams_for_size(size)) {
    hparams = *real;
  } else {
    std::fprintf(stderr, "livedub-make-whisper-model: unknown --size '%s'\n", size.c_str());
    return 2;
  }
  if (f32) hparams.ftype = 0;
  try {
    write_random_whisper_model(out, hparams, seed);
    const auto summary = inspect_whisper_model(out);
    std::printf("%s: %s-shaped whisper model, %zu tensors, %.1f MB (random weights)\n", out.c_str(), size.c_str(),
                summary.tensors, static_cast<double>(summary.file_bytes) / 1e6);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "livedub-make-whisper-model: %s\n", e.what());
    return 1;
  }
  return 0;
}
