# ONNX Runtime (C API) for the stream worker's Silero voice-activity detector and, later, any
# ONNX model (source separator, GPU engines). scripts/fetch-onnxruntime puts the pinned,
# verified library, headers and the Silero VAD model under third_party/onnxruntime.
# One imported target: onnxruntime::onnxruntime.
set(LIVEDUB_ONNXRUNTIME_DIR "${CMAKE_SOURCE_DIR}/third_party/onnxruntime" CACHE PATH
    "ONNX Runtime tree (scripts/fetch-onnxruntime puts it here)")
set(livedub_onnx_default OFF)
if(EXISTS "${LIVEDUB_ONNXRUNTIME_DIR}/lib/libonnxruntime.so")
  set(livedub_onnx_default ON)
endif()
option(LIVEDUB_WITH_ONNXRUNTIME "Build the ONNX Runtime engines (Silero VAD) into the worker" ${livedub_onnx_default})

if(LIVEDUB_WITH_ONNXRUNTIME)
  foreach(required include/onnxruntime_c_api.h lib/libonnxruntime.so)
    if(NOT EXISTS "${LIVEDUB_ONNXRUNTIME_DIR}/${required}")
      message(FATAL_ERROR "LIVEDUB_WITH_ONNXRUNTIME is ON but ${LIVEDUB_ONNXRUNTIME_DIR}/${required} is missing: "
                          "run scripts/fetch-onnxruntime, or set LIVEDUB_ONNXRUNTIME_DIR")
    endif()
  endforeach()
  add_library(onnxruntime::onnxruntime SHARED IMPORTED GLOBAL)
  set_target_properties(onnxruntime::onnxruntime PROPERTIES
    IMPORTED_LOCATION "${LIVEDUB_ONNXRUNTIME_DIR}/lib/libonnxruntime.so"
    IMPORTED_SONAME "libonnxruntime.so"
    INTERFACE_INCLUDE_DIRECTORIES "${LIVEDUB_ONNXRUNTIME_DIR}/include"
    INTERFACE_COMPILE_DEFINITIONS "LIVEDUB_HAVE_ONNXRUNTIME=1")
  # The model the worker loads by default (LIVEDUB_VAD_MODEL); tests and benchmarks use it too.
  set(LIVEDUB_SILERO_VAD_MODEL "${LIVEDUB_ONNXRUNTIME_DIR}/models/silero_vad.onnx")
  message(STATUS "livedub: ONNX Runtime ON (${LIVEDUB_ONNXRUNTIME_DIR})")
else()
  set(LIVEDUB_SILERO_VAD_MODEL "")
  message(STATUS "livedub: ONNX Runtime OFF (run scripts/fetch-onnxruntime to enable Silero VAD)")
endif()
