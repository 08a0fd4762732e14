#pragma once
// Readers for the deployment files, for tests that need no Docker engine: compose files (YAML,
// with Compose's ${VAR:-default} interpolation), Dockerfiles, .dockerignore, env files, URLs.
// Each implements only the subset of its format that livedub's files use, strictly enough that a
// file outside that subset fails the tests instead of being misread.
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace livedub::testing {

namespace fs = std::filesystem;

const fs::path& repo_root();

// --- Compose -----------------------------------------------------------------------------

// One ${NAME...} expression in a compose value.
struct Interpolation {
  std::string name;
  std::string op;             // "" (plain ${NAME} or $NAME), ":-", "-", ":?", "?", ":+", "+"
  std::string argument;       // default value / message / replacement
  std::string text;           // the whole expression as written
};
std::vector<Interpolation> interpolations(const std::string& text);
// `text` as Compose resolves it with no variable set: ${NAME:-default} -> default, ${NAME} -> "".
std::string with_defaults(const std::string& text);

struct ComposeFile {
  fs::path path;
  fs::path dir;  // relative paths in the file resolve against this
  YAML::Node root;
};
ComposeFile load_compose(const fs::path& path);
// deploy/docker-compose.yml, deploy/media-service/docker-compose.yml,
// deploy/sts-service/docker-compose.yml.
std::vector<ComposeFile> all_compose_files();
ComposeFile media_compose();
ComposeFile sts_compose();
// deploy/media-service/nginx-rtmp.yml: merged over the media file (nginx-rtmp instead of MediaMTX).
ComposeFile nginx_rtmp_compose();
ComposeFile local_compose();

// Every scalar in the tree, with its YAML path ("services.mediamtx.ports[0]").
void for_each_scalar(const YAML::Node& node, const std::string& where,
                     const std::function<void(const std::string& where, const std::string& value)>& visit);

// A service's environment: its env_file files (in order), then its environment: section (map or
// KEY=VALUE list), values as written (not interpolated).
std::map<std::string, std::string> service_environment(const ComposeFile& file, const std::string& service);
// Only the environment: section.
std::map<std::string, std::string> service_environment_section(const YAML::Node& service);
std::vector<fs::path> service_env_files(const ComposeFile& file, const std::string& service);
// Container ports of a service's ports: entries (short syntax "[ip:]host:container[/proto]").
std::vector<int> published_container_ports(const YAML::Node& service);

// KEY=value lines of an env file (comments and blank lines skipped).
std::map<std::string, std::string> read_env_file(const fs::path& path);

// --- Dockerfile ----------------------------------------------------------------------------

struct DockerInstruction {
  std::string keyword;  // upper case
  std::string args;     // continuation lines joined, comments dropped
  int line = 0;
};
std::vector<DockerInstruction> parse_dockerfile(const fs::path& path);

struct CopyInstruction {
  std::map<std::string, std::string> flags;  // --from, --chmod, ...
  std::vector<std::string> sources;
  std::string destination;
  int line = 0;
};
std::vector<CopyInstruction> copy_instructions(const std::vector<DockerInstruction>& instructions);

// ENV KEY=value pairs (all stages).
std::map<std::string, std::string> dockerfile_env(const std::vector<DockerInstruction>& instructions);
// The instructions that make the image of stage `target`: its ancestors' (FROM <stage>, with
// ${ARG} resolved from `args`, else the file's global ARG defaults), then its own; FROM lines
// excluded. Throws when the stage does not exist.
std::vector<DockerInstruction> stage_instructions(const std::vector<DockerInstruction>& instructions,
                                                  const std::string& target,
                                                  const std::map<std::string, std::string>& args = {});
// The stage names of a Dockerfile (FROM ... AS <name>), in order.
std::vector<std::string> stage_names(const std::vector<DockerInstruction>& instructions);
std::set<int> dockerfile_exposed_ports(const std::vector<DockerInstruction>& instructions);

// Shell-like split on whitespace, honouring "..." and '...' (no escapes beyond that).
std::vector<std::string> split_words(const std::string& text);

// --- .dockerignore ------------------------------------------------------------------------

// The .dockerignore subset livedub uses: one pattern per line, # comments, a leading "!"
// re-includes, "*" and "?" within one path segment, "**" for any number of segments, a leading
// or trailing "/" ignored. Patterns are relative to the context root; a pattern that matches a
// directory excludes everything below it; the last matching pattern wins.
class DockerIgnore {
 public:
  DockerIgnore() = default;
  explicit DockerIgnore(const std::vector<std::string>& lines);
  static DockerIgnore load(const fs::path& context);  // <context>/.dockerignore, if any
  // `relative`: a path relative to the context root, "/"-separated.
  bool excluded(const std::string& relative) const;

 private:
  struct Pattern {
    std::vector<std::string> segments;
    bool negated = false;
  };
  std::vector<Pattern> patterns_;
};
bool glob_segment_match(const std::string& pattern, const std::string& text);

// --- URLs ----------------------------------------------------------------------------------

struct Url {
  std::string scheme, host, path;
  int port = 0;  // 0 when not given
};
std::optional<Url> parse_url(const std::string& text);

// --- MediaMTX ------------------------------------------------------------------------------

YAML::Node load_mediamtx_config();
// Port of a "[host]:port" listener address.
int listener_port(const std::string& address);

}  // namespace livedub::testing
