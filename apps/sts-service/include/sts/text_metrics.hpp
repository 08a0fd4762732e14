#pragma once
// Word error rate and translation scores (chrF, BLEU), for the accuracy tests and benchmarks.
#include <cstddef>
#include <string>
#include <vector>

namespace livedub::sts {

// The one text normalisation for WER (tests and benchmarks alike):
//   - ASCII letters lower-cased; bytes >= 0x80 (UTF-8) kept as they are;
//   - numbers spelled out in English: "500" -> "five hundred", "28.8" -> "twenty eight point
//     eight", "3D" -> "three d" (digits glued to letters are split off);
//   - "#" -> "pound", "*" -> "star", "&" -> "and", "%" -> "percent" (what a speaker says);
//   - every other character except the apostrophe separates words ("voice-mail" -> "voice
//     mail"); apostrophes at a word's edges are dropped, inner ones kept ("you'd").
std::vector<std::string> normalized_words(const std::string& text);
// "twenty eight" for 28; English cardinal words for 0 <= n < 10^12.
std::string number_words(unsigned long long n);

struct WordErrors {
  std::size_t errors = 0;           // substitutions + deletions + insertions (Levenshtein on words)
  std::size_t reference_words = 0;
  double rate() const { return reference_words == 0 ? (errors == 0 ? 0.0 : 1.0)
                                                     : static_cast<double>(errors) / static_cast<double>(reference_words); }
};
WordErrors word_errors(const std::string& reference, const std::string& hypothesis);

}  // namespace livedub::sts

namespace livedub::sts {

// chrF (Popović 2015): character n-gram F-score, n = 1..6, beta = 2, whitespace removed,
// averaged over n; statistics summed over the corpus (as sacrebleu's corpus chrF). 0..100.
double corpus_chrf(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references);
// BLEU (Papineni 2002): corpus-level, 1..4-gram precisions, brevity penalty, on
// normalized-case tokens (lower-cased, punctuation split off). 0..100.
double corpus_bleu(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references);
// Latin-1 letters with diacritics replaced by their base letter ("contraseña" -> "contrasena",
// "Á" -> "A"): the asterisk Spanish transcripts are written without accents.
std::string fold_accents(const std::string& text);

}  // namespace livedub::sts
