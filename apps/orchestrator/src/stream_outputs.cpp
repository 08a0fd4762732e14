#include "orchestrator/stream_outputs.hpp"

#include "livedub/captions.hpp"

namespace livedub::orchestrator {

namespace {
std::string captions_url(std::string_view stream_id, const std::string& lang, bool live) {
  std::string url = "/v1/streams/";
  url += stream_id;
  url += "/captions/";
  url += lang;
  url += live ? "/live.vtt" : ".vtt";
  return url;
}
}  // namespace

nlohmann::json outputs_json(std::string_view stream_id, const LanguageSettings& languages) {
  nlohmann::json list = nlohmann::json::array();
  list.push_back({{"lang", languages.source_lang},
                  {"kind", "source"},
                  {"path", "live/" + std::string(stream_id) + "/in"},
                  {"captions", captions_url(stream_id, languages.source_lang, false)},
                  {"live_captions", captions_url(stream_id, languages.source_lang, true)}});
  for (std::size_t i = 0; i < languages.target_langs.size(); ++i) {
    const auto& lang = languages.target_langs[i];
    list.push_back({{"lang", lang},
                    {"kind", "translation"},
                    {"path", "live/" + std::string(stream_id) + "/" + output_leaf_for_language(lang, i == 0)},
                    {"captions", captions_url(stream_id, lang, false)},
                    {"live_captions", captions_url(stream_id, lang, true)}});
  }
  return list;
}

std::vector<std::string> missing_language_pairs(const nlohmann::json& capabilities, const LanguageSettings& languages) {
  const auto languages_json = capabilities.is_object() ? capabilities.value("languages", nlohmann::json::object())
                                                       : nlohmann::json::object();
  if (languages_json.is_object() && languages_json.value("any_pair", false)) return {};
  const auto pairs = languages_json.is_object() ? languages_json.value("pairs", nlohmann::json::array())
                                                : nlohmann::json::array();
  std::vector<std::string> missing;
  for (const auto& target : languages.target_langs) {
    bool offered = false;
    for (const auto& pair : pairs) {
      if (pair.is_object() && pair.value("source", "") == languages.source_lang && pair.value("target", "") == target) {
        offered = true;
      }
    }
    if (!offered) {
      std::string name = languages.source_lang;
      name += "->";
      name += target;
      missing.push_back(std::move(name));
    }
  }
  return missing;
}

}  // namespace livedub::orchestrator
