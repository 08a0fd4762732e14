#include "orchestrator/media_status.hpp"

#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "livedub/stream_id.hpp"

namespace livedub::orchestrator {
namespace {

// The text between <tag> and </tag> from `from`; npos-safe. Enough for rtmp_stat's output,
// which is flat, machine-written XML without attributes or CDATA.
std::string_view element(std::string_view xml, std::string_view tag, std::size_t from, std::size_t* end) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  const auto start = xml.find(open, from);
  if (start == std::string_view::npos) return {};
  const auto content = start + open.size();
  const auto stop = xml.find(close, content);
  if (stop == std::string_view::npos) return {};
  if (end) *end = stop + close.size();
  return xml.substr(content, stop - content);
}

void add_if_input(std::vector<PublishedStream>& out, std::string_view path, std::string session) {
  auto parsed = parse_stream_path(path);
  if (!parsed || parsed->direction != StreamDirection::in) return;
  out.push_back({parsed->stream_id, session.size() <= 64 ? std::move(session) : std::string()});
}

std::vector<PublishedStream> parse_nginx_stat(std::string_view xml) {
  std::vector<PublishedStream> out;
  std::size_t at = 0;
  while (true) {
    std::size_t app_end = 0;
    const auto application = element(xml, "application", at, &app_end);
    if (application.empty()) break;
    at = app_end;
    const auto app_name = element(application, "name", 0, nullptr);
    std::size_t stream_at = 0;
    while (true) {
      std::size_t stream_end = 0;
      const auto stream = element(application, "stream", stream_at, &stream_end);
      if (stream.empty()) break;
      stream_at = stream_end;
      const auto name = element(stream, "name", 0, nullptr);
      std::string session;
      bool publishing = false;
      std::size_t client_at = 0;
      while (true) {
        std::size_t client_end = 0;
        const auto client = element(stream, "client", client_at, &client_end);
        if (client.empty()) break;
        client_at = client_end;
        if (client.find("<publishing/>") != std::string_view::npos) {
          publishing = true;
          session = std::string(element(client, "id", 0, nullptr));
        }
      }
      if (publishing) add_if_input(out, std::string(app_name) + "/" + std::string(name), session);
    }
  }
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
