#pragma once
// A deployment's glossary (LIVEDUB_STS_GLOSSARY): terms that are never translated (names,
// brands) and forced translations, applied around MT so they come through intact. The file:
//
//   # comments start with '#'; blank lines are ignored
//   livedub                                  <- kept as written, in every pair
//   OBS Studio
//   en-es: stream key = clave de transmisión  <- forced, only when translating en -> es
//
// Matching is case-insensitive on whole words (recognisers lower-case their output), longest
// term first; the glossary's own spelling is what the listener hears.
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace livedub::sts {

class GlossaryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;  // "<file>:<line>: <what is wrong>"
};

struct GlossaryEntry {
  std::string source;       // as written in the file
  std::string target;       // == source for a kept term
  std::string source_lang;  // empty for a kept term (every pair)
  std::string target_lang;
  int line = 0;
};

class Glossary {
 public:
  static constexpr std::size_t kMaxEntries = 10'000;
  static constexpr std::size_t kMaxTermBytes = 200;

  Glossary() = default;
  // Throws GlossaryError naming `file_name` and the line.
  static Glossary parse(std::string_view text, const std::string& file_name);
  static Glossary load(const std::filesystem::path& file);

  bool empty() const { return entries_.empty(); }
  const std::vector<GlossaryEntry>& entries() const { return entries_; }

  // The text MT sees: every glossary match replaced by a placeholder word that no Apertium
  // dictionary knows (so it passes through untranslated, in place), and what each becomes.
  struct Protected {
    std::string text;
    std::vector<std::pair<std::string, std::string>> placeholders;  // placeholder -> output text
  };
  Protected protect(const std::string& text, const std::string& source_lang, const std::string& target_lang) const;
  // The translation with each placeholder replaced by its output text.
  static std::string restore(std::string translation, const Protected& protected_text);
  // True when MT output starts with a placeholder: a glossary term, whose case is the
  // glossary's, not a sentence's.
  static bool starts_with_term(const std::string& translation, const Protected& protected_text);
  // True when `translation` (restored) starts with a term this glossary outputs for the pair.
  bool starts_with_output_term(const std::string& translation, const std::string& source_lang,
                               const std::string& target_lang) const;

  // Terms the recogniser should expect in `source_lang` (whisper takes them in its prompt).
  std::vector<std::string> recognition_hints(const std::string& source_lang) const;

 private:
  std::vector<GlossaryEntry> entries_;  // longest source first
  std::vector<std::string> folded_sources_;  // entries_[i].source case-folded, once at parse
};

}  // namespace livedub::sts
