#pragma once
// A thin RAII layer over ONNX Runtime's C API (target livedub_onnx, built when
// scripts/fetch-onnxruntime has run): one process-wide environment, sessions loaded from a
// model file, and CPU tensors that borrow the caller's memory. Errors become OnnxError with
// ONNX Runtime's own message. Used by the worker's Silero VAD and meant for any later ONNX
// model (source separator, GPU engines).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

struct OrtSession;
struct OrtValue;

namespace livedub::onnx {

class OnnxError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The element types the project feeds; kOther: any other (reported, never created).
enum class ElementType { kFloat, kInt64, kBool, kOther };

// A model input or output as the model declares it: dynamic dimensions are -1.
struct TensorInfo {
  std::string name;
  ElementType type = ElementType::kOther;
  std::vector<std::int64_t> shape;
};

// A tensor that borrows `data` (which must outlive every run() it is passed to).
class Tensor {
 public:
  static Tensor floats(std::span<float> data, std::vector<std::int64_t> shape);
  static Tensor int64s(std::span<std::int64_t> data, std::vector<std::int64_t> shape);
  // `data` is bool[] in ONNX's sense (one byte per element).
  static Tensor bools(std::span<bool> data, std::vector<std::int64_t> shape);
  // A tensor that owns its zero-filled memory (false for bool); any dimension may be 0.
  static Tensor zeros(ElementType type, std::vector<std::int64_t> shape);
  Tensor(Tensor&&) noexcept;
  Tensor& operator=(Tensor&&) noexcept;
  ~Tensor();

  OrtValue* get() const { return value_; }
  explicit Tensor(OrtValue* value) : value_(value) {}
  // Output tensors only: their float contents (a copy) and element count.
  std::vector<float> to_floats() const;
  // Output tensors only: their shape, and their float contents in place (valid while this lives).
  std::vector<std::int64_t> shape() const;
  std::span<const float> float_data() const;
  ElementType element_type() const;

 private:
  OrtValue* value_ = nullptr;
};

enum class Device { kCpu, kCuda, kAuto };

struct SessionOptions {
  int intra_op_threads = 1;  // one stream = one core at most; the worker runs many streams
  // kCuda: ONNX Runtime's CUDA provider or an OnnxError saying why not; kAuto: CUDA where the
  // library has it and a GPU answers, else the CPU.
  Device device = Device::kCpu;
};

class Session {
 public:
  // Throws OnnxError naming `model` when it cannot be loaded.
  Session(const std::filesystem::path& model, const SessionOptions& options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const std::vector<std::string>& input_names() const { return input_names_; }
  const std::vector<std::string>& output_names() const { return output_names_; }
  // The declared type and shape of each input / output, in input_names() / output_names() order.
  const std::vector<TensorInfo>& inputs() const { return inputs_; }
  const std::vector<TensorInfo>& outputs() const { return outputs_; }
  // "CPU" or "CUDA": where the session's nodes run.
  const std::string& device() const { return device_; }
  // Runs with inputs in input_names() order; returns outputs in output_names() order.
  std::vector<Tensor> run(const std::vector<const Tensor*>& inputs);

 private:
  OrtSession* session_ = nullptr;
  std::vector<std::string> input_names_;
  std::vector<std::string> output_names_;
  std::vector<TensorInfo> inputs_;
  std::vector<TensorInfo> outputs_;
  std::string device_ = "CPU";
};

// "1.28.2": the library actually loaded.
std::string runtime_version();

}  // namespace livedub::onnx
