// The scripts the images run, run the way the images run them, outside Docker:
// - the MediaMTX hook, with the exact command lines of mediamtx.yml, under busybox sh (the
//   Alpine image's /bin/sh) with busybox and curl alone on PATH, in the environment MediaMTX
//   gives hooks, against the real orchestrator configured with the compose file's URL templates;
// - the sts-service start command (the image's CMD, the RunPod template's dockerStartCmd), with
//   fakes for fetch-whisper-model, sts-service and setpriv, in the environments the compose file
//   and the RunPod template give it.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "command.hpp"
#include "deploy_model.hpp"
#include "env_names.hpp"
#include "orchestrator_harness.hpp"

namespace livedub::testing {
namespace {

using nlohmann::json;
using orchestrator::testing::OrchestratorProcess;
using orchestrator::testing::process_alive;
using orchestrator::testing::TempDir;
using orchestrator::testing::wait_until;
using namespace std::chrono_literals;

const fs::path kBusybox = "/usr/bin/busybox";

using test_support::CommandResult;
using test_support::run_command;

// A directory with busybox applets (and `extra` links) and nothing else, for PATH.
fs::path busybox_bin(const fs::path& dir, const std::vector<std::string>& applets,
                     const std::map<std::string, fs::path>& extra = {}) {
  const fs::path bin = dir / "bin";
  fs::create_directories(bin);
  for (const auto& applet : applets) fs::create_symlink(kBusybox, bin / applet);
  for (const auto& [name, target] : extra) fs::create_symlink(target, bin / name);
  return bin;
}

void write_script(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
  fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
}

// ---------------------------------------------------------------------------------------------
// MediaMTX hook

TEST(MediamtxHook, MediamtxYmlCommandsStartThenStopTheStreamsWorker) {
  if (!fs::exists(kBusybox)) GTEST_SKIP() << "busybox not installed";
  TempDir dir;
  const fs::path bin = busybox_bin(dir.path(), {"sh", "tr", "sed", "tail", "sleep", "printf"}, {{"curl", "/usr/bin/curl"}});

  // The orchestrator with the container's worker URL templates (its fake worker records them).
  const auto media = media_compose();
  const auto orchestrator_env = service_environment(media, "stream-orchestration");
  std::map<std::string, std::string> templates;
  for (const char* name : {"LIVEDUB_INPUT_URL_TEMPLATE", "LIVEDUB_OUTPUT_URL_TEMPLATE"}) {
    templates[name] = with_defaults(orchestrator_env.at(name));
  }
  // As .env would set it for both services.
  const std::string orchestrator_env_pass = "worker-pass-from-dot-env-0123";
  templates["LIVEDUB_WORKER_PUBLISH_PASS"] = orchestrator_env_pass;
  OrchestratorProcess orchestrator(dir.path(), templates);

  // The environment MediaMTX gives the hook: its own (the compose service's environment, with
  // the orchestrator's address pointed at the test's), plus the hook variables.
  std::map<std::string, std::string> env;
  for (const auto& [name, value] : service_environment(media, "mediamtx")) env[name] = with_defaults(value);
  ASSERT_TRUE(env.count("LIVEDUB_ORCHESTRATOR_URL"));
  env["LIVEDUB_ORCHESTRATOR_URL"] = orchestrator.url("");
  ASSERT_TRUE(env.count("LIVEDUB_ORCHESTRATOR_TOKEN")) << "the hook needs the orchestrator's credential";
  env["LIVEDUB_ORCHESTRATOR_TOKEN"] = livedub::orchestrator::testing::kTestToken;  // the compose default is empty: .env sets it
  env["PATH"] = bin.string();
  const std::string stream_id = "Live_Test-01";
  env["MTX_PATH"] = "live/" + stream_id + "/in";
  env["MTX_QUERY"] = "";
  env["MTX_SOURCE_TYPE"] = "rtmpConn";
  env["MTX_SOURCE_ID"] = "b2f0d5d4-8b47-4d8e-a0e6-4f1c1ad2b3c7";
  env["RTSP_PORT"] = "8554";

  const YAML::Node in_path = load_mediamtx_config()["paths"]["~^live/[A-Za-z0-9_-]{1,64}/in$"];
  ASSERT_TRUE(in_path.IsMap());
  auto run_hook = [&](const std::string& key) {
    auto argv = split_words(in_path[key].Scalar());
    EXPECT_EQ(argv.at(0).rfind("/hooks/", 0), 0u) << "the image has the hooks under /hooks/";
    argv[0] = (repo_root() / "deploy/media-service/mediamtx/hooks" / argv[0].substr(7)).string();
    argv.insert(argv.begin(), (bin / "sh").string());  // its #!/bin/sh in the Alpine image
    return run_command(argv, env);
  };

  const auto ready = run_hook("runOnReady");
  ASSERT_EQ(ready.exit_code, 0) << ready.output;
  const auto worker = orchestrator.wait_for_worker_start(1);
  EXPECT_EQ(worker.fields.at("stream_id"), stream_id);
  EXPECT_EQ(worker.fields.at("input_url"), "rtsp://mediamtx:8554/live/" + stream_id + "/in");
  // With the workers' credential, the password MediaMTX's user 1 (livedub-worker) checks.
  EXPECT_EQ(worker.fields.at("output_url"),
            "rtmp://mediamtx:1935/live/" + stream_id + "/out?user=livedub-worker&pass=" +
                orchestrator_env_pass);
  EXPECT_EQ(json::parse(orchestrator.get("/v1/streams").body).size(), 1u);

  const auto not_ready = run_hook("runOnNotReady");
  ASSERT_EQ(not_ready.exit_code, 0) << not_ready.output;
  EXPECT_TRUE(wait_until([&] { return !process_alive(worker.pid); }, 5s)) << "worker still running";
  EXPECT_TRUE(wait_until([&] { return json::parse(orchestrator.get("/v1/streams").body).empty(); }, 5s));
  orchestrator.expect_clean_exit();
}

// ---------------------------------------------------------------------------------------------
// sts-service start command

class StsStartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kBusybox)) GTEST_SKIP() << "busybox not installed";
    log_ = dir_.path() / "log";
    fs::create_directories(log_);
    bin_ = busybox_bin(dir_.path(), {"sh", "id", "mkdir", "cat"});
    write_script(bin_ / "fetch-whisper-model", R"(#!/bin/sh
echo "$1 $2" >> "$FAKE_LOG/fetch"
[ -z "$FAKE_FETCH_FAIL" ] || exit 1
: > "$2/ggml-$1.bin"
)");
    for (const auto* fetcher : {"fetch-mt-model", "fetch-voice"}) {
      write_script(bin_ / fetcher, std::string(R"(#!/bin/sh
echo "$*" >> "$FAKE_LOG/)") + fetcher + R"("
[ -z "$FAKE_FETCH_FAIL" ] || exit 1
)");
    }
    write_script(bin_ / "sts-service", R"(#!/bin/sh
{
  echo "args=$*"
  echo "mode=$LIVEDUB_STS_MODE engine=$LIVEDUB_STS_ASR_ENGINE model=$LIVEDUB_STS_WHISPER_MODEL"
  echo "token=$LIVEDUB_STS_TOKEN"
} > "$FAKE_LOG/service"
)");
    // Records the privilege change, then runs the command as is.
    write_script(bin_ / "setpriv", R"(#!/bin/sh
echo "$*" > "$FAKE_LOG/setpriv"
while [ "${1#--}" != "$1" ]; do shift; done
exec "$@"
)");
  }

  static std::vector<DockerInstruction> sts_image() {
    return stage_instructions(parse_dockerfile(repo_root() / "deploy/Dockerfile"), "sts-service", {{"TARGET", "gpu"}});
  }

  // Runs the start script (its path in the image: /usr/local/bin/<name>, from the Dockerfile).
  CommandResult start(std::map<std::string, std::string> env, const std::vector<std::string>& args = {}) {
    std::string script;
    for (const auto& copy : copy_instructions(sts_image())) {
      if (copy.destination == "/usr/local/bin/" + command_) script = copy.sources.at(0);
    }
    EXPECT_FALSE(script.empty()) << command_ << " is not installed in the image";
    std::vector<std::string> argv = {(bin_ / "sh").string(), (repo_root() / script).string()};
    argv.insert(argv.end(), args.begin(), args.end());
    for (const char* name : {"LIVEDUB_STS_MODE", "LIVEDUB_STS_ASR_ENGINE", "LIVEDUB_STS_WHISPER_MODEL",
                             "LIVEDUB_STS_MODEL_DIR", "LIVEDUB_STS_TOKEN", "FAKE_FETCH_FAIL", "LIVEDUB_STS_MT_MODELS",
                             "LIVEDUB_STS_TTS_VOICES", "LIVEDUB_STS_VOICE_CLONE", "LIVEDUB_STS_CLONE_MODEL"}) {
      env.emplace(name, "");
    }
    env["PATH"] = bin_.string();
    env["FAKE_LOG"] = log_.string();
    return run_command(argv, env);
  }

  std::string logged(const std::string& name) { return fs::exists(log_ / name) ? read_text(log_ / name) : ""; }

  void expect_service_started_unprivileged(const CommandResult& result) {
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_FALSE(logged("service").empty()) << "sts-service did not run:\n" << result.output;
    if (::geteuid() == 0) {
      EXPECT_EQ(logged("setpriv").rfind("--reuid=livedub --regid=livedub --init-groups", 0), 0u) << logged("setpriv");
    } else {
      EXPECT_EQ(logged("setpriv"), "") << "no privilege change needed";
    }
  }

  // The image's ENV, then `env` (compose environment: / RunPod env), with /models and
  // /workspace moved into the test directory.
  std::map<std::string, std::string> image_env(const std::map<std::string, std::string>& env) {
    auto all = dockerfile_env(sts_image());
    for (const auto& [name, value] : env) all[name] = value;
    for (auto& [name, value] : all) {
      for (const std::string prefix : {"/models", "/workspace"}) {
        if (value.rfind(prefix, 0) == 0) value = (dir_.path() / value.substr(1)).string();
      }
    }
    return all;
  }

  TempDir dir_;
  fs::path log_, bin_;
  std::string command_ = "livedub-sts-start";
};

TEST_F(StsStartTest, FetchesTheWhisperModelThenExecsTheServiceWithItsArguments) {
  const fs::path models = dir_.path() / "models";
  const auto result = start({{"LIVEDUB_STS_MODE", "cpu"},
                             {"LIVEDUB_STS_ASR_ENGINE", "whisper"},
                             {"LIVEDUB_STS_WHISPER_MODEL", "small.en"},
                             {"LIVEDUB_STS_MODEL_DIR", models.string()}},
                            {"--port", "8001"});
  expect_service_started_unprivileged(result);
  EXPECT_EQ(logged("fetch"), "small.en " + models.string() + "\n");
  EXPECT_TRUE(fs::exists(models / "ggml-small.en.bin"));
  EXPECT_NE(logged("service").find("args=--port 8001\n"), std::string::npos) << logged("service");
}

TEST_F(StsStartTest, FailedFetchStopsTheStart) {
  const auto result = start({{"LIVEDUB_STS_MODE", "cpu"},
                             {"LIVEDUB_STS_ASR_ENGINE", "whisper"},
                             {"LIVEDUB_STS_MODEL_DIR", (dir_.path() / "models").string()},
                             {"FAKE_FETCH_FAIL", "1"}});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("no usable whisper model 'base'"), std::string::npos) << result.output;
  EXPECT_EQ(logged("service"), "");
}

TEST_F(StsStartTest, WhisperWithoutModelDirIsAnError) {
  const auto result = start({{"LIVEDUB_STS_MODE", "cpu"}, {"LIVEDUB_STS_ASR_ENGINE", "whisper"}});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("LIVEDUB_STS_MODEL_DIR"), std::string::npos) << result.output;
  EXPECT_EQ(logged("service"), "");
}

TEST_F(StsStartTest, NothingToFetchWithoutWhisperOrForAModelFile) {
  const std::string models = (dir_.path() / "models").string();
  expect_service_started_unprivileged(start({{"LIVEDUB_STS_MODE", "mock-passthrough"},
                                             {"LIVEDUB_STS_ASR_ENGINE", "whisper"},
                                             {"LIVEDUB_STS_MODEL_DIR", models}}));
  expect_service_started_unprivileged(start({{"LIVEDUB_STS_MODE", "cpu"}, {"LIVEDUB_STS_MODEL_DIR", models}}));
  expect_service_started_unprivileged(start({{"LIVEDUB_STS_MODE", "cpu"},
                                             {"LIVEDUB_STS_ASR_ENGINE", "whisper"},
                                             {"LIVEDUB_STS_WHISPER_MODEL", "/opt/models/custom.bin"}}));
  EXPECT_EQ(logged("fetch"), "");
}

TEST_F(StsStartTest, FetchesTheNamedTranslationModelsAndVoicesOnce) {
  const std::string models = (dir_.path() / "models").string();
  const auto result = start({{"LIVEDUB_STS_MODE", "cpu"},
                             {"LIVEDUB_STS_MODEL_DIR", models},
                             {"LIVEDUB_STS_MT_MODELS", "opus-mt-en-es m2m100_418M"},
                             {"LIVEDUB_STS_TTS_VOICES", "es=es_ES-davefx-medium, fr=fr_FR-siwis-medium"}});
  expect_service_started_unprivileged(result);
  EXPECT_EQ(logged("fetch-mt-model"), "--precision both opus-mt-en-es " + models + "\n--precision both m2m100_418M " + models + "\n");
  EXPECT_EQ(logged("fetch-voice"), "es_ES-davefx-medium " + models + "\nfr_FR-siwis-medium " + models + "\n");
}

TEST_F(StsStartTest, AVoiceThatCannotBeFetchedStopsTheStart) {
  const auto result = start({{"LIVEDUB_STS_MODE", "cpu"},
                             {"LIVEDUB_STS_MODEL_DIR", (dir_.path() / "models").string()},
                             {"LIVEDUB_STS_TTS_VOICES", "de=de_DE-thorsten-medium"},
                             {"FAKE_FETCH_FAIL", "1"}});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("no usable voice 'de_DE-thorsten-medium'"), std::string::npos) << result.output;
  EXPECT_EQ(logged("service"), "");
  const auto no_dir = start({{"LIVEDUB_STS_MODE", "cpu"}, {"LIVEDUB_STS_TTS_VOICES", "de=de_DE-thorsten-medium"}});
  EXPECT_EQ(no_dir.exit_code, 2);
  EXPECT_NE(no_dir.output.find("LIVEDUB_STS_TTS_VOICES"), std::string::npos) << no_dir.output;
}

TEST_F(StsStartTest, FetchesTheCloningModelOnlyWhenCloningIsOn) {
  const std::string models = (dir_.path() / "models").string();
  expect_service_started_unprivileged(start({{"LIVEDUB_STS_MODE", "cpu"}, {"LIVEDUB_STS_MODEL_DIR", models}}));
  expect_service_started_unprivileged(start({{"LIVEDUB_STS_MODE", "mock-passthrough"},
                                             {"LIVEDUB_STS_VOICE_CLONE", "true"},
                                             {"LIVEDUB_STS_MODEL_DIR", models}}));
  EXPECT_EQ(logged("fetch-voice"), "") << "off by default; the mock needs no model";
  expect_service_started_unprivileged(start({{"LIVEDUB_STS_MODE", "cpu"},
                                             {"LIVEDUB_STS_VOICE_CLONE", "TRUE"},
                                             {"LIVEDUB_STS_MODEL_DIR", models}}));
  EXPECT_EQ(logged("fetch-voice"), "pocket-tts " + models + "\n");
  const auto placed = start({{"LIVEDUB_STS_MODE", "cpu"},
                             {"LIVEDUB_STS_VOICE_CLONE", "1"},
                             {"LIVEDUB_STS_CLONE_MODEL", "my-export"},
                             {"LIVEDUB_STS_MODEL_DIR", models}});
  expect_service_started_unprivileged(placed);
  EXPECT_NE(placed.output.find("my-export (placed by hand, not downloaded)"), std::string::npos) << placed.output;
  EXPECT_EQ(logged("fetch-voice"), "pocket-tts " + models + "\n") << "a hand-placed model is not fetched";

  const auto failed = start({{"LIVEDUB_STS_MODE", "cpu"},
                             {"LIVEDUB_STS_VOICE_CLONE", "on"},
                             {"LIVEDUB_STS_MODEL_DIR", models},
                             {"FAKE_FETCH_FAIL", "1"}});
  EXPECT_EQ(failed.exit_code, 1);
  EXPECT_NE(failed.output.find("no usable voice-cloning model 'pocket-tts'"), std::string::npos) << failed.output;
  const auto no_dir = start({{"LIVEDUB_STS_MODE", "cpu"}, {"LIVEDUB_STS_VOICE_CLONE", "true"}});
  EXPECT_EQ(no_dir.exit_code, 2);
  EXPECT_NE(no_dir.output.find("LIVEDUB_STS_VOICE_CLONE"), std::string::npos) << no_dir.output;
}

// The local GPU stack: the image's defaults plus the compose service's environment.
TEST_F(StsStartTest, ComposeGpuServiceFetchesIntoTheModelsVolume) {
  std::map<std::string, std::string> env;
  for (const auto& [name, value] : service_environment(sts_compose(), "sts-service")) env[name] = with_defaults(value);
  const auto result = start(image_env(env));
  expect_service_started_unprivileged(result);
  EXPECT_EQ(logged("fetch"), "base " + (dir_.path() / "models").string() + "\n");
  EXPECT_NE(logged("service").find("mode=cpu engine=whisper model=base"), std::string::npos) << logged("service");
}

// The CPU fallback and the media stack's local STS (pocketsphinx or a mock) need no model.
TEST_F(StsStartTest, ComposeCpuServiceAndMockFetchNothing) {
  for (const auto& [file, service] : std::vector<std::pair<ComposeFile, std::string>>{
           {sts_compose(), "sts-service-cpu"}, {media_compose(), "sts-service"}}) {
    std::map<std::string, std::string> env;
    for (const auto& [name, value] : service_environment(file, service)) env[name] = with_defaults(value);
    expect_service_started_unprivileged(start(image_env(env)));
  }
  EXPECT_EQ(logged("fetch"), "");
}

// RunPod: the template's start command and environment (volume at volumeMountPath).
TEST_F(StsStartTest, RunPodTemplateFetchesOntoTheVolumeThenServes) {
  const json t = json::parse(read_text(repo_root() / "deploy/sts-service/runpod-template.json"));
  ASSERT_EQ(t.at("dockerStartCmd").size(), 1u);
  command_ = t.at("dockerStartCmd")[0].get<std::string>();
  std::map<std::string, std::string> env;
  for (const auto& [name, value] : t.at("env").items()) env[name] = value.get<std::string>();
  const auto result = start(image_env(env));
  expect_service_started_unprivileged(result);
  const std::string model = t.at("env").at("LIVEDUB_STS_WHISPER_MODEL").get<std::string>();
  EXPECT_EQ(logged("fetch"), model + " " + (dir_.path() / "workspace/models").string() + "\n");
  EXPECT_TRUE(fs::exists(dir_.path() / "workspace/models" / ("ggml-" + model + ".bin")));
  EXPECT_NE(logged("service").find("token={{ RUNPOD_SECRET_livedub_sts_token }}"), std::string::npos)
      << "RunPod substitutes the secret; the service receives it as LIVEDUB_STS_TOKEN";
}

}  // namespace
}  // namespace livedub::testing
