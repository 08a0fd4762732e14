#include "orchestrator/media_status.hpp"

#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>

#include "livedub/stream_id.hpp"

namespace livedub::orchestrator {
namespace {

// Calls `each` with the text between every <tag> and </tag> of `xml` in turn. Enough for
// rtmp_stat's output: flat, machine-written XML without attributes or CDATA.
template <typename Each>
void for_each_element(std::string_view xml, std::string_view tag, Each each) {
  // Built by appending: GCC 12's -Wrestrict misfires on "literal" + std::string at -O3.
  std::string open = "<";
  open.append(tag).append(">");
  std::string close = "</";
  close.append(tag).append(">");
  for (std::size_t at = 0;;) {
    const auto start = xml.find(open, at);
    if (start == std::string_view::npos) return;
    const auto content = start + open.size();
    const auto stop = xml.find(close, content);
    if (stop == std::string_view::npos) return;
    each(xml.substr(content, stop - content));
    at = stop + close.size();
  }
}

// The first <tag>'s text, "" when there is none.
std::string_view first_element(std::string_view xml, std::string_view tag) {
  std::string_view found;
  bool seen = false;
  for_each_element(xml, tag, [&](std::string_view text) {
    if (!seen) found = text;
    seen = true;
  });
  return found;
}

void add_if_input(std::vector<PublishedStream>& out, std::string_view path, std::string session) {
  auto parsed = parse_stream_path(path);
  if (!parsed || parsed->direction != StreamDirection::in) return;
  out.push_back({parsed->stream_id, session.size() <= 64 ? std::move(session) : std::string()});
}

std::vector<PublishedStream> parse_nginx_stat(std::string_view xml) {
  std::vector<PublishedStream> out;
  for_each_element(xml, "application", [&](std::string_view application) {
    const auto app_name = first_element(application, "name");
    for_each_element(application, "stream", [&](std::string_view stream) {
      std::optional<std::string> publisher;  // the publishing client's id
      for_each_element(stream, "client", [&](std::string_view client) {
        if (client.find("<publishing/>") != std::string_view::npos) publisher = std::string(first_element(client, "id"));
      });
      if (!publisher) return;
      std::string path(app_name);
      path.append("/").append(first_element(stream, "name"));
      add_if_input(out, path, *publisher);
    });
  });
  return out;
}

std::vector<PublishedStream> parse_mediamtx_paths(const nlohmann::json& body) {
  std::vector<PublishedStream> out;
  const auto items = body.find("items");
  if (items == body.end() || !items->is_array()) throw std::invalid_argument("MediaMTX paths list without 'items'");
  for (const auto& item : *items) {
    if (!item.is_object()) continue;
    const auto name = item.find("name");
    const auto ready = item.find("ready");
    if (name == item.end() || !name->is_string() || ready == item.end() || !ready->is_boolean() || !ready->get<bool>()) {
      continue;
    }
    std::string session;
    if (auto source = item.find("source"); source != item.end() && source->is_object()) {
      if (auto id = source->find("id"); id != source->end() && id->is_string()) session = id->get<std::string>();
    }
    add_if_input(out, name->get<std::string>(), session);
  }
  return out;
}

}  // namespace

std::vector<PublishedStream> parse_media_status(std::string_view body) {
  const auto first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) throw std::invalid_argument("empty media-server status");
  if (body[first] == '<') {
    if (body.find("<rtmp>") == std::string_view::npos) throw std::invalid_argument("XML that is not nginx-rtmp's rtmp_stat");
    return parse_nginx_stat(body);
  }
  auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    throw std::invalid_argument("media-server status is neither rtmp_stat XML nor a MediaMTX paths list");
  }
  return parse_mediamtx_paths(json);
}

ReconcileActions Reconciler::update(const std::vector<PublishedStream>& published,
                                    const std::vector<StreamStatus>& supervised) {
  ReconcileActions actions;
  std::set<std::string> published_ids;
  for (const auto& stream : published) published_ids.insert(stream.stream_id);
  std::set<std::string> supervised_ids;
  for (const auto& status : supervised) supervised_ids.insert(status.stream_id);

  for (const auto& stream : published) {
    if (!supervised_ids.count(stream.stream_id)) actions.start.push_back(stream);
  }

  std::map<std::string, int> missed;
  for (const auto& status : supervised) {
    // A stopping worker is on its way out already; a failed one waits for its publisher's stop.
    if (published_ids.count(status.stream_id) || status.state == WorkerState::stopping) continue;
    const int count = missed_[status.stream_id] + 1;
    if (count >= confirmations_) {
      actions.stop.push_back(status.stream_id);
    } else {
      missed[status.stream_id] = count;
    }
  }
  missed_ = std::move(missed);
  return actions;
}

}  // namespace livedub::orchestrator
