#include "sts/text_metrics.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace livedub::sts {

std::vector<std::string> normalized_words(const std::string& text) {
  std::string cleaned;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '\'' || c >= 0x80) {
      cleaned += static_cast<char>(std::tolower(c));
    } else {
      cleaned += ' ';
    }
  }
  std::istringstream in(cleaned);
  std::vector<std::string> words;
  std::string word;
  while (in >> word) words.push_back(word);
  return words;
}

WordErrors word_errors(const std::string& reference, const std::string& hypothesis) {
  const auto ref = normalized_words(reference);
  const auto hyp = normalized_words(hypothesis);
  // Classic edit distance over words, one row at a time.
  std::vector<std::size_t> previous(hyp.size() + 1), current(hyp.size() + 1);
  for (std::size_t j = 0; j <= hyp.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= ref.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= hyp.size(); ++j) {
      const std::size_t substitution = previous[j - 1] + (ref[i - 1] == hyp[j - 1] ? 0 : 1);
      current[j] = std::min({substitution, previous[j] + 1, current[j - 1] + 1});
    }
    std::swap(previous, current);
  }
  return WordErrors{previous[hyp.size()], ref.size()};
}

}  // namespace livedub::sts
