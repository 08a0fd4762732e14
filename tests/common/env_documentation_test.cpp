// Every environment variable the code and scripts read is documented in .env.example, and
// every variable documented there is read somewhere: the file users copy stays the truth.
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace {

namespace fs = std::filesystem;
const fs::path kRoot = LIVEDUB_SOURCE_DIR;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool is_name_char(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }

// Names starting with LIVEDUB_ (plus STS_SERVICE_URL) in `text`; `quoted_only` keeps those
// written as a complete string literal ("LIVEDUB_X"), the way C++ code names a variable.
void collect_names(const std::string& text, bool quoted_only, std::set<std::string>& names) {
  for (const std::string prefix : {"LIVEDUB_", "STS_SERVICE_URL"}) {
    for (auto at = text.find(prefix); at != std::string::npos; at = text.find(prefix, at + 1)) {
      if (at > 0 && is_name_char(text[at - 1])) continue;
      auto end = at;
      while (end < text.size() && is_name_char(text[end])) ++end;
      const bool quoted = at > 0 && text[at - 1] == '"' && end < text.size() && text[end] == '"';
      if (quoted_only && !quoted) continue;
      if (end - at > prefix.size() || prefix == "STS_SERVICE_URL") names.insert(text.substr(at, end - at));
    }
  }
}

std::set<std::string> names_read_by_code_and_scripts() {
  std::set<std::string> names;
  for (const char* dir : {"apps", "libs", "tools"}) {
    for (const auto& entry : fs::recursive_directory_iterator(kRoot / dir)) {
      const auto ext = entry.path().extension();
      if (ext == ".cpp" || ext == ".hpp") collect_names(read_text(entry.path()), /*quoted_only=*/true, names);
    }
  }
  for (const char* dir : {"scripts", "deploy", ".ci"}) {
    for (const auto& entry : fs::recursive_directory_iterator(kRoot / dir)) {
      if (entry.is_regular_file()) collect_names(read_text(entry.path()), /*quoted_only=*/false, names);
    }
  }
  return names;
}

std::set<std::string> names_documented() {
  std::set<std::string> names;
  std::istringstream lines(read_text(kRoot / ".env.example"));
  std::string line;
  while (std::getline(lines, line)) {
    const auto eq = line.find('=');
    if (line.empty() || line[0] == '#' || line[0] == ' ' || eq == std::string::npos) continue;
    names.insert(line.substr(0, eq));
  }
  return names;
}

TEST(EnvDocumentation, EveryVariableReadIsInEnvExample) {
  const auto documented = names_documented();
  ASSERT_GT(documented.size(), 40u) << "cannot read .env.example";
  for (const auto& name : names_read_by_code_and_scripts()) {
    EXPECT_TRUE(documented.count(name)) << name << " is read but not documented in .env.example";
  }
}

TEST(EnvDocumentation, EveryVariableInEnvExampleIsRead) {
  const auto read = names_read_by_code_and_scripts();
  for (const auto& name : names_documented()) {
    EXPECT_TRUE(read.count(name)) << name << " is documented in .env.example but nothing reads it";
  }
}

}  // namespace
