#pragma once
// Machine translation behind one interface: Apertium (rule-based, zero download) and the neural
// engines (sts/neural_mt.hpp: OPUS-MT per pair, M2M100 for many languages). Which engine serves
// which pair is decided once, at start, by route_mt_pairs() from what is installed and the
// configuration (LIVEDUB_STS_MT_ENGINE, LIVEDUB_STS_MT_PAIRS).
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sts/engine.hpp"

namespace livedub::sts {

inline constexpr const char* kMtAuto = "auto";
inline constexpr const char* kMtApertium = "apertium";
inline constexpr const char* kMtMarian = "marian";
inline constexpr const char* kMtM2M100 = "m2m100";

struct MtRequest {
  std::string source;
  std::vector<std::string> targets;  // one translation each, in this order (batched where the engine can)
  std::string text;
  // The stream's previous sentence and its translation into each target (empty when none):
  // context for engines that use it.
  std::string previous_source;
  std::vector<std::string> previous_translations;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

class Translator {
 public:
  virtual ~Translator() = default;
  // "apertium", "marian" or "m2m100": the value of LIVEDUB_STS_MT_ENGINE that selects it.
  virtual std::string engine() const = 0;
  virtual std::vector<LanguagePair> pairs() const = 0;
  // Engine and model serving `pair`, as responses report it ("marian opus-mt-en-es int8 (CPU)").
  virtual std::string describe(const LanguagePair& pair) const = 0;
  // Thread-safe. Throws MtError (unsupported pair, engine failure) or DeadlineExpired.
  virtual std::vector<std::string> translate(const MtRequest& request) = 0;
};

// Which engine serves each pair. `preferred` is kMtAuto (a neural model where one is present:
// OPUS-MT, then M2M100, then Apertium) or one engine, used for every pair it has and auto for
// the rest. `overrides` ("en-es=apertium,en-fr=m2m100") pins single pairs. Throws ConfigError
// naming LIVEDUB_STS_MT_PAIRS for a malformed override or one whose engine lacks the pair, and
// LIVEDUB_STS_MT_ENGINE for an engine that serves no pair at all.
struct MtOffer {
  std::string engine;
  LanguagePair pair;
};
std::map<std::pair<std::string, std::string>, std::string> route_mt_pairs(const std::vector<MtOffer>& offers,
                                                                          const std::string& preferred,
                                                                          const std::string& overrides);

// Every installed translator, each pair routed to one of them.
class MtRouter {
 public:
  MtRouter() = default;
  MtRouter(std::vector<std::shared_ptr<Translator>> translators, const std::string& preferred,
           const std::string& overrides);

  std::vector<LanguagePair> pairs() const;
  bool supports(const std::string& source, const std::string& target) const;
  // "apertium" / "marian" / "m2m100" for the pair; throws MtError when no engine serves it.
  std::string engine_for(const std::string& source, const std::string& target) const;
  std::string describe(const std::string& source, const std::string& target) const;
  // One translation per target; targets served by the same translator go to it together.
  std::vector<std::string> translate(const MtRequest& request) const;

 private:
  Translator& translator_for(const std::string& source, const std::string& target) const;

  std::vector<std::shared_ptr<Translator>> translators_;
  std::map<std::pair<std::string, std::string>, std::string> routes_;
};

}  // namespace livedub::sts
