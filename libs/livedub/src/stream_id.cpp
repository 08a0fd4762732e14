#include "livedub/stream_id.hpp"

#include <algorithm>
#include <cctype>

#include "livedub/sts_protocol.hpp"

namespace livedub {

bool is_valid_stream_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxStreamIdLength) return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  }
  return true;
}

std::optional<StreamPath> parse_stream_path(std::string_view path) {
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  constexpr std::string_view prefix = "live/";
  if (path.substr(0, prefix.size()) != prefix) return std::nullopt;
  path.remove_prefix(prefix.size());
  auto slash = path.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto id = path.substr(0, slash);
  auto leaf = path.substr(slash + 1);
  if (!is_valid_stream_id(id)) return std::nullopt;
  if (leaf == "in") return StreamPath{std::string(id), StreamDirection::in, {}};
  if (leaf == "out") return StreamPath{std::string(id), StreamDirection::out, {}};
  constexpr std::string_view out_prefix = "out-";
  if (leaf.substr(0, out_prefix.size()) == out_prefix) {
    const auto lang = leaf.substr(out_prefix.size());
    const bool lower = std::none_of(lang.begin(), lang.end(), [](char c) { return std::isupper(static_cast<unsigned char>(c)); });
    if (lower && sts::is_valid_language_tag(lang)) return StreamPath{std::string(id), StreamDirection::out, std::string(lang)};
  }
  return std::nullopt;
}

}  // namespace livedub
