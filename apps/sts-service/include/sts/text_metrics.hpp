#pragma once
// Word error rate, for the ASR accuracy tests and the benchmark.
#include <cstddef>
#include <string>
#include <vector>

namespace livedub::sts {

// Lower-cased words with punctuation other than apostrophes removed.
std::vector<std::string> normalized_words(const std::string& text);

struct WordErrors {
  std::size_t errors = 0;           // substitutions + deletions + insertions (Levenshtein on words)
  std::size_t reference_words = 0;
  double rate() const { return reference_words == 0 ? (errors == 0 ? 0.0 : 1.0)
                                                     : static_cast<double>(errors) / static_cast<double>(reference_words); }
};
WordErrors word_errors(const std::string& reference, const std::string& hypothesis);

}  // namespace livedub::sts
