// The Docker deployment files (deploy/, .dockerignore, .env.example) checked without a Docker
// engine: they parse, every path they name exists and reaches its build context, images are
// pinned, ports / service names / URLs agree across compose, MediaMTX, the Dockerfiles and the
// orchestrator's configuration, and every variable they set or interpolate is documented and
// read by something.
#include <gtest/gtest.h>
#include <regex.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <tuple>
#include <nlohmann/json.hpp>

#include "deploy_model.hpp"
#include "env_names.hpp"

namespace livedub::testing {
namespace {

// MediaMTX's path entry for the dubbed outputs: live/<id>/out (first language) and
// live/<id>/out-<lang> (each further one).
constexpr const char* kOutPathPattern = "~^live/[A-Za-z0-9_-]{1,64}/out(-[a-z]{2,3}(-[a-z0-9]{1,8})?)?$";

using nlohmann::json;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string rel(const fs::path& path) { return fs::relative(path, repo_root()).string(); }

YAML::Node services_of(const ComposeFile& file) { return file.root["services"]; }

bool has_service(const ComposeFile& file, const std::string& name) {
  return services_of(file) && services_of(file)[name].IsDefined();
}

// Compose resolves a service's build: context relative to the file, dockerfile relative to the
// context.
struct BuildRef {
  std::string service;
  fs::path context;
  fs::path dockerfile;
};

std::vector<BuildRef> builds(const ComposeFile& file) {
  std::vector<BuildRef> refs;
  if (!services_of(file)) return refs;
  for (const auto& entry : services_of(file)) {
    const YAML::Node build = entry.second["build"];
    if (!build) continue;
    BuildRef ref;
    ref.service = entry.first.Scalar();
    const std::string context = build.IsScalar() ? build.Scalar() : build["context"] ? build["context"].Scalar() : ".";
    ref.context = fs::weakly_canonical(file.dir / with_defaults(context));
    const std::string dockerfile = build.IsMap() && build["dockerfile"] ? build["dockerfile"].Scalar() : "Dockerfile";
    ref.dockerfile = ref.context / with_defaults(dockerfile);
    refs.push_back(ref);
  }
  return refs;
}

std::vector<BuildRef> all_builds() {
  std::vector<BuildRef> refs;
  for (const auto& file : all_compose_files()) {
    for (auto& ref : builds(file)) refs.push_back(ref);
  }
  return refs;
}

std::vector<fs::path> dockerfiles_under_deploy() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(repo_root() / "deploy")) {
    if (entry.is_regular_file() && entry.path().filename() == "Dockerfile") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<DockerInstruction> instructions_of(const std::string& relative) {
  return parse_dockerfile(repo_root() / relative);
}

// One image of deploy/Dockerfile: the stage's instructions with its ancestors'.
std::vector<DockerInstruction> image_of(const std::string& target, const std::map<std::string, std::string>& args = {}) {
  return stage_instructions(instructions_of("deploy/Dockerfile"), target, args);
}

std::string instruction_args(const std::vector<DockerInstruction>& instructions, const std::string& keyword) {
  std::string all;
  for (const auto& instruction : instructions) {
    if (instruction.keyword == keyword) all += instruction.args + "\n";
  }
  return all;
}

json runpod_template() {
  return json::parse(read_text(repo_root() / "deploy/sts-service/runpod-template.json"));
}

// ---------------------------------------------------------------------------------------------

TEST(ComposeFiles, ParseAndDefineTheServices) {
  const auto media = media_compose();
  for (const char* name : {"mediamtx", "stream-orchestration", "sts-service"}) {
    EXPECT_TRUE(has_service(media, name)) << name << " missing from " << rel(media.path);
  }
  EXPECT_TRUE(has_service(nginx_rtmp_compose(), "nginx-rtmp"));
  const auto sts = sts_compose();
  for (const char* name : {"sts-service", "sts-service-cpu"}) {
    EXPECT_TRUE(has_service(sts, name)) << name << " missing from " << rel(sts.path);
  }
  const auto local = local_compose();
  ASSERT_TRUE(local.root["include"].IsSequence()) << rel(local.path) << " has no include: list";
  EXPECT_FALSE(local.root["services"]) << rel(local.path) << " must only include (conflicts are errors)";
}

TEST(ComposeFiles, EveryReferencedPathExists) {
  for (const auto& file : all_compose_files()) {
    SCOPED_TRACE(rel(file.path));
    for (const auto& item : file.root["include"]) {
      std::vector<std::string> paths;
      if (item.IsScalar()) paths.push_back(item.Scalar());
      if (item.IsMap() && item["path"].IsScalar()) paths.push_back(item["path"].Scalar());
      if (item.IsMap() && item["path"].IsSequence()) {
        for (const auto& p : item["path"]) paths.push_back(p.Scalar());
      }
      if (item.IsMap() && item["env_file"]) paths.push_back(item["env_file"].Scalar());
      ASSERT_FALSE(paths.empty());
      for (const auto& p : paths) EXPECT_TRUE(fs::is_regular_file(file.dir / with_defaults(p))) << "include " << p;
    }
    if (!services_of(file)) continue;
    for (const auto& ref : builds(file)) {
      EXPECT_TRUE(fs::is_directory(ref.context)) << ref.service << ": build context " << ref.context;
      EXPECT_TRUE(fs::is_regular_file(ref.dockerfile)) << ref.service << ": dockerfile " << ref.dockerfile;
    }
    for (const auto& entry : services_of(file)) {
      const std::string service = entry.first.Scalar();
      for (const auto& path : service_env_files(file, service)) {
        EXPECT_TRUE(fs::is_regular_file(path)) << service << ": env_file " << path;
      }
      if (entry.second["extends"] && entry.second["extends"]["file"]) {
        EXPECT_TRUE(fs::is_regular_file(file.dir / entry.second["extends"]["file"].Scalar())) << service;
      }
      for (const auto& volume : entry.second["volumes"]) {
        std::string source;
        if (volume.IsMap()) {
          source = volume["source"] ? volume["source"].Scalar() : "";
          if (volume["type"] && volume["type"].Scalar() != "bind") {
            EXPECT_TRUE(file.root["volumes"][source]) << service << ": undeclared volume " << source;
            continue;
          }
        } else {
          const std::string spec = with_defaults(volume.Scalar());
          source = spec.substr(0, spec.find(':'));
        }
        if (source.empty()) continue;  // anonymous volume
        if (source[0] == '.' || source[0] == '/' || source[0] == '~') {
          EXPECT_TRUE(fs::exists(file.dir / source)) << service << ": bind source " << source;
        } else {
          EXPECT_TRUE(file.root["volumes"][source]) << service << ": volume " << source << " not declared";
        }
      }
    }
  }
}

// deploy/docker-compose.yml = the media-service file with its local STS enabled: the services it
// ends up with, computed the way Compose merges an include's path list (!reset clears).
TEST(LocalBaseline, IncludesTheMediaStackWithTheLocalStsEnabled) {
  const auto local = local_compose();
  const auto media = media_compose();
  // Production (the media-service file alone): MediaMTX and the orchestrator always, the local
  // STS only with --profile local.
  EXPECT_FALSE(services_of(media)["mediamtx"]["profiles"]);
  EXPECT_FALSE(services_of(media)["stream-orchestration"]["profiles"]);
  const YAML::Node mock_profiles = services_of(media)["sts-service"]["profiles"];
  ASSERT_TRUE(mock_profiles.IsSequence());
  EXPECT_EQ(mock_profiles.size(), 1u);
  EXPECT_EQ(mock_profiles[0].Scalar(), "local");

  std::map<std::string, YAML::Node> merged;
  bool includes_media = false;
  for (const auto& item : local.root["include"]) {
    ASSERT_TRUE(item.IsMap() && item["path"].IsSequence()) << "expected include: - path: [base, override]";
    const fs::path base = fs::weakly_canonical(local.dir / item["path"][0].Scalar());
    includes_media = includes_media || base == fs::weakly_canonical(media.path);
    for (const auto& entry : YAML::LoadFile(base.string())["services"]) {
      merged[entry.first.Scalar()] = YAML::Clone(entry.second);
    }
    for (std::size_t i = 1; i < item["path"].size(); ++i) {
      const auto override_file = YAML::LoadFile((local.dir / item["path"][i].Scalar()).string());
      for (const auto& entry : override_file["services"]) {
        const std::string service = entry.first.Scalar();
        ASSERT_TRUE(merged.count(service)) << "override of unknown service " << service;
        for (const auto& attribute : entry.second) {
          const std::string key = attribute.first.Scalar();
          if (attribute.second.Tag() == "!reset") {
            merged[service].remove(key);
          } else {
            merged[service][key] = attribute.second;  // scalars/maps: enough for this check
          }
        }
      }
    }
  }
  EXPECT_TRUE(includes_media) << "deploy/docker-compose.yml must include deploy/media-service/docker-compose.yml";
  for (const char* name : {"mediamtx", "stream-orchestration", "sts-service"}) {
    ASSERT_TRUE(merged.count(name)) << name << " is not part of the local baseline";
    EXPECT_FALSE(merged[name]["profiles"]) << name << " would need --profile in the local baseline";
  }
}

// Every base is another stage or a pinned image: a release (X.Y...) or, for Debian, a release
// codename (the packages come from that release's archive at build time either way); never
// latest, stable or testing, which move to the next release.
TEST(Dockerfiles, EveryBaseImageIsPinned) {
  const auto files = dockerfiles_under_deploy();
  ASSERT_GE(files.size(), 2u);
  for (const auto& path : files) {
    SCOPED_TRACE(rel(path));
    const auto instructions = parse_dockerfile(path);
    const auto names = stage_names(instructions);
    const std::set<std::string> stages(names.begin(), names.end());
    std::map<std::string, std::string> global_args;
    bool seen_from = false;
    for (const auto& instruction : instructions) {
      if (instruction.keyword == "ARG" && !seen_from) {
        const auto words = split_words(instruction.args);
        const auto eq = words.at(0).find('=');
        global_args[words[0].substr(0, eq)] = eq == std::string::npos ? "" : words[0].substr(eq + 1);
      }
      if (instruction.keyword != "FROM") continue;
      seen_from = true;
      auto words = split_words(instruction.args);
      words.erase(std::remove_if(words.begin(), words.end(), [](const std::string& w) { return w.rfind("--", 0) == 0; }),
                  words.end());
      ASSERT_FALSE(words.empty()) << "line " << instruction.line;
      std::string image = words[0];
      for (const auto& item : interpolations(image)) {
        ASSERT_TRUE(global_args.count(item.name)) << "line " << instruction.line << ": " << item.name;
        image.replace(image.find(item.text), item.text.size(), global_args[item.name]);
      }
      if (stages.count(image)) continue;
      const auto slash = image.rfind('/');
      const auto colon = image.find(':', slash == std::string::npos ? 0 : slash);
      ASSERT_NE(colon, std::string::npos) << "line " << instruction.line << ": " << image << " has no tag";
      const std::string tag = image.substr(colon + 1);
      bool versioned = false;
      for (std::size_t i = 1; i + 1 < tag.size(); ++i) {
        versioned = versioned || (tag[i] == '.' && std::isdigit(static_cast<unsigned char>(tag[i - 1])) &&
                                  std::isdigit(static_cast<unsigned char>(tag[i + 1])));
      }
      const std::string release = tag.substr(0, tag.find('-'));
      const bool debian_release = image.rfind("debian:", 0) == 0 && (release == "bookworm" || release == "trixie");
      EXPECT_TRUE(versioned || debian_release) << "line " << instruction.line << ": " << image
                                               << ": pin a release (X.Y..., or a Debian codename), not a moving tag";
    }
  }
}

TEST(Dockerfiles, EveryOneIsBuiltByACompose) {
  std::set<fs::path> built;
  for (const auto& ref : all_builds()) built.insert(fs::weakly_canonical(ref.dockerfile));
  for (const auto& path : dockerfiles_under_deploy()) {
    EXPECT_TRUE(built.count(fs::weakly_canonical(path))) << rel(path) << " is not built by any compose service";
  }
}

// What each build takes from its context (COPY sources, RUN --mount=type=bind sources) is
// there and not excluded by .dockerignore; app stages copy their own sources, never the whole
// context (a change to one app must not invalidate another image's build).
TEST(Dockerfiles, EveryCopySourceIsInTheBuildContextAndNotIgnored) {
  const auto refs = all_builds();
  ASSERT_GE(refs.size(), 6u);
  for (const auto& ref : refs) {
    SCOPED_TRACE(ref.service + " (" + rel(ref.dockerfile) + ")");
    const auto ignore = DockerIgnore::load(ref.context);
    const auto instructions = parse_dockerfile(ref.dockerfile);
    std::vector<std::string> needed;
    for (const auto& copy : copy_instructions(instructions)) {
      if (copy.flags.count("from")) continue;
      for (const auto& source : copy.sources) {
        ASSERT_EQ(source.find_first_of("*?$"), std::string::npos) << "line " << copy.line << ": " << source;
        EXPECT_NE(source, ".") << "line " << copy.line << ": copy what the stage builds, not the whole context";
        needed.push_back(source);
      }
    }
    for (const auto& instruction : instructions) {
      if (instruction.keyword != "RUN") continue;
      for (const auto& word : split_words(instruction.args)) {
        if (word.rfind("--mount=type=bind,", 0) != 0) continue;
        const auto at = word.find("source=");
        if (at != std::string::npos) needed.push_back(word.substr(at + 7, word.find(',', at) - at - 7));
      }
    }
    ASSERT_FALSE(needed.empty());
    for (const auto& item : needed) {
      const fs::path path = ref.context / item;
      EXPECT_TRUE(fs::exists(path)) << item << " is not in the build context " << ref.context;
      EXPECT_FALSE(ignore.excluded(item)) << item << " is excluded by .dockerignore";
      if (fs::is_directory(path)) {
        for (const auto& entry : fs::recursive_directory_iterator(path)) {
          if (!entry.is_regular_file()) continue;
          const std::string file = fs::relative(entry.path(), ref.context).generic_string();
          EXPECT_FALSE(ignore.excluded(file)) << file << " (needed by the build) is excluded by .dockerignore";
        }
      }
    }
  }
}

// Each app stage configures only its apps (LIVEDUB_APPS) and copies exactly their sources.
TEST(Dockerfiles, EachAppStageCopiesTheAppsItBuilds) {
  const auto instructions = instructions_of("deploy/Dockerfile");
  std::size_t app_stages = 0;
  for (const auto& stage : stage_names(instructions)) {
    std::vector<DockerInstruction> own;
    bool in_stage = false;
    for (const auto& instruction : instructions) {
      if (instruction.keyword == "FROM") {
        const auto words = split_words(instruction.args);
        in_stage = words.size() >= 3 && words[2] == stage;
        continue;
      }
      if (in_stage) own.push_back(instruction);
    }
    const std::string runs = instruction_args(own, "RUN");
    const auto at = runs.find("LIVEDUB_APPS=");
    if (at == std::string::npos) continue;
    std::string list = runs.substr(at + 13, runs.find_first_of(" \"\n", at + 13) - at - 13);
    std::set<std::string> apps;
    for (std::size_t start = 0; start < list.size();) {
      const auto end = list.find(';', start);
      const auto app = list.substr(start, end == std::string::npos ? std::string::npos : end - start);
      if (!app.empty()) apps.insert(app);
      if (end == std::string::npos) break;
      start = end + 1;
    }
    std::set<std::string> copied;
    for (const auto& copy : copy_instructions(own)) {
      for (const auto& source : copy.sources) {
        if (source.rfind("apps/", 0) == 0) copied.insert(source.substr(5));
      }
    }
    EXPECT_EQ(copied, apps) << "stage " << stage;
    if (!apps.empty()) ++app_stages;
  }
  EXPECT_EQ(app_stages, 4u) << "build-worker, build-orchestrator, build-rtmp-front, build-sts";
}

TEST(DockerIgnore, MatcherFollowsDockerSemantics) {
  const DockerIgnore ignore({"# comment", "build", "build-*", "**/*.log", "docs/*.md", "!docs/keep.md", ".env",
                             ".env.*", "!.env.example", "third_party/whisper.cpp/"});
  EXPECT_TRUE(ignore.excluded("build"));
  EXPECT_TRUE(ignore.excluded("build/apps/x.o"));
  EXPECT_TRUE(ignore.excluded("build-asan/CMakeCache.txt"));
  EXPECT_FALSE(ignore.excluded("apps/build.cpp"));
  EXPECT_FALSE(ignore.excluded("apps/build/x"));  // not anchored below the root
  EXPECT_TRUE(ignore.excluded("a.log"));
  EXPECT_TRUE(ignore.excluded("a/b/c.log"));
  EXPECT_TRUE(ignore.excluded("docs/x.md"));
  EXPECT_FALSE(ignore.excluded("docs/keep.md"));
  EXPECT_FALSE(ignore.excluded("docs/sub/x.md"));
  EXPECT_TRUE(ignore.excluded(".env"));
  EXPECT_TRUE(ignore.excluded(".env.local"));
  EXPECT_FALSE(ignore.excluded(".env.example"));
  EXPECT_TRUE(ignore.excluded("third_party/whisper.cpp/CMakeLists.txt"));
  EXPECT_FALSE(ignore.excluded("third_party/other"));
}

// The repository's .dockerignore keeps local state and secrets out of the root context.
TEST(DockerIgnore, RootContextLeavesOutBuildTreesAndSecrets) {
  const auto ignore = DockerIgnore::load(repo_root());
  for (const char* path : {".git/config", "build/CMakeCache.txt", "build-asan/x", "build-deploy/x", ".env",
                           ".livedub-run/demo/out.flv", "third_party/whisper.cpp/CMakeLists.txt", "models/ggml-base.bin"}) {
    EXPECT_TRUE(ignore.excluded(path)) << path;
  }
  for (const char* path : {"CMakeLists.txt", "apps/sts-service/CMakeLists.txt", "scripts/fetch-whisper-source",
                           "deploy/common/debian-runtime-packages", ".env.example"}) {
    EXPECT_FALSE(ignore.excluded(path)) << path;
  }
}

TEST(Ports, MediamtxListenersArePublishedAndExposed) {
  const auto config = load_mediamtx_config();
  ASSERT_TRUE(config["api"].as<bool>()) << "api: yes";
  ASSERT_TRUE(config["metrics"].as<bool>()) << "metrics: yes";
  ASSERT_TRUE(config["rtmp"].as<bool>());
  ASSERT_TRUE(config["rtsp"].as<bool>());
  const std::map<std::string, int> expected = {
      {"rtmpAddress", 1935}, {"rtspAddress", 8554}, {"apiAddress", 9997}, {"metricsAddress", 9998}};
  std::set<int> listeners;
  for (const auto& [key, port] : expected) {
    EXPECT_EQ(listener_port(config[key].Scalar()), port) << key;
    listeners.insert(listener_port(config[key].Scalar()));
  }
  for (const char* disabled : {"hls", "webrtc", "srt"}) EXPECT_FALSE(config[disabled].as<bool>()) << disabled;

  const auto media = media_compose();
  const auto published = published_container_ports(services_of(media)["mediamtx"]);
  EXPECT_EQ(std::set<int>(published.begin(), published.end()), listeners);
  EXPECT_EQ(dockerfile_exposed_ports(instructions_of("deploy/media-service/mediamtx/Dockerfile")), listeners);
}

TEST(Ports, OrchestratorAndStsPortsAgree) {
  const auto media = media_compose();
  const auto orchestrator_env = service_environment(media, "stream-orchestration");
  ASSERT_TRUE(orchestrator_env.count("LIVEDUB_ORCHESTRATOR_PORT"));
  const int orchestrator_port = std::stoi(with_defaults(orchestrator_env.at("LIVEDUB_ORCHESTRATOR_PORT")));
  EXPECT_EQ(orchestrator_port, 8090);
  EXPECT_EQ(with_defaults(orchestrator_env.at("LIVEDUB_ORCHESTRATOR_HOST")), "0.0.0.0");
  EXPECT_EQ(published_container_ports(services_of(media)["stream-orchestration"]), std::vector<int>{orchestrator_port});
  const auto media_image = image_of("media-service");
  EXPECT_EQ(dockerfile_exposed_ports(media_image), std::set<int>{orchestrator_port});
  EXPECT_EQ(dockerfile_env(media_image).at("LIVEDUB_ORCHESTRATOR_PORT"), std::to_string(orchestrator_port));
  EXPECT_TRUE(contains(instruction_args(media_image, "HEALTHCHECK"), "LIVEDUB_ORCHESTRATOR_PORT:-8090}/healthz"));

  for (const char* target : {"cpu", "gpu"}) {
    SCOPED_TRACE(target);
    const auto sts_image = image_of("sts-service", {{"TARGET", target}});
    const auto sts_env = dockerfile_env(sts_image);
    EXPECT_EQ(sts_env.at("LIVEDUB_STS_PORT"), "8000");
    EXPECT_EQ(sts_env.at("LIVEDUB_STS_HOST"), "0.0.0.0");
    EXPECT_EQ(dockerfile_exposed_ports(sts_image), std::set<int>{8000});
    EXPECT_TRUE(contains(instruction_args(sts_image, "HEALTHCHECK"), "LIVEDUB_STS_PORT:-8000}/readyz"));
  }
  const auto sts = sts_compose();
  for (const char* service : {"sts-service", "sts-service-cpu"}) {
    EXPECT_EQ(published_container_ports(services_of(sts)[service]), std::vector<int>{8000}) << service;
    EXPECT_FALSE(service_environment(sts, service).count("LIVEDUB_STS_PORT")) << service << ": keep the image's 8000";
  }
  // The media stack's local STS: the image's 8000 on the compose network.
  EXPECT_FALSE(service_environment(media, "sts-service").count("LIVEDUB_STS_PORT"));
  EXPECT_EQ(published_container_ports(services_of(media)["sts-service"]), std::vector<int>{8000});
}

// nginx-rtmp's image: rtmp-front on the RTMP port, nginx on an internal one (the workers',
// exposed on the compose network, never published), the statistics page where the
// orchestrator's LIVEDUB_MEDIA_STATUS_URL looks.
TEST(Ports, NginxRtmpImageAndComposeAgree) {
  const auto image = image_of("nginx-rtmp");
  const auto env = dockerfile_env(image);
  const int rtmp = std::stoi(env.at("LIVEDUB_RTMP_PORT"));
  const int stat = std::stoi(env.at("LIVEDUB_RTMP_STAT_PORT"));
  EXPECT_EQ(rtmp, 1935);
  EXPECT_EQ(env.at("LIVEDUB_RTMP_HOST"), "0.0.0.0");
  const int internal = std::stoi(env.at("LIVEDUB_RTMP_INTERNAL_PORT"));
  EXPECT_NE(internal, rtmp);
  EXPECT_EQ(dockerfile_exposed_ports(image), (std::set<int>{rtmp, internal, stat}));
  EXPECT_TRUE(contains(instruction_args(image, "HEALTHCHECK"), "LIVEDUB_RTMP_STAT_PORT:-8080}/stat"));
  const auto nginx = nginx_rtmp_compose();
  EXPECT_EQ(published_container_ports(services_of(nginx)["nginx-rtmp"]), std::vector<int>{rtmp});
  const auto status = parse_url(with_defaults(service_environment_section(services_of(nginx)["stream-orchestration"])
                                                  .at("LIVEDUB_MEDIA_STATUS_URL")));
  ASSERT_TRUE(status);
  EXPECT_EQ(status->host, "nginx-rtmp");
  EXPECT_EQ(status->port, stat);
  EXPECT_EQ(status->path, "/stat");
  // The same template as scripts/stack, rendered by the same script.
  const auto copies = copy_instructions(image);
  EXPECT_TRUE(std::any_of(copies.begin(), copies.end(), [](const CopyInstruction& c) {
    return c.sources == std::vector<std::string>{"deploy/media-service/nginx/nginx-rtmp.conf.template"};
  }));
  EXPECT_TRUE(contains(read_text(repo_root() / "scripts/stack"), "deploy/media-service/nginx/render-nginx-conf"));
  // Unprivileged, with MediaMTX's place in the stack: the orchestrator is healthy first.
  const std::string user = instruction_args(image, "USER");
  EXPECT_FALSE(user.empty() || contains(user, "root"));
  const YAML::Node depends = services_of(nginx)["nginx-rtmp"]["depends_on"]["stream-orchestration"];
  EXPECT_EQ(depends["condition"].Scalar(), "service_healthy");
  // MediaMTX is off with this file.
  EXPECT_EQ(services_of(nginx)["mediamtx"]["profiles"][0].Scalar(), "mediamtx");
}

// The hook MediaMTX runs: the script is copied to exactly that path, executable, and is plain sh.
TEST(Hook, CommandInMediamtxYmlIsTheScriptInTheImage) {
  const auto config = load_mediamtx_config();
  const YAML::Node in_path = config["paths"]["~^live/[A-Za-z0-9_-]{1,64}/in$"];
  ASSERT_TRUE(in_path.IsMap()) << "no path entry for live/<streamId>/in";
  EXPECT_TRUE(config["paths"][kOutPathPattern].IsDefined()) << "workers publish live/<id>/out and out-<lang>";
  // The pattern (after MediaMTX's '~') takes every language's output and nothing else. POSIX
  // ERE reads it as Go's RE2 does; std::regex trips GCC 12's bug 105562 under the sanitizers.
  regex_t out;
  ASSERT_EQ(regcomp(&out, kOutPathPattern + 1, REG_EXTENDED | REG_NOSUB), 0);
  const auto matches = [&out](const char* path) { return regexec(&out, path, 0, nullptr, 0) == 0; };
  for (const char* path : {"live/abc/out", "live/abc/out-ca", "live/a_b-1/out-pt-br"}) EXPECT_TRUE(matches(path)) << path;
  for (const char* path : {"live/abc/outx", "live/abc/out-CA", "live/abc/out-", "live/abc/in", "live/abc/out-c"}) {
    EXPECT_FALSE(matches(path)) << path;
  }
  regfree(&out);
  const auto copies = copy_instructions(instructions_of("deploy/media-service/mediamtx/Dockerfile"));
  for (const auto& [key, event] : std::map<std::string, std::string>{{"runOnReady", "ready"}, {"runOnNotReady", "not-ready"}}) {
    SCOPED_TRACE(key);
    ASSERT_TRUE(in_path[key].IsScalar());
    const auto argv = split_words(in_path[key].Scalar());
    ASSERT_EQ(argv.size(), 2u);
    EXPECT_EQ(argv[1], event);
    const CopyInstruction* copy = nullptr;
    for (const auto& c : copies) {
      if (c.destination == argv[0]) copy = &c;
    }
    ASSERT_NE(copy, nullptr) << argv[0] << " is not copied into the MediaMTX image";
    ASSERT_EQ(copy->sources.size(), 1u);
    const fs::path script = repo_root() / "deploy/media-service/mediamtx" / copy->sources[0];
    ASSERT_TRUE(fs::is_regular_file(script)) << script;
    EXPECT_EQ(script.filename(), fs::path(argv[0]).filename());
    const auto perms = fs::status(script).permissions();
    EXPECT_NE(perms & fs::perms::owner_exec, fs::perms::none) << script << " is not executable";
    ASSERT_TRUE(copy->flags.count("chmod")) << "COPY --chmod=0755: the mode must not depend on the checkout";
    EXPECT_EQ(std::stoi(copy->flags.at("chmod"), nullptr, 8) & 0111, 0111);
    EXPECT_EQ(read_text(script).rfind("#!/bin/sh\n", 0), 0u) << "the image has busybox sh, no bash";
  }
  const auto image = instructions_of("deploy/media-service/mediamtx/Dockerfile");
  EXPECT_TRUE(contains(instruction_args(image, "RUN"), "apk add --no-cache curl")) << "the hook posts with curl";
  const auto copies_config = copy_instructions(image);
  EXPECT_TRUE(std::any_of(copies_config.begin(), copies_config.end(), [](const CopyInstruction& c) {
    return c.sources == std::vector<std::string>{"mediamtx.yml"} && c.destination == "/mediamtx.yml";
  })) << "MediaMTX reads /mediamtx.yml";
}

TEST(Hook, OrchestratorUrlPointsAtTheOrchestratorService) {
  const auto media = media_compose();
  const std::string script = read_text(repo_root() / "deploy/media-service/mediamtx/hooks/notify-orchestrator.sh");
  const std::string marker = "${LIVEDUB_ORCHESTRATOR_URL:-";
  const auto at = script.find(marker);
  ASSERT_NE(at, std::string::npos);
  const std::string script_default = script.substr(at + marker.size(), script.find('}', at) - at - marker.size());
  std::vector<std::string> urls = {script_default};
  const auto mediamtx_env = service_environment(media, "mediamtx");
  if (mediamtx_env.count("LIVEDUB_ORCHESTRATOR_URL")) urls.push_back(with_defaults(mediamtx_env.at("LIVEDUB_ORCHESTRATOR_URL")));
  for (const auto& text : urls) {
    SCOPED_TRACE(text);
    const auto url = parse_url(text);
    ASSERT_TRUE(url);
    EXPECT_EQ(url->scheme, "http");
    ASSERT_TRUE(has_service(media, url->host)) << url->host << " is not a service of " << rel(media.path);
    const auto env = service_environment(media, url->host);
    ASSERT_TRUE(env.count("LIVEDUB_ORCHESTRATOR_PORT")) << url->host << " does not run the orchestrator";
    EXPECT_EQ(url->port, std::stoi(with_defaults(env.at("LIVEDUB_ORCHESTRATOR_PORT"))));
  }
  // MediaMTX opens ingest only once the hook's receiver answers.
  const YAML::Node depends = services_of(media)["mediamtx"]["depends_on"]["stream-orchestration"];
  ASSERT_TRUE(depends.IsMap());
  EXPECT_EQ(depends["condition"].Scalar(), "service_healthy");
}

TEST(UrlTemplates, WorkersReadAndPublishThroughTheMediamtxService) {
  const auto media = media_compose();
  const auto env = service_environment(media, "stream-orchestration");
  const auto config = load_mediamtx_config();
  // As the seed has it: the worker pulls RTSP, publishes RTMP.
  const std::map<std::string, std::tuple<std::string, std::string, int>> expected{
      {"LIVEDUB_INPUT_URL_TEMPLATE", {"in", "rtsp", listener_port(config["rtspAddress"].Scalar())}},
      {"LIVEDUB_OUTPUT_URL_TEMPLATE", {"out", "rtmp", listener_port(config["rtmpAddress"].Scalar())}}};
  for (const auto& [name, want] : expected) {
    const auto& [suffix, scheme, port] = want;
    SCOPED_TRACE(name);
    ASSERT_TRUE(env.count(name));
    const auto url = parse_url(with_defaults(env.at(name)));
    ASSERT_TRUE(url);
    EXPECT_EQ(url->scheme, scheme);
    EXPECT_TRUE(has_service(media, url->host)) << url->host;
    EXPECT_EQ(url->host, "mediamtx");
    EXPECT_EQ(url->port, port);
    EXPECT_EQ(url->path, "/live/{stream_id}/" + suffix);
    // MediaMTX serves that path: the path entry for live/<id>/<suffix>.
    EXPECT_TRUE(config["paths"][suffix == "out" ? std::string(kOutPathPattern) : "~^live/[A-Za-z0-9_-]{1,64}/" + suffix + "$"].IsDefined());
  }
  // RTSP over TCP only in Docker (UDP would need host networking): the worker asks for TCP.
  ASSERT_TRUE(config["rtspTransports"].IsSequence());
  EXPECT_EQ(config["rtspTransports"].size(), 1u);
  EXPECT_EQ(config["rtspTransports"][0].Scalar(), "tcp");
}

// With nginx-rtmp the workers pull and publish RTMP (no RTSP there) on nginx's own port, not
// through rtmp-front (they split URLs nginx's way themselves), as scripts/stack does natively.
TEST(UrlTemplates, WithNginxRtmpWorkersUseNginxsOwnPort) {
  const auto env = service_environment_section(services_of(nginx_rtmp_compose())["stream-orchestration"]);
  const auto image_env = dockerfile_env(image_of("nginx-rtmp"));
  const int rtmp = std::stoi(image_env.at("LIVEDUB_RTMP_INTERNAL_PORT"));
  EXPECT_NE(rtmp, std::stoi(image_env.at("LIVEDUB_RTMP_PORT")));
  for (const auto& [name, suffix] : std::map<std::string, std::string>{{"LIVEDUB_INPUT_URL_TEMPLATE", "in"},
                                                                       {"LIVEDUB_OUTPUT_URL_TEMPLATE", "out"}}) {
    SCOPED_TRACE(name);
    const auto url = parse_url(with_defaults(env.at(name)));
    ASSERT_TRUE(url);
    EXPECT_EQ(url->scheme, "rtmp");
    EXPECT_EQ(url->host, "nginx-rtmp");
    EXPECT_EQ(url->port, rtmp);
    EXPECT_EQ(url->path, "/live/{stream_id}/" + suffix);
  }
}

TEST(StsUrl, DefaultPointsAtTheLocalStsService) {
  const auto media = media_compose();
  const auto env = service_environment_section(services_of(media)["stream-orchestration"]);
  ASSERT_TRUE(env.count("STS_SERVICE_URL"));
  const auto url = parse_url(with_defaults(env.at("STS_SERVICE_URL")));
  ASSERT_TRUE(url);
  EXPECT_EQ(url->scheme, "http");
  EXPECT_EQ(url->host, "sts-service");
  ASSERT_TRUE(has_service(media, url->host));
  // The mode scripts/stack runs natively (LIVEDUB_STS_MODE, cpu by default), on the image's port.
  const auto local_env = service_environment(media, url->host);
  EXPECT_EQ(with_defaults(local_env.at("LIVEDUB_STS_MODE")), "cpu");
  EXPECT_EQ(std::to_string(url->port), dockerfile_env(image_of("sts-service")).at("LIVEDUB_STS_PORT"));
  // The sts-service image, cpu target.
  const YAML::Node build = services_of(media)[url->host]["build"];
  EXPECT_EQ(build["dockerfile"].Scalar(), "deploy/Dockerfile");
  EXPECT_EQ(build["target"].Scalar(), "sts-service");
  EXPECT_EQ(build["args"]["TARGET"].Scalar(), "cpu");
}


// Compose interpolation: every ${VAR} has a default (":-"), is in .env.example, and the
// example's value is empty or that default, so `cp .env.example .env` changes nothing.
TEST(EnvConsistency, ComposeInterpolationsAreDocumentedWithTheSameDefaults) {
  const auto documented = documented_env(repo_root());
  std::size_t count = 0;
  for (const auto& file : all_compose_files()) {
    for_each_scalar(file.root, "", [&](const std::string& where, const std::string& value) {
      for (const auto& item : interpolations(value)) {
        ++count;
        SCOPED_TRACE(rel(file.path) + " " + where + ": " + item.text);
        EXPECT_EQ(item.op, ":-") << "use ${NAME:-default} (empty default allowed)";
        ASSERT_TRUE(documented.count(item.name)) << item.name << " is not in .env.example";
        const std::string example = documented.at(item.name);
        EXPECT_TRUE(example.empty() || example == item.argument)
            << ".env.example has " << item.name << "=" << example << ", the compose default is '" << item.argument << "'";
      }
    });
  }
  EXPECT_GT(count, 10u);
}

// A MediaMTX override MTX_A_B_0_C names the key path a.b[0].c of mediamtx.yml (keys compared
// case-insensitively, list positions as numbers), as MediaMTX reads them.
bool mediamtx_key_exists(const std::string& name) {
  if (name.rfind("MTX_", 0) != 0) return false;
  std::vector<std::string> segments;
  std::string rest = name.substr(4);
  for (auto at = rest.find('_'); at != std::string::npos; at = rest.find('_')) {
    segments.push_back(rest.substr(0, at));
    rest = rest.substr(at + 1);
  }
  segments.push_back(rest);
  // reset(), not operator=: assigning to a Node that refers into a tree rewrites the tree.
  YAML::Node node = load_mediamtx_config();
  for (const auto& segment : segments) {
    if (node.IsSequence()) {
      const auto index = static_cast<std::size_t>(std::stoul(segment));
      if (index >= node.size()) return false;
      node.reset(node[index]);
      continue;
    }
    if (!node.IsMap()) return false;
    bool found = false;
    for (const auto& entry : node) {
      std::string key = entry.first.Scalar();
      for (auto& c : key) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (key == segment) {
        node.reset(entry.second);
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

// Every variable the Docker files set is read (by the code, a script, MediaMTX for MTX_*, or the
// container runtime / toolchain) and documented.
TEST(EnvConsistency, EveryVariableSetInTheDockerFilesIsReadAndDocumented) {
  const auto read = names_read_by_code_and_scripts(repo_root());
  const auto documented = documented_env(repo_root());
  const std::set<std::string> runtime_and_toolchain = {"NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES", "PATH",
                                                       "LD_LIBRARY_PATH", "CUDACXX", "GST_PLUGIN_SYSTEM_PATH_1_0"};
  std::map<std::string, std::string> set;  // name -> where
  std::set<std::string> set_from_documented;  // MTX_* set to ${LIVEDUB_...} that .env.example documents
  for (const auto& file : all_compose_files()) {
    if (!services_of(file)) continue;
    for (const auto& entry : services_of(file)) {
      const std::string service = entry.first.Scalar();
      for (const auto& [name, value] : service_environment(file, service)) {
        set[name] = rel(file.path) + " " + service;
        const auto expansions = interpolations(value);
        if (!expansions.empty() && std::all_of(expansions.begin(), expansions.end(), [&](const auto& item) {
              return item.name.rfind("LIVEDUB_", 0) == 0 && documented.count(item.name);
            })) {
          set_from_documented.insert(name);
        }
      }
    }
  }
  for (const auto& path : dockerfiles_under_deploy()) {
    for (const auto& [name, value] : dockerfile_env(parse_dockerfile(path))) set[name] = rel(path);
  }
  const json runpod = runpod_template();  // named: items() refers into it
  for (const auto& [name, value] : runpod.at("env").items()) set[name] = "runpod-template.json";
  ASSERT_GT(set.size(), 20u);
  for (const auto& [name, where] : set) {
    SCOPED_TRACE(name + " set in " + where);
    if (runtime_and_toolchain.count(name)) continue;
    if (name.rfind("MTX_", 0) == 0) {
      EXPECT_TRUE(mediamtx_key_exists(name)) << "no such key in mediamtx.yml: MediaMTX would ignore it";
      EXPECT_TRUE(documented.count(name) || set_from_documented.count(name))
          << "not documented in .env.example, nor set from a documented LIVEDUB_* variable";
      continue;
    }
    EXPECT_TRUE(read.count(name)) << "nothing reads it (code, scripts)";
    EXPECT_TRUE(documented.count(name)) << "not documented in .env.example";
  }
}

// What the stream worker requires at start without a default (EnvConfig::required_string) is
// provided per stream by the orchestrator, or by the compose environment.
TEST(EnvConsistency, RequiredWorkerVariablesAreProvided) {
  std::set<std::string> required;
  const std::string marker = "required_string(\"";
  for (const char* dir : {"apps", "libs"}) {
    for (const auto& entry : fs::recursive_directory_iterator(repo_root() / dir)) {
      if (entry.path().extension() != ".cpp") continue;
      const std::string text = read_text(entry.path());
      for (auto at = text.find(marker); at != std::string::npos; at = text.find(marker, at + 1)) {
        const auto start = at + marker.size();
        required.insert(text.substr(start, text.find('"', start) - start));
      }
    }
  }
  ASSERT_GE(required.size(), 3u);
  const std::string launch = read_text(repo_root() / "apps/orchestrator/src/worker_launch.cpp");
  const auto env = service_environment(media_compose(), "stream-orchestration");
  for (const auto& name : required) {
    const bool by_orchestrator = contains(launch, "{\"" + name + "\",");
    const bool by_compose = env.count(name) && !with_defaults(env.at(name)).empty();
    EXPECT_TRUE(by_orchestrator || by_compose) << name << " is required but nothing provides it";
  }
}

TEST(Secrets, NoneInImagesOrComposeDefaults) {
  auto secret_like = [](const std::string& name) {
    auto ends_with = [&](const std::string& suffix) {
      return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    return ends_with("TOKEN") || ends_with("PASS") || ends_with("SECRET") || ends_with("PASSWORD");
  };
  for (const auto& path : dockerfiles_under_deploy()) {
    for (const auto& instruction : parse_dockerfile(path)) {
      if (instruction.keyword != "ENV" && instruction.keyword != "ARG") continue;
      for (const auto& word : split_words(instruction.args)) {
        EXPECT_FALSE(secret_like(word.substr(0, word.find('='))))
            << rel(path) << " line " << instruction.line << ": " << word << " would be baked into the image";
      }
    }
  }
  for (const auto& file : all_compose_files()) {
    if (!services_of(file)) continue;
    for (const auto& entry : services_of(file)) {
      for (const auto& [name, value] : service_environment_section(entry.second)) {
        if (!secret_like(name)) continue;
        const auto expansions = interpolations(value);
        const bool from_env = expansions.size() == 1 && expansions[0].text == value && expansions[0].op == ":-" &&
                              expansions[0].argument.empty() && secret_like(expansions[0].name);
        EXPECT_TRUE(from_env) << rel(file.path) << " " << entry.first.Scalar() << ": " << name << " = " << value
                              << " must come from the environment (${SECRET:-}), empty by default";
      }
    }
  }
  const auto token = runpod_template().at("env").at("LIVEDUB_STS_TOKEN").get<std::string>();
  EXPECT_EQ(token.rfind("{{ RUNPOD_SECRET_", 0), 0u) << "a RunPod secret reference, not a literal token";
}

TEST(MediaServiceImage, RunsTheOrchestratorWithTheWorkerNextToIt) {
  const auto image = image_of("media-service");
  const std::string build = instruction_args(image_of("build-worker"), "RUN");
  EXPECT_TRUE(contains(build, "--target stream-worker"));
  EXPECT_TRUE(contains(instruction_args(image_of("build-orchestrator"), "RUN"), "--target orchestrator"));
  // Both binaries land in one directory, and that is where the entrypoint runs the orchestrator
  // from: its default LIVEDUB_WORKER_BIN is the stream-worker next to it.
  std::map<std::string, std::string> destination;  // file name -> where it is copied
  std::string plugin_dir;
  for (const auto& copy : copy_instructions(image)) {
    if (!copy.flags.count("from")) continue;
    for (const auto& source : copy.sources) destination[fs::path(source).filename().string()] = copy.destination;
    if (copy.sources.size() == 1 && fs::path(copy.sources[0]).filename() == "gstreamer-1.0") plugin_dir = copy.destination;
  }
  ASSERT_TRUE(destination.count("orchestrator") && destination.count("stream-worker"));
  const std::string bin_dir = destination["orchestrator"];
  EXPECT_EQ(destination["stream-worker"], bin_dir) << "the orchestrator looks for stream-worker next to itself";
  const std::string entrypoint = instruction_args(image, "ENTRYPOINT");
  EXPECT_TRUE(contains(entrypoint, "\"" + (fs::path(bin_dir) / "orchestrator").string() + "\"")) << entrypoint;
  EXPECT_TRUE(read_env_file(repo_root() / "deploy/media-service/orchestrator/orchestrator.env").at("LIVEDUB_WORKER_BIN").empty());
  // The listed plugins, and GStreamer looking for plugins only there; no plugin package at run time.
  ASSERT_FALSE(plugin_dir.empty()) << "the GStreamer plugins are not copied";
  EXPECT_EQ(dockerfile_env(image).at("GST_PLUGIN_SYSTEM_PATH_1_0"), plugin_dir);
  EXPECT_TRUE(contains(build, "deploy/common/gstreamer-plugins"));
  EXPECT_FALSE(contains(instruction_args(image, "RUN"), "gstreamer1.0-plugins-"));
  std::istringstream plugins(read_text(repo_root() / "deploy/common/gstreamer-plugins"));
  std::set<std::string> listed;
  for (std::string line; std::getline(plugins, line);) {
    if (line.rfind("plugin ", 0) == 0) listed.insert(line.substr(7));
  }
  for (const char* needed : {"libgstrtmp2.so", "libgstflv.so", "libgstrtsp.so", "libgstplayback.so", "libgstapp.so",
                             "libgstfaad.so", "libgstvoaacenc.so", "libgstvideoparsersbad.so", "libgstaudioparsers.so"}) {
    EXPECT_TRUE(listed.count(needed)) << needed;
  }
  // Non-root, health check, worker logs and debug artifacts in volumes.
  const std::string user = instruction_args(image, "USER");
  EXPECT_FALSE(user.empty());
  EXPECT_FALSE(contains(user, "root") || user.rfind("0", 0) == 0);
  EXPECT_TRUE(contains(instruction_args(image, "HEALTHCHECK"), "/healthz"));
  const auto image_env = dockerfile_env(image);
  const auto env = service_environment(media_compose(), "stream-orchestration");
  for (const char* name : {"LIVEDUB_RUN_DIR", "LIVEDUB_DEBUG_DIR"}) {
    SCOPED_TRACE(name);
    const std::string dir = image_env.at(name);
    EXPECT_TRUE(contains(instruction_args(image, "VOLUME"), dir));
    if (env.count(name)) {
      EXPECT_EQ(with_defaults(env.at(name)), dir);
    }
    bool in_volume = false;
    for (const auto& volume : services_of(media_compose())["stream-orchestration"]["volumes"]) {
      in_volume = in_volume || with_defaults(volume.Scalar()).ends_with(":" + dir);
    }
    EXPECT_TRUE(in_volume);
  }
}

TEST(MediamtxImage, RunsUnprivilegedWithTheRecordingsVolume) {
  const auto image = instructions_of("deploy/media-service/mediamtx/Dockerfile");
  const std::string user = instruction_args(image, "USER");
  EXPECT_FALSE(user.empty());
  EXPECT_FALSE(contains(user, "root"));
  const auto config = load_mediamtx_config();
  const std::string record_path = config["pathDefaults"]["recordPath"].Scalar();
  EXPECT_FALSE(config["pathDefaults"]["record"].as<bool>()) << "recording is opt-in";
  EXPECT_EQ(config["pathDefaults"]["recordFormat"].Scalar(), "fmp4");
  EXPECT_EQ(record_path.rfind("/recordings/", 0), 0u);
  EXPECT_TRUE(contains(instruction_args(image, "VOLUME"), "/recordings"));
  bool mounted = false;
  for (const auto& volume : services_of(media_compose())["mediamtx"]["volumes"]) {
    mounted = mounted || contains(volume.Scalar(), ":/recordings");
  }
  EXPECT_TRUE(mounted);
  EXPECT_TRUE(contains(instruction_args(image, "HEALTHCHECK"), ":9997/"));
}

TEST(StsImage, BuildsBothTargetsFromOneDockerfileWithoutModels) {
  const auto file = instructions_of("deploy/Dockerfile");
  std::string target_default;
  for (const auto& instruction : file) {
    const auto words = split_words(instruction.args);
    if (instruction.keyword == "ARG" && words[0].rfind("TARGET=", 0) == 0) target_default = words[0].substr(7);
  }
  EXPECT_EQ(target_default, "cpu");
  const auto names = stage_names(file);
  for (const char* stage : {"build-sts-cpu", "build-sts-gpu", "sts-runtime-cpu", "sts-runtime-gpu", "build-sts", "sts-service"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), stage), names.end()) << stage;
  }
  const std::string builds = instruction_args(image_of("build-sts", {{"TARGET", "gpu"}}), "RUN");
  EXPECT_TRUE(contains(builds, "scripts/fetch-whisper-source third_party/whisper.cpp"));
  EXPECT_TRUE(contains(builds, "-DLIVEDUB_WITH_WHISPER="));
  EXPECT_TRUE(contains(builds, "-DLIVEDUB_WHISPER_CUDA=ON"));
  EXPECT_TRUE(contains(builds, "--target sts-service"));
  // The engines' data, installed by both targets (one list, a global ARG).
  std::string engine_packages;
  for (const auto& instruction : file) {
    if (instruction.keyword == "ARG" && instruction.args.rfind("STS_ENGINE_PACKAGES=", 0) == 0) engine_packages = instruction.args + " ";
  }
  std::replace(engine_packages.begin(), engine_packages.end(), '"', ' ');
  for (const char* package : {"pocketsphinx-en-us", "apertium-eng-spa", "apertium-eng-cat", "apertium-lex-tools", "libttspico-data"}) {
    EXPECT_TRUE(contains(engine_packages, std::string(" ") + package + " ")) << package;
  }
  for (const char* target : {"cpu", "gpu"}) {
    SCOPED_TRACE(target);
    const auto image = image_of("sts-service", {{"TARGET", target}});
    const std::string runs = instruction_args(image, "RUN");
    EXPECT_TRUE(contains(runs, " $STS_ENGINE_PACKAGES ")) << runs;
    EXPECT_TRUE(contains(runs, " curl ")) << "the health check";
    // Models come at run time, into the volume; the model fetcher and the start command are on PATH.
    EXPECT_FALSE(contains(runs, "fetch-whisper-model")) << "a model download at build time bakes it in";
    std::map<std::string, std::string> installed;  // destination -> source
    for (const auto& copy : copy_instructions(image)) {
      for (const auto& source : copy.sources) {
        EXPECT_EQ(source.find(".bin"), std::string::npos) << source;
        installed[copy.destination] = source;
      }
    }
    EXPECT_EQ(installed["/usr/local/bin/fetch-whisper-model"], "scripts/fetch-whisper-model");
    EXPECT_EQ(installed["/usr/local/bin/livedub-sts-start"], "deploy/sts-service/livedub-sts-start");
    const auto env = dockerfile_env(image);
    EXPECT_EQ(env.at("LIVEDUB_STS_MODEL_DIR"), "/models");
    EXPECT_TRUE(contains(instruction_args(image, "VOLUME"), "/models"));
    EXPECT_EQ(instruction_args(image, "CMD"), "[\"livedub-sts-start\"]\n");
    EXPECT_TRUE(contains(runs, "useradd --system --uid 10001 --gid livedub"));
    // cpu: the service user from the start. gpu (RunPod's root-owned volume): the start command
    // drops to that user before the service runs.
    const std::string user = instruction_args(image, "USER");
    if (std::string(target) == "cpu") {
      EXPECT_EQ(user, "livedub\n");
    } else {
      EXPECT_EQ(user, "");
      EXPECT_TRUE(contains(read_text(repo_root() / "deploy/sts-service/livedub-sts-start"), "setpriv --reuid=\"$service_user\""));
    }
  }

  // The gpu compose service: whisper on the GPU through the NVIDIA runtime, models volume.
  const auto sts = sts_compose();
  const YAML::Node gpu = services_of(sts)["sts-service"];
  EXPECT_EQ(gpu["build"]["args"]["TARGET"].Scalar(), "gpu");
  EXPECT_EQ(gpu["build"]["target"].Scalar(), "sts-service");
  EXPECT_EQ(gpu["profiles"][0].Scalar(), "gpu");
  const YAML::Node device = gpu["deploy"]["resources"]["reservations"]["devices"][0];
  EXPECT_EQ(device["driver"].Scalar(), "nvidia");
  EXPECT_EQ(device["capabilities"][0].Scalar(), "gpu");
  const auto gpu_env = service_environment(sts, "sts-service");
  EXPECT_EQ(gpu_env.at("LIVEDUB_STS_MODE"), "cpu");
  EXPECT_EQ(gpu_env.at("LIVEDUB_STS_ASR_ENGINE"), "whisper");
  const YAML::Node cpu = services_of(sts)["sts-service-cpu"];
  EXPECT_EQ(cpu["build"]["args"]["TARGET"].Scalar(), "cpu");
  EXPECT_EQ(cpu["profiles"][0].Scalar(), "cpu");
  EXPECT_EQ(service_environment(sts, "sts-service-cpu").at("LIVEDUB_STS_ASR_ENGINE"), "pocketsphinx");
  for (const char* service : {"sts-service", "sts-service-cpu"}) {
    EXPECT_EQ(with_defaults(services_of(sts)[service]["volumes"][0].Scalar()), "models:/models") << service;
  }
}

TEST(RunPodTemplate, AgreesWithTheGpuImage) {
  const json t = runpod_template();
  for (const char* field : {"name", "imageName", "containerDiskInGb", "volumeInGb", "volumeMountPath", "ports", "env",
                            "dockerStartCmd"}) {
    EXPECT_TRUE(t.contains(field)) << field;
  }
  const auto image = image_of("sts-service", {{"TARGET", "gpu"}});
  const auto image_env = dockerfile_env(image);
  EXPECT_EQ(t.at("ports"), json::array({std::to_string(*dockerfile_exposed_ports(image).begin()) + "/http"}));
  const auto& env = t.at("env");
  ASSERT_TRUE(env.is_object()) << "REST API v1 template: env is an object";
  EXPECT_EQ(env.at("LIVEDUB_STS_PORT").get<std::string>(), image_env.at("LIVEDUB_STS_PORT"));
  EXPECT_EQ(env.at("LIVEDUB_STS_HOST").get<std::string>(), "0.0.0.0");
  EXPECT_EQ(env.at("LIVEDUB_STS_ASR_ENGINE").get<std::string>(), "whisper");
  const std::string mount = t.at("volumeMountPath").get<std::string>();
  EXPECT_EQ(mount, "/workspace");
  EXPECT_EQ(env.at("LIVEDUB_STS_MODEL_DIR").get<std::string>(), mount + "/models") << "models on the persistent volume";
  EXPECT_FALSE(env.at("LIVEDUB_STS_WHISPER_MODEL").get<std::string>().empty());
  const auto start = t.at("dockerStartCmd");
  ASSERT_EQ(start.size(), 1u);
  EXPECT_EQ(instruction_args(image, "CMD"), "[\"" + start[0].get<std::string>() + "\"]\n")
      << "the template runs the image's own start command";
  EXPECT_EQ(t.at("dockerEntrypoint"), json::array());
}

}  // namespace
}  // namespace livedub::testing
