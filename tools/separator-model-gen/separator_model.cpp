#include "separator_model.hpp"

#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>

namespace livedub::tools {
namespace {

// Protocol-buffer wire format, just what an ONNX ModelProto needs.
void varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}
void tag(std::string& out, int field, int wire) { varint(out, static_cast<std::uint64_t>(field << 3 | wire)); }
void int_field(std::string& out, int field, std::uint64_t v) {
  tag(out, field, 0);
  varint(out, v);
}
void bytes_field(std::string& out, int field, const std::string& bytes) {
  tag(out, field, 2);
  varint(out, bytes.size());
  out += bytes;
}

// ValueInfoProto: a float tensor [1, channels, samples] with symbolic channels and samples.
std::string float_tensor_info(const std::string& name) {
  std::string shape;
  std::string batch, channels, samples;
  int_field(batch, 1, 1);           // Dimension.dim_value
  bytes_field(channels, 2, "channels");  // Dimension.dim_param
  bytes_field(samples, 2, "samples");
  bytes_field(shape, 1, batch);
  bytes_field(shape, 1, channels);
  bytes_field(shape, 1, samples);
  std::string tensor;
  int_field(tensor, 1, 1);  // elem_type FLOAT
  bytes_field(tensor, 2, shape);
  std::string type;
  bytes_field(type, 1, tensor);  // TypeProto.tensor_type
  std::string info;
  bytes_field(info, 1, name);
  bytes_field(info, 2, type);
  return info;
}

}  // namespace

float write_separator_model(const std::filesystem::path& path, std::uint32_t seed) {
  std::mt19937 rng(seed);
  const float gain = std::uniform_real_distribution<float>(0.2f, 0.8f)(rng);
  std::string node;
  bytes_field(node, 1, "mixture");
  bytes_field(node, 1, "gain");
  bytes_field(node, 2, "background");
  bytes_field(node, 4, "Mul");
  std::string initializer;
  int_field(initializer, 2, 1);  // data_type FLOAT, scalar (no dims)
  std::string raw(sizeof gain, '\0');
  std::memcpy(raw.data(), &gain, sizeof gain);
  bytes_field(initializer, 8, "gain");
  bytes_field(initializer, 9, raw);  // raw_data, little-endian
  std::string graph;
  bytes_field(graph, 1, node);
  bytes_field(graph, 2, "livedub-separator-stand-in");
  bytes_field(graph, 5, initializer);
  bytes_field(graph, 11, float_tensor_info("mixture"));
  bytes_field(graph, 12, float_tensor_info("background"));
  std::string opset;
  bytes_field(opset, 1, "");
  int_field(opset, 2, 17);
  std::string model;
  int_field(model, 1, 8);  // ir_version
  bytes_field(model, 2, "livedub");  // producer_name
  bytes_field(model, 7, graph);
  bytes_field(model, 8, opset);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(model.data(), static_cast<std::streamsize>(model.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
  return gain;
}

}  // namespace livedub::tools
