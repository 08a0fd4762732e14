#pragma once
// The one definition, for the tests, of which environment variables livedub reads and which ones
// .env.example documents. Used by tests/common/env_documentation_test.cpp (every variable read is
// documented and the reverse) and tests/deploy (what the Docker files set or interpolate is read
// and documented).
//
// A name is "read" when
// - C++ code in apps/, libs/ or tools/ names it as a complete string literal ("LIVEDUB_X"), the
//   way it passes a name to EnvConfig;
// - a script mentions it: anything under scripts/ or .ci/, and the shell scripts (a "#!" first
//   line) under deploy/, e.g. the MediaMTX hook and the sts-service start script;
// - any other file under deploy/ (compose files, Dockerfiles, the RunPod template) expands it:
//   "${NAME" or "$NAME", i.e. Compose interpolation or a shell expansion in a command. Setting a
//   variable there (KEY: value, ENV KEY=value) is not reading it.
// Names are LIVEDUB_* and STS_SERVICE_URL; in deploy/ expansions also MTX_* (MediaMTX settings
// that the compose files take from .env). The MTX_* variables MediaMTX itself gives its hooks
// (MTX_PATH, MTX_QUERY...) are not configuration and are not collected from scripts.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace livedub::testing {

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline bool is_env_name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

enum class NameContext {
  kQuotedLiteral,  // "NAME" only
  kAnyMention,     // anywhere
  kExpansion,      // ${NAME or $NAME only
};

// Adds the names in `text` that start with one of `prefixes` ("STS_SERVICE_URL" is a whole name)
// and occur in `context`.
inline void collect_env_names(const std::string& text, NameContext context,
                              const std::vector<std::string>& prefixes,
                              std::set<std::string>& names) {
  for (const auto& prefix : prefixes) {
    for (auto at = text.find(prefix); at != std::string::npos; at = text.find(prefix, at + 1)) {
      if (at > 0 && is_env_name_char(text[at - 1])) continue;
      auto end = at;
      while (end < text.size() && is_env_name_char(text[end])) ++end;
      const bool whole_name_prefix = prefix.back() != '_';
      if (whole_name_prefix ? end - at != prefix.size() : end - at <= prefix.size()) continue;
      if (context == NameContext::kQuotedLiteral) {
        if (!(at > 0 && text[at - 1] == '"' && end < text.size() && text[end] == '"')) continue;
      } else if (context == NameContext::kExpansion) {
        const bool braced = at >= 2 && text[at - 1] == '{' && text[at - 2] == '$';
        const bool bare = at >= 1 && text[at - 1] == '$';
        if (!braced && !bare) continue;
      }
      names.insert(text.substr(at, end - at));
    }
  }
}

inline bool is_shell_script(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[2] = {0, 0};
  in.read(magic, 2);
  return in.gcount() == 2 && magic[0] == '#' && magic[1] == '!';
}

inline std::set<std::string> names_read_by_code_and_scripts(const std::filesystem::path& root) {
  namespace fs = std::filesystem;
  const std::vector<std::string> livedub = {"LIVEDUB_", "STS_SERVICE_URL"};
  const std::vector<std::string> with_mediamtx = {"LIVEDUB_", "STS_SERVICE_URL", "MTX_"};
  std::set<std::string> names;
  for (const char* dir : {"apps", "libs", "tools"}) {
    for (const auto& entry : fs::recursive_directory_iterator(root / dir)) {
      const auto ext = entry.path().extension();
      if (ext == ".cpp" || ext == ".hpp") {
        collect_env_names(read_text(entry.path()), NameContext::kQuotedLiteral, livedub, names);
      }
    }
  }
  for (const char* dir : {"scripts", ".ci"}) {
    for (const auto& entry : fs::recursive_directory_iterator(root / dir)) {
      if (entry.is_regular_file()) {
        collect_env_names(read_text(entry.path()), NameContext::kAnyMention, livedub, names);
      }
    }
  }
  for (const auto& entry : fs::recursive_directory_iterator(root / "deploy")) {
    if (!entry.is_regular_file()) continue;
    const std::string text = read_text(entry.path());
    if (is_shell_script(entry.path())) {
      collect_env_names(text, NameContext::kAnyMention, livedub, names);
    } else {
      collect_env_names(text, NameContext::kExpansion, with_mediamtx, names);
    }
  }
  return names;
}

// NAME=value lines of .env.example (a value ends at the first whitespace: "# ..." comments
// follow the value).
inline std::map<std::string, std::string> documented_env(const std::filesystem::path& root) {
  std::map<std::string, std::string> vars;
  std::istringstream lines(read_text(root / ".env.example"));
  std::string line;
  while (std::getline(lines, line)) {
    const auto eq = line.find('=');
    if (line.empty() || line[0] == '#' || line[0] == ' ' || eq == std::string::npos) continue;
    std::string value = line.substr(eq + 1);
    const auto space = value.find_first_of(" \t\r");
    if (space != std::string::npos) value.erase(space);
    vars[line.substr(0, eq)] = value;
  }
  return vars;
}

inline std::set<std::string> names_documented(const std::filesystem::path& root) {
  std::set<std::string> names;
  for (const auto& [name, value] : documented_env(root)) names.insert(name);
  return names;
}

}  // namespace livedub::testing
