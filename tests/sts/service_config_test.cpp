#include "sts/service_config.hpp"
#include "sts/whisper_asr.hpp"

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace livedub::sts {
namespace {

using ::testing::HasSubstr;

EnvConfig env_with(std::map<std::string, std::string> vars) {
  return EnvConfig(env_from_map(std::move(vars)));
}

std::string invalid_variable(std::map<std::string, std::string> vars) {
  try {
    load_service_config(env_with(std::move(vars)));
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr(e.variable()));
    return e.variable();
  }
  return "<accepted>";
}

TEST(ServiceConfig, Defaults) {
  auto config = load_service_config(env_with({}));
  EXPECT_EQ(config.host, "127.0.0.1");
  EXPECT_EQ(config.port, 8000);
  EXPECT_EQ(config.mode, "mock-passthrough");
  EXPECT_EQ(config.mock_delay.count(), 0);
  EXPECT_DOUBLE_EQ(config.mock_tone_hz, 440.0);
  EXPECT_EQ(config.max_body_bytes, 16u * 1024 * 1024);
  EXPECT_FALSE(config.port_file.has_value());
}

TEST(ServiceConfig, ReadsEveryVariable) {
  auto config = load_service_config(env_with({{"LIVEDUB_STS_HOST", "0.0.0.0"},
                                              {"LIVEDUB_STS_PORT", "0"},
                                              {"LIVEDUB_STS_MODE", "mock-tone"},
                                              {"LIVEDUB_STS_MOCK_DELAY_MS", "300"},
                                              {"LIVEDUB_STS_MOCK_TONE_HZ", "880.5"},
                                              {"LIVEDUB_STS_MAX_BODY_BYTES", "4096"},
                                              {"LIVEDUB_STS_PORT_FILE", "/tmp/port"},
                                              {"LIVEDUB_STS_TOKEN", "t0ken"},
                                              {"LIVEDUB_STS_DRAIN_MS", "2500"}}));
  EXPECT_EQ(config.host, "0.0.0.0");
  EXPECT_EQ(config.token, "t0ken");
  EXPECT_EQ(config.drain.count(), 2500);
  EXPECT_EQ(config.port, 0);
  EXPECT_EQ(config.mode, "mock-tone");
  EXPECT_EQ(config.mock_delay.count(), 300);
  EXPECT_DOUBLE_EQ(config.mock_tone_hz, 880.5);
  EXPECT_EQ(config.max_body_bytes, 4096u);
  EXPECT_EQ(config.port_file, "/tmp/port");
}

TEST(ServiceConfig, AnAddressOthersReachNeedsATokenUnlessAllowedExplicitly) {
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_HOST", "0.0.0.0"}}), "LIVEDUB_STS_TOKEN");
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_HOST", "10.0.0.5"}}), "LIVEDUB_STS_TOKEN");
  EXPECT_NO_THROW(load_service_config(env_with({{"LIVEDUB_STS_HOST", "127.0.0.1"}})));
  EXPECT_NO_THROW(load_service_config(env_with({{"LIVEDUB_STS_HOST", "::1"}})));
  EXPECT_NO_THROW(load_service_config(
      env_with({{"LIVEDUB_STS_HOST", "0.0.0.0"}, {"LIVEDUB_STS_ALLOW_UNAUTHENTICATED", "true"}})));
}

TEST(ServiceConfig, InvalidValuesNameTheVariable) {
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_PORT", "65536"}}), "LIVEDUB_STS_PORT");
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_PORT", "http"}}), "LIVEDUB_STS_PORT");
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_MODE", "cpu-fast"}}), "LIVEDUB_STS_MODE");
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_MOCK_DELAY_MS", "-1"}}), "LIVEDUB_STS_MOCK_DELAY_MS");
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_MOCK_TONE_HZ", "0"}}), "LIVEDUB_STS_MOCK_TONE_HZ");
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_MOCK_TONE_HZ", "loud"}}), "LIVEDUB_STS_MOCK_TONE_HZ");
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_MAX_BODY_BYTES", "100"}}), "LIVEDUB_STS_MAX_BODY_BYTES");
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_WORKERS", "0"}}), "LIVEDUB_STS_WORKERS");
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_QUEUE_SIZE", "-1"}}), "LIVEDUB_STS_QUEUE_SIZE");
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_DEADLINE_MS", "10"}}), "LIVEDUB_STS_DEADLINE_MS");
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_TOKEN", "two words"}}), "LIVEDUB_STS_TOKEN");
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_DRAIN_MS", "-1"}}), "LIVEDUB_STS_DRAIN_MS");
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_STRETCH_MIN_RATIO", "1.5"}}), "LIVEDUB_STS_STRETCH_MIN_RATIO");
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_STRETCH_MAX_RATIO", "0.9"}}), "LIVEDUB_STS_STRETCH_MAX_RATIO");
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_SESSION_TTL_S", "0"}}), "LIVEDUB_STS_SESSION_TTL_S");
}

TEST(ServiceConfig, EngineSettingsAndModeDependentDefaults) {
  auto cpu = load_service_config(EnvConfig(env_from_map({{"LIVEDUB_STS_MODE", "cpu"}})));
  EXPECT_EQ(cpu.workers, 2);
  EXPECT_FALSE(cpu.token.has_value());
  EXPECT_EQ(cpu.asr_model_dir, "/usr/share/pocketsphinx/model/en-us");
  auto mock = load_service_config(EnvConfig(env_from_map({})));
  EXPECT_EQ(mock.workers, 16);  // mocks only sleep: many may wait at once
  auto custom = load_service_config(EnvConfig(env_from_map({{"LIVEDUB_STS_WORKERS", "3"},
                                                            {"LIVEDUB_STS_QUEUE_SIZE", "0"},
                                                            {"LIVEDUB_STS_DEADLINE_MS", "2500"},
                                                            {"LIVEDUB_STS_TOKEN", "s3cret"},
                                                            {"LIVEDUB_STS_STRETCH_MIN_RATIO", "0.8"},
                                                            {"LIVEDUB_STS_STRETCH_MAX_RATIO", "1.5"},
                                                            {"LIVEDUB_STS_SESSION_TTL_S", "30"}})));
  EXPECT_EQ(custom.workers, 3);
  EXPECT_EQ(custom.queue_size, 0u);
  EXPECT_EQ(custom.deadline, std::chrono::milliseconds(2500));
  EXPECT_EQ(custom.token, "s3cret");
  EXPECT_DOUBLE_EQ(custom.time_fit.min_ratio, 0.8);
  EXPECT_DOUBLE_EQ(custom.time_fit.max_ratio, 1.5);
  EXPECT_EQ(custom.session_ttl, std::chrono::seconds(30));
  // An empty token means "no token", as an unset variable does.
  EXPECT_FALSE(load_service_config(EnvConfig(env_from_map({{"LIVEDUB_STS_TOKEN", ""}}))).token.has_value());
}

TEST(ServiceConfig, WhisperSettings) {
  const auto defaults = load_service_config(env_with({{"LIVEDUB_STS_MODE", "cpu"}}));
  EXPECT_EQ(defaults.asr_engine, "pocketsphinx");
  EXPECT_EQ(defaults.whisper_model, "base");
  EXPECT_EQ(defaults.whisper_device, "auto");
  EXPECT_EQ(defaults.whisper_threads, 4);
  EXPECT_FALSE(defaults.whisper_fit_context);
  EXPECT_TRUE(load_service_config(env_with({{"LIVEDUB_STS_WHISPER_FIT_CONTEXT", "1"}})).whisper_fit_context);
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_WHISPER_FIT_CONTEXT", "maybe"}}), "LIVEDUB_STS_WHISPER_FIT_CONTEXT");
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_ASR_ENGINE", "vosk"}}), "LIVEDUB_STS_ASR_ENGINE");
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_WHISPER_DEVICE", "tpu"}}), "LIVEDUB_STS_WHISPER_DEVICE");
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_WHISPER_THREADS", "0"}}), "LIVEDUB_STS_WHISPER_THREADS");
  if (!whisper_available()) {
    EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_MODE", "cpu"}, {"LIVEDUB_STS_ASR_ENGINE", "whisper"}}),
              "LIVEDUB_STS_ASR_ENGINE");
    return;
  }
  // A model name needs the directory it lives in; a path does not.
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_MODE", "cpu"}, {"LIVEDUB_STS_ASR_ENGINE", "whisper"}}),
            "LIVEDUB_STS_MODEL_DIR");
  // Empty means the default, as for every variable.
  EXPECT_EQ(whisper_model_path(load_service_config(env_with({{"LIVEDUB_STS_MODE", "cpu"},
                                                              {"LIVEDUB_STS_ASR_ENGINE", "whisper"},
                                                              {"LIVEDUB_STS_MODEL_DIR", "/models"},
                                                              {"LIVEDUB_STS_WHISPER_MODEL", ""}}))),
            "/models/ggml-base.bin");
  const auto named = load_service_config(env_with({{"LIVEDUB_STS_MODE", "cpu"},
                                                   {"LIVEDUB_STS_ASR_ENGINE", "whisper"},
                                                   {"LIVEDUB_STS_MODEL_DIR", "/models"},
                                                   {"LIVEDUB_STS_WHISPER_MODEL", "large-v3-turbo"},
                                                   {"LIVEDUB_STS_WHISPER_DEVICE", "gpu"},
                                                   {"LIVEDUB_STS_WHISPER_THREADS", "8"}}));
  EXPECT_EQ(whisper_model_path(named), "/models/ggml-large-v3-turbo.bin");
  EXPECT_EQ(named.whisper_device, "gpu");
  EXPECT_EQ(named.whisper_threads, 8);
  const auto path = load_service_config(env_with({{"LIVEDUB_STS_MODE", "cpu"},
                                                  {"LIVEDUB_STS_ASR_ENGINE", "whisper"},
                                                  {"LIVEDUB_STS_WHISPER_MODEL", "/data/custom.bin"}}));
  EXPECT_EQ(whisper_model_path(path), "/data/custom.bin");
}

TEST(ServiceConfig, VoiceAndGlossarySettings) {
  auto defaults = load_service_config(env_with({}));
  EXPECT_EQ(defaults.tts_engine, "auto");
  EXPECT_EQ(defaults.pico_lang_dir, "/usr/share/pico/lang");
  EXPECT_EQ(defaults.glossary, nullptr);
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_TTS_ENGINE", "festival"}}), "LIVEDUB_STS_TTS_ENGINE");
  // Pico only, but no voices where it looks: refused at start (cpu mode only).
  const auto empty = std::filesystem::temp_directory_path() / "livedub-config-no-pico";
  std::filesystem::create_directories(empty);
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_MODE", "cpu"}, {"LIVEDUB_STS_TTS_ENGINE", "pico"},
                              {"LIVEDUB_STS_PICO_LANG_DIR", empty.string()}}),
            "LIVEDUB_STS_PICO_LANG_DIR");
  std::filesystem::remove_all(empty);

  const auto file = std::filesystem::temp_directory_path() / "livedub-config-glossary.txt";
  std::ofstream(file) << "OBS Studio\nen-es: stream = directo\n";
  auto config = load_service_config(env_with({{"LIVEDUB_STS_GLOSSARY", file.string()}}));
  ASSERT_NE(config.glossary, nullptr);
  EXPECT_EQ(config.glossary->entries().size(), 2u);
  std::ofstream(file) << "OBS Studio\nstream = directo\n";
  try {
    load_service_config(env_with({{"LIVEDUB_STS_GLOSSARY", file.string()}}));
    FAIL() << "a bad glossary was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.variable(), "LIVEDUB_STS_GLOSSARY");
    EXPECT_THAT(e.what(), HasSubstr(file.string() + ":2: a forced translation needs its language pair"));
  }
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_GLOSSARY", "/nonexistent/glossary.txt"}}), "LIVEDUB_STS_GLOSSARY");
  std::filesystem::remove(file);
}

TEST(ServiceConfig, MakeEngineFollowsTheMode) {
  ServiceConfig config;
  config.mode = kModeMockPassthrough;
  EXPECT_EQ(make_engine(config)->name(), "mock-passthrough");
  config.mode = kModeMockTone;
  EXPECT_EQ(make_engine(config)->name(), "mock-tone");
  config.mode = "whisper-on-a-toaster";
  try {
    make_engine(config);
    FAIL() << "unknown mode accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.variable(), "LIVEDUB_STS_MODE");
  }
}

TEST(ServiceConfig, EveryKnownModeHasAnEngine) {
  for (const auto& mode : known_modes()) {
    ServiceConfig config;
    config.mode = mode;
    EXPECT_NO_THROW(make_engine(config)) << mode;
  }
}

}  // namespace
}  // namespace livedub::sts
