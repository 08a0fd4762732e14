#include "sts/glossary.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "livedub/files.hpp"
#include "livedub/sts_protocol.hpp"
#include "livedub/text.hpp"
#include "sts/speech_recognizer.hpp"

namespace livedub::sts {
namespace {

// ASCII case folding: enough for matching recogniser output, which is lower-case ASCII for
// pocketsphinx; UTF-8 bytes compare exactly.
std::string fold(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool word_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || u >= 0x80 || c == '\'';
}

// "Zlvdbqa", "Zlvdbqb", ...: letters only (the tokenizer keeps it one word), capitalised
// (taggers treat it as a proper noun) and in no dictionary.
std::string placeholder(std::size_t index) {
  std::string suffix;
  do {
    suffix.insert(suffix.begin(), static_cast<char>('a' + index % 26));
    index /= 26;
  } while (index > 0);
  return "Zlvdbq" + suffix;
}

}  // namespace

Glossary Glossary::parse(std::string_view text, const std::string& file_name) {
  Glossary glossary;
  std::istringstream lines{std::string(text)};
  std::string raw;
  int number = 0;
  auto fail = [&](const std::string& why) {
    return GlossaryError(file_name + ":" + std::to_string(number) + ": " + why);
  };
  while (std::getline(lines, raw)) {
    ++number;
    if (drop_invalid_utf8(raw) != raw) throw fail("not valid UTF-8");
    auto line = trim(raw);
    if (line.empty() || line[0] == '#') continue;
    GlossaryEntry entry;
    entry.line = number;
    const auto colon = line.find(':');
    const auto equals = line.find('=');
    if (colon != std::string::npos && (equals == std::string::npos || colon < equals) &&
        line.find(' ') > colon) {
      // "en-es: source = target"
      const auto pair = line.substr(0, colon);
      const auto dash = pair.find('-');
      if (dash == std::string::npos) throw fail("'" + pair + "' is not a language pair like en-es");
      entry.source_lang = pair.substr(0, dash);
      entry.target_lang = pair.substr(dash + 1);
      if (!is_valid_language_tag(entry.source_lang) || !is_valid_language_tag(entry.target_lang)) {
        throw fail("'" + pair + "' is not a language pair like en-es");
      }
      if (equals == std::string::npos) throw fail("a forced translation needs 'source = target'");
      entry.source = trim(std::string_view(line).substr(colon + 1, equals - colon - 1));
      entry.target = trim(std::string_view(line).substr(equals + 1));
      if (entry.source.empty() || entry.target.empty()) throw fail("both sides of '=' must name a term");
    } else if (equals != std::string::npos) {
      throw fail("a forced translation needs its language pair: 'en-es: source = target'");
    } else {
      entry.source = entry.target = line;
    }
    if (entry.source.size() > kMaxTermBytes || entry.target.size() > kMaxTermBytes) {
      throw fail("a term is longer than " + std::to_string(kMaxTermBytes) + " bytes");
    }
    if (!word_byte(entry.source.front()) || !word_byte(entry.source.back())) {
      throw fail("a term must start and end with a letter or digit: '" + entry.source + "'");
    }
    if (glossary.entries_.size() == kMaxEntries) throw fail("more than " + std::to_string(kMaxEntries) + " entries");
    glossary.entries_.push_back(std::move(entry));
  }
  std::stable_sort(glossary.entries_.begin(), glossary.entries_.end(),
                   [](const GlossaryEntry& a, const GlossaryEntry& b) { return a.source.size() > b.source.size(); });
  for (const auto& entry : glossary.entries_) glossary.folded_sources_.push_back(fold(entry.source));
  return glossary;
}

Glossary Glossary::load(const std::filesystem::path& file) {
  const auto text = read_whole_file(file);
  if (!text) throw GlossaryError(file.string() + ": cannot be read");
  return parse(*text, file.string());
}

Glossary::Protected Glossary::protect(const std::string& text, const std::string& source_lang,
                                      const std::string& target_lang) const {
  Protected out;
  if (entries_.empty()) {
    out.text = text;
    return out;
  }
  const auto folded = fold(text);
  std::size_t i = 0;
  while (i < text.size()) {
    const bool at_word_start = i == 0 || !word_byte(text[i - 1]);
    const GlossaryEntry* match = nullptr;
    if (at_word_start) {
      for (std::size_t k = 0; k < entries_.size(); ++k) {
        const auto& entry = entries_[k];
        const bool applies = entry.source_lang.empty() ||
                             (entry.source_lang == source_lang && entry.target_lang == target_lang);
        const auto end = i + entry.source.size();
        if (applies && end <= text.size() && folded.compare(i, entry.source.size(), folded_sources_[k]) == 0 &&
            (end == text.size() || !word_byte(text[end]))) {
          match = &entry;
          break;  // longest first
        }
      }
    }
    if (match != nullptr) {
      const auto name = placeholder(out.placeholders.size());
      out.placeholders.emplace_back(name, match->target);
      out.text += name;
      i += match->source.size();
    } else {
      out.text += text[i++];
    }
  }
  return out;
}

std::string Glossary::restore(std::string translation, const Protected& protected_text) {
  // Latest placeholders first: "Zlvdbqab" must not be mistaken for "Zlvdbqa" + "b".
  for (auto it = protected_text.placeholders.rbegin(); it != protected_text.placeholders.rend(); ++it) {
    replace_all(translation, it->first, it->second);
  }
  return translation;
}

bool Glossary::starts_with_term(const std::string& translation, const Protected& protected_text) {
  for (const auto& [name, output] : protected_text.placeholders) {
    if (translation.starts_with(name)) return true;
  }
  return false;
}

bool Glossary::starts_with_output_term(const std::string& translation, const std::string& source_lang,
                                       const std::string& target_lang) const {
  for (const auto& entry : entries_) {
    const bool applies = entry.source_lang.empty() || (entry.source_lang == source_lang && entry.target_lang == target_lang);
    if (applies && translation.starts_with(entry.target) &&
        (translation.size() == entry.target.size() || !word_byte(translation[entry.target.size()]))) {
      return true;
    }
  }
  return false;
}

std::vector<std::string> Glossary::recognition_hints(const std::string& source_lang) const {
  std::vector<std::string> hints;
  for (const auto& entry : entries_) {
    if (entry.source_lang.empty() || entry.source_lang == source_lang) {
      if (std::find(hints.begin(), hints.end(), entry.source) == hints.end()) hints.push_back(entry.source);
    }
  }
  return hints;
}

}  // namespace livedub::sts
