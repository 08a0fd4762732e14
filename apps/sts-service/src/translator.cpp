#include "sts/translator.hpp"

#include <algorithm>
#include <set>
#include <sstream>

#include "livedub/config.hpp"
#include "sts/apertium_mt.hpp"

namespace livedub::sts {
namespace {

using Key = std::pair<std::string, std::string>;

// Auto's order: a per-pair neural model, the multilingual one, then the rule-based engine.
int auto_rank(const std::string& engine) {
  if (engine == kMtMarian) return 0;
  if (engine == kMtM2M100) return 1;
  return 2;
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

}  // namespace

std::map<Key, std::string> route_mt_pairs(const std::vector<MtOffer>& offers, const std::string& preferred,
                                          const std::string& overrides) {
  std::map<Key, std::vector<std::string>> engines_of;
  for (const auto& offer : offers) engines_of[{offer.pair.source, offer.pair.target}].push_back(offer.engine);
  std::map<Key, std::string> routes;
  bool preferred_used = preferred == kMtAuto;
  for (auto& [key, engines] : engines_of) {
    std::sort(engines.begin(), engines.end(),
              [](const auto& a, const auto& b) { return auto_rank(a) < auto_rank(b) || (auto_rank(a) == auto_rank(b) && a < b); });
    const bool has_preferred = std::find(engines.begin(), engines.end(), preferred) != engines.end();
    routes[key] = has_preferred ? preferred : engines.front();
    preferred_used = preferred_used || has_preferred;
  }
  if (!preferred_used) {
    throw ConfigError("LIVEDUB_STS_MT_ENGINE", "'" + preferred + "', but no installed " + preferred +
                                                   " model serves a pair (see scripts/fetch-mt-model and "
                                                   "LIVEDUB_STS_MODEL_DIR)");
  }
  std::istringstream list(overrides);
  std::string item;
  while (std::getline(list, item, ',')) {
    item = trim(item);
    if (item.empty()) continue;
    const auto eq = item.find('=');
    const auto dash = item.find('-');
    if (eq == std::string::npos || dash == std::string::npos || dash > eq || dash == 0 || dash + 1 == eq ||
        eq + 1 == item.size()) {
      throw ConfigError("LIVEDUB_STS_MT_PAIRS", "'" + item + "' is not SOURCE-TARGET=ENGINE (e.g. en-es=apertium)");
    }
    const Key key{trim(item.substr(0, dash)), trim(item.substr(dash + 1, eq - dash - 1))};
    const auto engine = trim(item.substr(eq + 1));
    auto it = engines_of.find(key);
    if (it == engines_of.end() || std::find(it->second.begin(), it->second.end(), engine) == it->second.end()) {
      std::string have;
      if (it != engines_of.end()) {
        for (const auto& e : it->second) have += (have.empty() ? "" : ", ") + e;
      }
      throw ConfigError("LIVEDUB_STS_MT_PAIRS", "'" + item + "': no installed " + engine + " model translates " +
                                                    key.first + " -> " + key.second +
                                                    (have.empty() ? " (no engine does)" : " (installed: " + have + ")"));
    }
    routes[key] = engine;
  }
  return routes;
}

MtRouter::MtRouter(std::vector<std::shared_ptr<Translator>> translators, const std::string& preferred,
                   const std::string& overrides)
    : translators_(std::move(translators)) {
  std::vector<MtOffer> offers;
  for (const auto& t : translators_) {
    for (const auto& pair : t->pairs()) offers.push_back({t->engine(), pair});
  }
  routes_ = route_mt_pairs(offers, preferred, overrides);
}

std::vector<LanguagePair> MtRouter::pairs() const {
  std::vector<LanguagePair> out;
  for (const auto& [key, engine] : routes_) out.push_back({key.first, key.second});
  return out;
}

bool MtRouter::supports(const std::string& source, const std::string& target) const {
  return routes_.count({source, target}) != 0;
}

std::string MtRouter::engine_for(const std::string& source, const std::string& target) const {
  auto it = routes_.find({source, target});
  if (it == routes_.end()) throw MtError("no translation engine installed for " + source + " -> " + target);
  return it->second;
}

Translator& MtRouter::translator_for(const std::string& source, const std::string& target) const {
  const auto engine = engine_for(source, target);
  for (const auto& t : translators_) {
    if (t->engine() != engine) continue;
    const auto pairs = t->pairs();
    if (std::find(pairs.begin(), pairs.end(), LanguagePair{source, target}) != pairs.end()) return *t;
  }
  throw MtError("no translation engine installed for " + source + " -> " + target);
}

std::string MtRouter::describe(const std::string& source, const std::string& target) const {
  return translator_for(source, target).describe({source, target});
}

std::vector<std::string> MtRouter::translate(const MtRequest& request) const {
  std::vector<std::string> out(request.targets.size());
  std::vector<bool> done(request.targets.size(), false);
  for (std::size_t i = 0; i < request.targets.size(); ++i) {
    if (done[i]) continue;
    auto& translator = translator_for(request.source, request.targets[i]);
    // Every target this translator serves goes in one call (one batch on a multilingual model).
    MtRequest batch = request;
    batch.targets.clear();
    batch.previous_translations.clear();
    std::vector<std::size_t> slots;
    for (std::size_t j = i; j < request.targets.size(); ++j) {
      if (done[j] || &translator_for(request.source, request.targets[j]) != &translator) continue;
      batch.targets.push_back(request.targets[j]);
      batch.previous_translations.push_back(j < request.previous_translations.size() ? request.previous_translations[j]
                                                                                     : std::string{});
      slots.push_back(j);
    }
    auto translations = translator.translate(batch);
    if (translations.size() != slots.size()) throw MtError(translator.engine() + " returned the wrong number of translations");
    for (std::size_t k = 0; k < slots.size(); ++k) {
      out[slots[k]] = std::move(translations[k]);
      done[slots[k]] = true;
    }
  }
  return out;
}

}  // namespace livedub::sts
