// livedub-make-separator-model: writes a stand-in ONNX source separator (see separator_model.hpp).
//   livedub-make-separator-model OUT.onnx [SEED]
#include <iostream>
#include <string>

#include "separator_model.hpp"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: livedub-make-separator-model OUT.onnx [SEED]\n";
    return 2;
  }
  try {
    const auto gain = livedub::tools::write_separator_model(argv[1], argc == 3 ? static_cast<std::uint32_t>(std::stoul(argv[2])) : 1u);
    std::cout << "wrote " << argv[1] << " (background = mixture x " << gain << ")\n";
  } catch (const std::exception& e) {
    std::cerr << "livedub-make-separator-model: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
