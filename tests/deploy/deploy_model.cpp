#include "deploy_model.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <sstream>
#include <stdexcept>

#include "env_names.hpp"

namespace livedub::testing {

const fs::path& repo_root() {
  static const fs::path root = LIVEDUB_SOURCE_DIR;
  return root;
}

// --- Compose -----------------------------------------------------------------------------

std::vector<Interpolation> interpolations(const std::string& text) {
  std::vector<Interpolation> found;
  for (std::size_t at = text.find('$'); at != std::string::npos; at = text.find('$', at + 1)) {
    if (at + 1 >= text.size()) break;
    if (text[at + 1] == '$') {  // "$$" is a literal dollar in Compose
      ++at;
      continue;
    }
    Interpolation item;
    if (text[at + 1] == '{') {
      const auto close = text.find('}', at + 2);
      if (close == std::string::npos) throw std::runtime_error("unterminated ${ in: " + text);
      const std::string inner = text.substr(at + 2, close - at - 2);
      std::size_t name_end = 0;
      while (name_end < inner.size() && (is_env_name_char(inner[name_end]) ||
                                         std::islower(static_cast<unsigned char>(inner[name_end])))) {
        ++name_end;
      }
      item.name = inner.substr(0, name_end);
      std::string rest = inner.substr(name_end);
      for (const char* op : {":-", ":?", ":+", "-", "?", "+"}) {
        if (rest.rfind(op, 0) == 0) {
          item.op = op;
          item.argument = rest.substr(item.op.size());
          break;
        }
      }
      if (item.op.empty() && !rest.empty()) throw std::runtime_error("unknown ${...} form: " + inner);
      item.text = text.substr(at, close - at + 1);
      at = close;
    } else {
      std::size_t end = at + 1;
      while (end < text.size() && (is_env_name_char(text[end]) ||
                                   std::islower(static_cast<unsigned char>(text[end])))) {
        ++end;
      }
      if (end == at + 1) continue;
      item.name = text.substr(at + 1, end - at - 1);
      item.text = text.substr(at, end - at);
      at = end - 1;
    }
    found.push_back(item);
  }
  return found;
}

std::string with_defaults(const std::string& text) {
  std::string result = text;
  for (const auto& item : interpolations(text)) {
    const std::string value = (item.op == ":-" || item.op == "-") ? item.argument : "";
    result.replace(result.find(item.text), item.text.size(), value);
  }
  std::string unescaped;
  for (std::size_t i = 0; i < result.size(); ++i) {
    if (result[i] == '$' && i + 1 < result.size() && result[i + 1] == '$') ++i;
    unescaped += result[i];
  }
  return unescaped;
}

ComposeFile load_compose(const fs::path& path) {
  ComposeFile file;
  file.path = path;
  file.dir = path.parent_path();
  file.root = YAML::LoadFile(path.string());
  return file;
}

ComposeFile media_compose() { return load_compose(repo_root() / "deploy/media-service/docker-compose.yml"); }
ComposeFile sts_compose() { return load_compose(repo_root() / "deploy/sts-service/docker-compose.yml"); }
ComposeFile local_compose() { return load_compose(repo_root() / "deploy/docker-compose.yml"); }
ComposeFile nginx_rtmp_compose() { return load_compose(repo_root() / "deploy/media-service/nginx-rtmp.yml"); }

std::vector<ComposeFile> all_compose_files() {
  return {local_compose(), media_compose(), nginx_rtmp_compose(), sts_compose()};
}

void for_each_scalar(const YAML::Node& node, const std::string& where,
                     const std::function<void(const std::string&, const std::string&)>& visit) {
  if (node.IsScalar()) {
    visit(where, node.Scalar());
  } else if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i) {
      for_each_scalar(node[i], where + "[" + std::to_string(i) + "]", visit);
    }
  } else if (node.IsMap()) {
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      visit(where + ".<key>", key);
      for_each_scalar(entry.second, where.empty() ? key : where + "." + key, visit);
    }
  }
}

std::map<std::string, std::string> service_environment_section(const YAML::Node& service) {
  std::map<std::string, std::string> env;
  const YAML::Node section = service["environment"];
  if (!section) return env;
  if (section.IsMap()) {
    for (const auto& entry : section) {
      env[entry.first.Scalar()] = entry.second.IsNull() ? "" : entry.second.Scalar();
    }
  } else if (section.IsSequence()) {
    for (const auto& item : section) {
      const std::string text = item.Scalar();
      const auto eq = text.find('=');
      env[text.substr(0, eq)] = eq == std::string::npos ? "" : text.substr(eq + 1);
    }
  } else {
    throw std::runtime_error("environment: neither a map nor a list");
  }
  return env;
}

std::vector<fs::path> service_env_files(const ComposeFile& file, const std::string& service) {
  std::vector<fs::path> paths;
  const YAML::Node env_file = file.root["services"][service]["env_file"];
  if (!env_file) return paths;
  auto add = [&](const YAML::Node& item) {
    const std::string relative = item.IsMap() ? item["path"].Scalar() : item.Scalar();
    paths.push_back(file.dir / with_defaults(relative));
  };
  if (env_file.IsSequence()) {
    for (const auto& item : env_file) add(item);
  } else {
    add(env_file);
  }
  return paths;
}

std::map<std::string, std::string> service_environment(const ComposeFile& file, const std::string& service) {
  std::map<std::string, std::string> env;
  for (const auto& path : service_env_files(file, service)) {
    for (const auto& [name, value] : read_env_file(path)) env[name] = value;
  }
  for (const auto& [name, value] : service_environment_section(file.root["services"][service])) {
    env[name] = value;
  }
  return env;
}

std::vector<int> published_container_ports(const YAML::Node& service) {
  std::vector<int> ports;
  for (const auto& item : service["ports"]) {
    if (item.IsMap()) {
      ports.push_back(item["target"].as<int>());
      continue;
    }
    std::string text = with_defaults(item.Scalar());
    text = text.substr(0, text.find('/'));
    const std::string container = text.substr(text.rfind(':') + 1);
    int port = 0;
    auto [end, ec] = std::from_chars(container.data(), container.data() + container.size(), port);
    if (ec != std::errc() || end != container.data() + container.size()) {
      throw std::runtime_error("cannot read the container port of '" + item.Scalar() + "'");
    }
    ports.push_back(port);
  }
  return ports;
}

std::map<std::string, std::string> read_env_file(const fs::path& path) {
  if (!fs::is_regular_file(path)) throw std::runtime_error("no env file " + path.string());
  std::map<std::string, std::string> env;
  std::istringstream lines(read_text(path));
  std::string line;
  while (std::getline(lines, line)) {
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos) throw std::runtime_error(path.string() + ": not KEY=value: " + line);
    env[line.substr(first, eq - first)] = line.substr(eq + 1);
  }
  return env;
}

// --- Dockerfile ----------------------------------------------------------------------------

std::vector<DockerInstruction> parse_dockerfile(const fs::path& path) {
  if (!fs::is_regular_file(path)) throw std::runtime_error("no Dockerfile " + path.string());
  std::vector<DockerInstruction> instructions;
  std::istringstream lines(read_text(path));
  std::string line;
  int number = 0;
  DockerInstruction current;
  bool continuing = false;
  while (std::getline(lines, line)) {
    ++number;
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;  // comments, also inside RUNs
    std::string text = line.substr(first);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.pop_back();
    const bool continues = !text.empty() && text.back() == '\\';
    if (continues) text.pop_back();
    if (!continuing) {
      current = DockerInstruction{};
      current.line = number;
      const auto space = text.find_first_of(" \t");
      current.keyword = text.substr(0, space);
      for (auto& c : current.keyword) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      current.args = space == std::string::npos ? "" : text.substr(text.find_first_not_of(" \t", space));
    } else {
      current.args += " " + text;
    }
    continuing = continues;
    if (!continuing) instructions.push_back(current);
  }
  if (continuing) instructions.push_back(current);
  return instructions;
}

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (char c : text) {
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else {
        word += c;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(word);
  return words;
}

std::vector<CopyInstruction> copy_instructions(const std::vector<DockerInstruction>& instructions) {
  std::vector<CopyInstruction> copies;
  for (const auto& instruction : instructions) {
    if (instruction.keyword != "COPY" && instruction.keyword != "ADD") continue;
    CopyInstruction copy;
    copy.line = instruction.line;
    std::vector<std::string> words;
    std::string args = instruction.args;
    // Flags first, then the JSON form ["src", ..., "dest"] or plain words.
    auto all = split_words(args);
    std::size_t i = 0;
    for (; i < all.size() && all[i].rfind("--", 0) == 0; ++i) {
      const auto eq = all[i].find('=');
      copy.flags[all[i].substr(2, eq - 2)] = eq == std::string::npos ? "" : all[i].substr(eq + 1);
    }
    for (; i < all.size(); ++i) words.push_back(all[i]);
    if (!words.empty() && words.front().rfind("[", 0) == 0) {
      std::string json;
      for (const auto& w : words) json += w + " ";
      words.clear();
      std::string item;
      bool in_string = false;
      for (char c : json) {
        if (c == '"') {
          if (in_string) words.push_back(item);
          item.clear();
          in_string = !in_string;
        } else if (in_string) {
          item += c;
        }
      }
    }
    if (words.size() < 2) {
      throw std::runtime_error("line " + std::to_string(instruction.line) + ": COPY needs a source and a destination");
    }
    copy.destination = words.back();
    words.pop_back();
    copy.sources = words;
    copies.push_back(copy);
  }
  return copies;
}

std::map<std::string, std::string> dockerfile_env(const std::vector<DockerInstruction>& instructions) {
  std::map<std::string, std::string> env;
  for (const auto& instruction : instructions) {
    if (instruction.keyword != "ENV") continue;
    for (const auto& word : split_words(instruction.args)) {
      const auto eq = word.find('=');
      if (eq == std::string::npos) {
        throw std::runtime_error("line " + std::to_string(instruction.line) + ": use ENV KEY=value");
      }
      env[word.substr(0, eq)] = word.substr(eq + 1);
    }
  }
  return env;
}

namespace {
struct Stage {
  std::string base;
  std::vector<DockerInstruction> body;
};
}  // namespace

std::vector<std::string> stage_names(const std::vector<DockerInstruction>& instructions) {
  std::vector<std::string> names;
  for (const auto& instruction : instructions) {
    const auto words = split_words(instruction.args);
    if (instruction.keyword == "FROM" && words.size() >= 3) names.push_back(words[2]);
  }
  return names;
}

std::vector<DockerInstruction> stage_instructions(const std::vector<DockerInstruction>& instructions,
                                                  const std::string& target,
                                                  const std::map<std::string, std::string>& args) {
  std::map<std::string, std::string> globals;
  std::map<std::string, Stage> stages;
  Stage* current = nullptr;
  for (const auto& instruction : instructions) {
    if (instruction.keyword == "FROM") {
      auto words = split_words(instruction.args);
      words.erase(std::remove_if(words.begin(), words.end(), [](const std::string& w) { return w.rfind("--", 0) == 0; }),
                  words.end());
      if (words.empty()) throw std::runtime_error("FROM without an image, line " + std::to_string(instruction.line));
      std::string base = words[0];
      for (const auto& item : interpolations(base)) {
        const auto given = args.find(item.name);
        const std::string value = given != args.end() ? given->second : globals[item.name];
        base.replace(base.find(item.text), item.text.size(), value);
      }
      current = words.size() >= 3 ? &stages[words[2]] : nullptr;
      if (current) current->base = base;
      continue;
    }
    if (!current) {
      if (instruction.keyword == "ARG") {
        const auto words = split_words(instruction.args);
        const auto eq = words.at(0).find('=');
        globals[words[0].substr(0, eq)] = eq == std::string::npos ? "" : words[0].substr(eq + 1);
      }
      continue;
    }
    current->body.push_back(instruction);
  }
  std::vector<std::string> chain;
  for (std::string name = target; stages.count(name); name = stages[name].base) {
    chain.insert(chain.begin(), name);
    if (chain.size() > stages.size()) throw std::runtime_error("stage cycle at " + name);
  }
  if (chain.empty()) throw std::runtime_error("no stage " + target);
  std::vector<DockerInstruction> out;
  for (const auto& name : chain) out.insert(out.end(), stages[name].body.begin(), stages[name].body.end());
  return out;
}

std::set<int> dockerfile_exposed_ports(const std::vector<DockerInstruction>& instructions) {
  std::set<int> ports;
  for (const auto& instruction : instructions) {
    if (instruction.keyword != "EXPOSE") continue;
    for (const auto& word : split_words(instruction.args)) ports.insert(std::stoi(word.substr(0, word.find('/'))));
  }
  return ports;
}

// --- .dockerignore ------------------------------------------------------------------------

namespace {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> segments;
  std::string segment;
  for (char c : path) {
    if (c == '/') {
      if (!segment.empty() && segment != ".") segments.push_back(segment);
      segment.clear();
    } else {
      segment += c;
    }
  }
  if (!segment.empty() && segment != ".") segments.push_back(segment);
  return segments;
}

bool match_segments(const std::vector<std::string>& pattern, std::size_t p,
                    const std::vector<std::string>& path, std::size_t s) {
  if (p == pattern.size()) return s == path.size();
  if (pattern[p] == "**") {
    for (std::size_t skip = s; skip <= path.size(); ++skip) {
      if (match_segments(pattern, p + 1, path, skip)) return true;
    }
    return false;
  }
  return s < path.size() && glob_segment_match(pattern[p], path[s]) &&
         match_segments(pattern, p + 1, path, s + 1);
}

}  // namespace

bool glob_segment_match(const std::string& pattern, const std::string& text) {
  if (pattern.empty()) return text.empty();
  if (pattern[0] == '*') {
    for (std::size_t skip = 0; skip <= text.size(); ++skip) {
      if (glob_segment_match(pattern.substr(1), text.substr(skip))) return true;
    }
    return false;
  }
  if (text.empty()) return false;
  if (pattern[0] == '[' || pattern[0] == '\\') {
    throw std::runtime_error(".dockerignore: character classes and escapes are not supported by this check");
  }
  return (pattern[0] == '?' || pattern[0] == text[0]) && glob_segment_match(pattern.substr(1), text.substr(1));
}

DockerIgnore::DockerIgnore(const std::vector<std::string>& lines) {
  for (std::string line : lines) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.pop_back();
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    line = line.substr(first);
    Pattern pattern;
    if (line[0] == '!') {
      pattern.negated = true;
      line = line.substr(1);
    }
    pattern.segments = split_path(line);
    if (!pattern.segments.empty()) patterns_.push_back(pattern);
  }
}

DockerIgnore DockerIgnore::load(const fs::path& context) {
  const fs::path file = context / ".dockerignore";
  if (!fs::exists(file)) return DockerIgnore{};
  std::vector<std::string> lines;
  std::istringstream in(read_text(file));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return DockerIgnore(lines);
}

bool DockerIgnore::excluded(const std::string& relative) const {
  const auto path = split_path(relative);
  bool result = false;
  for (const auto& pattern : patterns_) {
    // The path itself or one of its parent directories.
    for (std::size_t length = 1; length <= path.size(); ++length) {
      const std::vector<std::string> prefix(path.begin(), path.begin() + static_cast<std::ptrdiff_t>(length));
      if (match_segments(pattern.segments, 0, prefix, 0)) {
        result = !pattern.negated;
        break;
      }
    }
  }
  return result;
}

// --- URLs ----------------------------------------------------------------------------------

std::optional<Url> parse_url(const std::string& text) {
  const auto sep = text.find("://");
  if (sep == std::string::npos || sep == 0) return std::nullopt;
  Url url;
  url.scheme = text.substr(0, sep);
  std::string rest = text.substr(sep + 3);
  const auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  url.path = slash == std::string::npos ? "" : rest.substr(slash);
  const auto colon = authority.rfind(':');
  if (colon != std::string::npos) {
    const std::string port = authority.substr(colon + 1);
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), url.port);
    if (ec != std::errc() || end != port.data() + port.size()) return std::nullopt;
    authority = authority.substr(0, colon);
  }
  if (authority.empty()) return std::nullopt;
  url.host = authority;
  return url;
}

// --- MediaMTX ------------------------------------------------------------------------------

YAML::Node load_mediamtx_config() {
  return YAML::LoadFile((repo_root() / "deploy/media-service/mediamtx/mediamtx.yml").string());
}

int listener_port(const std::string& address) {
  const std::string port = address.substr(address.rfind(':') + 1);
  int value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size()) {
    throw std::runtime_error("not a [host]:port listener address: " + address);
  }
  return value;
}

}  // namespace livedub::testing
