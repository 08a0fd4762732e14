#pragma once
// Machine translation with Apertium (Debian's apertium + apertium-<pair> packages).
// Running `apertium eng-spa` per request costs ~0.2-0.5 s of start-up (nine processes loading
// their transducers). Instead each language pair runs its mode pipeline once, long-lived, in
// null-flush mode (-z): we write one text followed by NUL and read the translation up to the
// NUL that every stage passes on. Warm, a short sentence takes a few milliseconds.
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "livedub/process.hpp"
#include "sts/translator.hpp"

namespace livedub::sts {

class MtError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An installed translation direction, from <modes_dir>/<name>.mode.
struct ApertiumMode {
  std::string name;      // "eng-spa"
  std::string source;    // "en"  (ISO 639-1 where one exists, else the mode's own code)
  std::string target;    // "es"
  std::string pipeline;  // the mode file's shell pipeline
};

// "eng" -> "en"; unknown codes are returned unchanged.
std::string iso639_1_from_apertium(const std::string& code);
// Modes named <src>-<dst>.mode (variants such as spa-eng_US are skipped); sorted by name.
std::vector<ApertiumMode> discover_apertium_modes(const std::filesystem::path& modes_dir);

// The mode pipeline with null-flush enabled on every Apertium stage and generation without
// unknown-word marks ($1 = -n); throws MtError if a stage is not a known Apertium tool.
std::string null_flush_pipeline(const std::string& mode_pipeline);
// Plain text -> Apertium stream format (reserved characters escaped, newlines as blanks).
std::string to_apertium_stream(const std::string& text);
// Apertium stream format -> plain text: superblanks dropped, escapes undone, leftover
// analysis marks (*, #, @) removed, whitespace collapsed.
std::string from_apertium_stream(const std::string& stream);

// One long-lived pipeline for one mode. Calls are serialized; a pipeline that fails or times
// out is killed and restarted on the next call.
class ApertiumPipeline {
 public:
  explicit ApertiumPipeline(ApertiumMode mode);
  const ApertiumMode& mode() const { return mode_; }
  void start();  // starts the processes and warms them with a first sentence; throws MtError
  std::string translate(const std::string& text, std::chrono::milliseconds timeout);

 private:
  std::string exchange(const std::string& request, std::chrono::milliseconds timeout);

  ApertiumMode mode_;
  std::string command_;
  std::mutex mutex_;
  std::optional<ChildProcess> process_;
};

class ApertiumTranslator {
 public:
  // Discovers the installed modes and starts a pipeline for each; throws MtError when none.
  explicit ApertiumTranslator(const std::filesystem::path& modes_dir);
  std::vector<ApertiumMode> modes() const;
  bool supports(const std::string& source, const std::string& target) const;
  // Thread-safe. Throws MtError for an unsupported pair or a pipeline failure.
  std::string translate(const std::string& source, const std::string& target, const std::string& text,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  std::map<std::pair<std::string, std::string>, std::unique_ptr<ApertiumPipeline>> pipelines_;
};

// Apertium as one of the STS's translators (sts/translator.hpp); it ignores context.
class ApertiumEngine final : public Translator {
 public:
  ApertiumEngine(const std::filesystem::path& modes_dir, std::chrono::milliseconds timeout)
      : translator_(modes_dir), timeout_(timeout) {}
  std::string engine() const override { return kMtApertium; }
  std::vector<LanguagePair> pairs() const override;
  std::string describe(const LanguagePair& pair) const override;
  std::vector<std::string> translate(const MtRequest& request) override;
  std::vector<ApertiumMode> modes() const { return translator_.modes(); }

 private:
  ApertiumTranslator translator_;
  std::chrono::milliseconds timeout_;
};

}  // namespace livedub::sts
