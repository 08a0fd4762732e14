#include "livedub/onnx.hpp"

#include <onnxruntime_c_api.h>

#include <cstring>
#include <mutex>
#include <optional>

namespace livedub::onnx {
namespace {

const OrtApi& api() {
  // The headers' API version; a newer library serves it unchanged (the C API is append-only).
  static const OrtApi* table = [] {
    const OrtApi* t = OrtGetApiBase()->GetApi(ORT_API_VERSION);
    if (t == nullptr) {
      throw OnnxError("the ONNX Runtime library (" + std::string(OrtGetApiBase()->GetVersionString()) +
                      ") does not offer C API version " + std::to_string(ORT_API_VERSION));
    }
    return t;
  }();
  return *table;
}

void check(OrtStatus* status, const std::string& what) {
  if (status == nullptr) return;
  std::string message = what + ": " + api().GetErrorMessage(status);
  api().ReleaseStatus(status);
  throw OnnxError(message);
}

// The one environment of the process (ONNX Runtime's logging and global state); never freed
// before exit, since sessions may be destroyed from static destructors.
OrtEnv* environment() {
  static OrtEnv* env = [] {
    OrtEnv* e = nullptr;
    check(api().CreateEnv(ORT_LOGGING_LEVEL_WARNING, "livedub", &e), "cannot create the ONNX Runtime environment");
    return e;
  }();
  return env;
}

const OrtMemoryInfo* cpu_memory() {
  static OrtMemoryInfo* info = [] {
    OrtMemoryInfo* i = nullptr;
    check(api().CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &i), "cannot describe CPU memory");
    return i;
  }();
  return info;
}

struct OptionsDeleter {
  void operator()(OrtSessionOptions* o) const { api().ReleaseSessionOptions(o); }
};

template <typename T>
Tensor make_tensor(std::span<T> data, std::vector<std::int64_t> shape, ONNXTensorElementDataType type) {
  // An empty tensor still needs an address (ONNX Runtime refuses a null one).
  static T empty{};
  OrtValue* value = nullptr;
  check(api().CreateTensorWithDataAsOrtValue(cpu_memory(), data.empty() ? &empty : data.data(), data.size_bytes(),
                                             shape.data(), shape.size(), type, &value),
        "cannot create a tensor");
  return Tensor(value);
}

ONNXTensorElementDataType to_onnx(ElementType type) {
  switch (type) {
    case ElementType::kFloat: return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
    case ElementType::kInt64: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64;
    case ElementType::kBool: return ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL;
    case ElementType::kOther: break;
  }
  throw OnnxError("cannot create a tensor of an unsupported element type");
}

ElementType from_onnx(ONNXTensorElementDataType type) {
  switch (type) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: return ElementType::kFloat;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64: return ElementType::kInt64;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL: return ElementType::kBool;
    default: return ElementType::kOther;
  }
}

// Type and shape of a tensor type info (dynamic dimensions as -1).
void read_tensor_info(const OrtTensorTypeAndShapeInfo* info, TensorInfo& out) {
  ONNXTensorElementDataType type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
  check(api().GetTensorElementType(info, &type), "cannot read a tensor's type");
  out.type = from_onnx(type);
  std::size_t rank = 0;
  check(api().GetDimensionsCount(info, &rank), "cannot read a tensor's rank");
  out.shape.assign(rank, 0);
  check(api().GetDimensions(info, out.shape.data(), rank), "cannot read a tensor's shape");
}

}  // namespace

Tensor Tensor::floats(std::span<float> data, std::vector<std::int64_t> shape) {
  return make_tensor(data, std::move(shape), ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT);
}
Tensor Tensor::int64s(std::span<std::int64_t> data, std::vector<std::int64_t> shape) {
  return make_tensor(data, std::move(shape), ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64);
}
Tensor Tensor::bools(std::span<bool> data, std::vector<std::int64_t> shape) {
  static_assert(sizeof(bool) == 1, "ONNX bool tensors are one byte per element");
  return make_tensor(data, std::move(shape), ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL);
}
Tensor Tensor::zeros(ElementType type, std::vector<std::int64_t> shape) {
  for (const auto d : shape) {
    if (d < 0) throw OnnxError("cannot create a tensor with a negative dimension");
  }
  OrtAllocator* allocator = nullptr;
  check(api().GetAllocatorWithDefaultOptions(&allocator), "no default allocator");
  OrtValue* value = nullptr;
  check(api().CreateTensorAsOrtValue(allocator, shape.data(), shape.size(), to_onnx(type), &value),
        "cannot create a tensor");
  Tensor tensor(value);
  OrtTensorTypeAndShapeInfo* info = nullptr;
  check(api().GetTensorTypeAndShape(value, &info), "cannot read a tensor's shape");
  std::size_t count = 0;
  OrtStatus* status = api().GetTensorShapeElementCount(info, &count);
  api().ReleaseTensorTypeAndShapeInfo(info);
  check(status, "cannot read a tensor's shape");
  if (count > 0) {
    void* data = nullptr;
    check(api().GetTensorMutableData(value, &data), "cannot write a tensor");
    const std::size_t element = type == ElementType::kFloat ? sizeof(float) : type == ElementType::kInt64 ? 8 : 1;
    std::memset(data, 0, count * element);
  }
  return tensor;
}

ElementType Tensor::element_type() const {
  OrtTensorTypeAndShapeInfo* info = nullptr;
  check(api().GetTensorTypeAndShape(value_, &info), "cannot read a tensor's type");
  ONNXTensorElementDataType type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
  OrtStatus* status = api().GetTensorElementType(info, &type);
  api().ReleaseTensorTypeAndShapeInfo(info);
  check(status, "cannot read a tensor's type");
  return from_onnx(type);
}

Tensor::Tensor(Tensor&& other) noexcept : value_(other.value_) { other.value_ = nullptr; }
Tensor& Tensor::operator=(Tensor&& other) noexcept {
  if (this != &other) {
    if (value_ != nullptr) api().ReleaseValue(value_);
    value_ = other.value_;
    other.value_ = nullptr;
  }
  return *this;
}
Tensor::~Tensor() {
  if (value_ != nullptr) api().ReleaseValue(value_);
}

std::vector<float> Tensor::to_floats() const {
  const auto data = float_data();
  return std::vector<float>(data.begin(), data.end());
}

std::vector<std::int64_t> Tensor::shape() const {
  OrtTensorTypeAndShapeInfo* info = nullptr;
  check(api().GetTensorTypeAndShape(value_, &info), "cannot read a tensor's shape");
  std::size_t rank = 0;
  OrtStatus* status = api().GetDimensionsCount(info, &rank);
  std::vector<std::int64_t> dims(rank);
  if (status == nullptr) status = api().GetDimensions(info, dims.data(), rank);
  api().ReleaseTensorTypeAndShapeInfo(info);
  check(status, "cannot read a tensor's shape");
  return dims;
}

std::span<const float> Tensor::float_data() const {
  OrtTensorTypeAndShapeInfo* info = nullptr;
  check(api().GetTensorTypeAndShape(value_, &info), "cannot read a tensor's shape");
  std::size_t count = 0;
  ONNXTensorElementDataType type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
  OrtStatus* status = api().GetTensorShapeElementCount(info, &count);
  if (status == nullptr) status = api().GetTensorElementType(info, &type);
  api().ReleaseTensorTypeAndShapeInfo(info);
  check(status, "cannot read a tensor's shape");
  if (type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) throw OnnxError("output tensor is not float");
  void* data = nullptr;
  check(api().GetTensorMutableData(value_, &data), "cannot read a tensor");
  return {static_cast<const float*>(data), count};
}

namespace {

// Adds the CUDA provider; returns ONNX Runtime's reason when it cannot (a CPU-only library, no
// driver or GPU).
std::optional<std::string> append_cuda(OrtSessionOptions* options) {
  OrtCUDAProviderOptionsV2* cuda = nullptr;
  if (OrtStatus* status = api().CreateCUDAProviderOptions(&cuda)) {
    std::string why = api().GetErrorMessage(status);
    api().ReleaseStatus(status);
    return why;
  }
  OrtStatus* status = api().SessionOptionsAppendExecutionProvider_CUDA_V2(options, cuda);
  api().ReleaseCUDAProviderOptions(cuda);
  if (status == nullptr) return std::nullopt;
  std::string why = api().GetErrorMessage(status);
  api().ReleaseStatus(status);
  return why;
}

}  // namespace

Session::Session(const std::filesystem::path& model, const SessionOptions& options) {
  OrtSessionOptions* raw = nullptr;
  check(api().CreateSessionOptions(&raw), "cannot create session options");
  std::unique_ptr<OrtSessionOptions, OptionsDeleter> opts(raw);
  check(api().SetIntraOpNumThreads(opts.get(), options.intra_op_threads), "cannot set threads");
  check(api().SetInterOpNumThreads(opts.get(), 1), "cannot set threads");
  check(api().SetSessionGraphOptimizationLevel(opts.get(), ORT_ENABLE_ALL), "cannot set optimisation level");
  if (!std::filesystem::is_regular_file(model)) throw OnnxError("model file " + model.string() + " does not exist");
  if (options.device != Device::kCpu) {
    if (auto why = append_cuda(opts.get())) {
      if (options.device == Device::kCuda) {
        throw OnnxError("cannot run " + model.string() + " on the GPU (ONNX Runtime " + runtime_version() + "): " + *why);
      }
    } else {
      device_ = "CUDA";
    }
  }
  check(api().CreateSession(environment(), model.c_str(), opts.get(), &session_),
        "cannot load ONNX model " + model.string());
  OrtAllocator* allocator = nullptr;
  check(api().GetAllocatorWithDefaultOptions(&allocator), "no default allocator");
  auto names = [&](bool inputs) {
    std::size_t count = 0;
    check(inputs ? api().SessionGetInputCount(session_, &count) : api().SessionGetOutputCount(session_, &count),
          "cannot list the model's inputs/outputs");
    std::vector<std::string> out;
    for (std::size_t i = 0; i < count; ++i) {
      char* name = nullptr;
      check(inputs ? api().SessionGetInputName(session_, i, allocator, &name)
                   : api().SessionGetOutputName(session_, i, allocator, &name),
            "cannot read a name");
      out.emplace_back(name);
      check(api().AllocatorFree(allocator, name), "cannot free a name");
    }
    return out;
  };
  input_names_ = names(true);
  output_names_ = names(false);
  auto infos = [&](bool inputs, const std::vector<std::string>& names_of) {
    std::vector<TensorInfo> out;
    for (std::size_t i = 0; i < names_of.size(); ++i) {
      OrtTypeInfo* type_info = nullptr;
      check(inputs ? api().SessionGetInputTypeInfo(session_, i, &type_info)
                   : api().SessionGetOutputTypeInfo(session_, i, &type_info),
            "cannot read the model's input/output types");
      TensorInfo info{names_of[i], ElementType::kOther, {}};
      const OrtTensorTypeAndShapeInfo* tensor_info = nullptr;
      OrtStatus* status = api().CastTypeInfoToTensorInfo(type_info, &tensor_info);
      if (status == nullptr && tensor_info != nullptr) {
        try {
          read_tensor_info(tensor_info, info);
        } catch (...) {
          api().ReleaseTypeInfo(type_info);
          throw;
        }
      }
      api().ReleaseTypeInfo(type_info);
      check(status, "cannot read the model's input/output types");
      out.push_back(std::move(info));
    }
    return out;
  };
  inputs_ = infos(true, input_names_);
  outputs_ = infos(false, output_names_);
}

Session::~Session() {
  if (session_ != nullptr) api().ReleaseSession(session_);
}

std::vector<Tensor> Session::run(const std::vector<const Tensor*>& inputs) {
  if (inputs.size() != input_names_.size()) {
    throw OnnxError("model takes " + std::to_string(input_names_.size()) + " inputs, got " +
                    std::to_string(inputs.size()));
  }
  std::vector<const char*> in_names, out_names;
  std::vector<const OrtValue*> in_values;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    in_names.push_back(input_names_[i].c_str());
    in_values.push_back(inputs[i]->get());
  }
  for (const auto& n : output_names_) out_names.push_back(n.c_str());
  std::vector<OrtValue*> out_values(output_names_.size(), nullptr);
  check(api().Run(session_, nullptr, in_names.data(), in_values.data(), in_values.size(), out_names.data(),
                  out_names.size(), out_values.data()),
        "model run failed");
  std::vector<Tensor> outputs;
  for (auto* v : out_values) outputs.emplace_back(v);
  return outputs;
}

std::string runtime_version() { return OrtGetApiBase()->GetVersionString(); }

}  // namespace livedub::onnx
