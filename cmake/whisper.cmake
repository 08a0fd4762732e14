# whisper.cpp, the STS service's GPU-tier ASR engine, built from the pinned source tree that
# scripts/fetch-whisper-source verifies and unpacks (whisper.cpp 1.9.1). Included before the
# project's warning flags are set, so whisper.cpp and ggml build with their own flags.
set(LIVEDUB_WHISPER_SOURCE_DIR "${CMAKE_SOURCE_DIR}/third_party/whisper.cpp" CACHE PATH
    "whisper.cpp source tree (scripts/fetch-whisper-source puts it here)")
set(livedub_whisper_default OFF)
if(EXISTS "${LIVEDUB_WHISPER_SOURCE_DIR}/CMakeLists.txt")
  set(livedub_whisper_default ON)
endif()
option(LIVEDUB_WITH_WHISPER "Build the whisper.cpp ASR engine into sts-service" ${livedub_whisper_default})
option(LIVEDUB_WHISPER_CUDA "Build whisper.cpp with CUDA (the GPU image)" OFF)
option(LIVEDUB_WHISPER_NATIVE "Tune ggml for this machine's CPU (turn OFF for images that run elsewhere)" ON)

if(LIVEDUB_WITH_WHISPER)
  if(NOT EXISTS "${LIVEDUB_WHISPER_SOURCE_DIR}/CMakeLists.txt")
    message(FATAL_ERROR "LIVEDUB_WITH_WHISPER is ON but ${LIVEDUB_WHISPER_SOURCE_DIR} holds no whisper.cpp "
                        "source: run scripts/fetch-whisper-source, or set LIVEDUB_WHISPER_SOURCE_DIR")
  endif()
  set(WHISPER_BUILD_TESTS OFF CACHE BOOL "" FORCE)
  set(WHISPER_BUILD_EXAMPLES OFF CACHE BOOL "" FORCE)
  set(WHISPER_BUILD_SERVER OFF CACHE BOOL "" FORCE)
  set(WHISPER_CURL OFF CACHE BOOL "" FORCE)
  set(GGML_CUDA ${LIVEDUB_WHISPER_CUDA} CACHE BOOL "" FORCE)
  set(GGML_NATIVE ${LIVEDUB_WHISPER_NATIVE} CACHE BOOL "" FORCE)
  # Static: one self-contained sts-service binary. whisper.cpp and ggml declare
  # BUILD_SHARED_LIBS with option() under old policies; CMP0077 NEW lets this value win.
  set(CMAKE_POLICY_DEFAULT_CMP0077 NEW)
  set(BUILD_SHARED_LIBS OFF)
  # The sanitizer build instruments our code only: ggml's kernels under ASan/UBSan would be
  # slow and are not ours to fix. Optimised whatever the build type.
  set(livedub_saved_cxx_asan "${CMAKE_CXX_FLAGS_ASAN}")
  set(CMAKE_C_FLAGS_ASAN "-O2 -g")
  set(CMAKE_CXX_FLAGS_ASAN "-O2 -g")
  add_subdirectory("${LIVEDUB_WHISPER_SOURCE_DIR}" "${CMAKE_BINARY_DIR}/third_party/whisper.cpp" EXCLUDE_FROM_ALL SYSTEM)
  set(CMAKE_CXX_FLAGS_ASAN "${livedub_saved_cxx_asan}")
  find_package(OpenSSL REQUIRED COMPONENTS Crypto)
  message(STATUS "livedub: whisper.cpp ASR engine ON (${LIVEDUB_WHISPER_SOURCE_DIR}, CUDA ${LIVEDUB_WHISPER_CUDA})")
else()
  message(STATUS "livedub: whisper.cpp ASR engine OFF (run scripts/fetch-whisper-source to enable)")
endif()
