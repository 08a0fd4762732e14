#include "sts/text_metrics.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <map>
#include <sstream>

namespace livedub::sts {
namespace {

const std::array<const char*, 20> kOnes = {"zero",    "one",     "two",       "three",    "four",
                                           "five",    "six",     "seven",     "eight",    "nine",
                                           "ten",     "eleven",  "twelve",    "thirteen", "fourteen",
                                           "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
const std::array<const char*, 10> kTens = {"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"};

std::string below_thousand(unsigned n) {
  std::string out;
  if (n >= 100) {
    out.append(kOnes[n / 100]).append(" hundred");
    n %= 100;
    if (n == 0) return out;
    out += ' ';
  }
  if (n < 20) return out + kOnes[n];
  out += kTens[n / 10];
  if (n % 10 != 0) out.append(" ").append(kOnes[n % 10]);
  return out;
}

void append_words(std::vector<std::string>& words, const std::string& text) {
  std::istringstream in(text);
  std::string word;
  while (in >> word) words.push_back(word);
}

}  // namespace

std::string number_words(unsigned long long n) {
  if (n < 1000) return below_thousand(static_cast<unsigned>(n));
  static const std::array<std::pair<unsigned long long, const char*>, 3> kScales = {
      {{1'000'000'000ULL, "billion"}, {1'000'000ULL, "million"}, {1'000ULL, "thousand"}}};
  std::string out;
  for (const auto& [scale, name] : kScales) {
    if (n >= scale) {
      if (!out.empty()) out += ' ';
      out.append(number_words(n / scale)).append(" ").append(name);
      n %= scale;
    }
  }
  if (n > 0) out.append(" ").append(below_thousand(static_cast<unsigned>(n)));
  return out;
}

std::vector<std::string> normalized_words(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  auto flush = [&] {
    // Apostrophes only inside a word: 'quoted' and trailing ones are punctuation.
    const auto first = word.find_first_not_of('\'');
    if (first != std::string::npos) words.push_back(word.substr(first, word.find_last_not_of('\'') - first + 1));
    word.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (std::isdigit(c)) {
      flush();
      std::size_t end = i;
      while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
      const auto digits = text.substr(i, end - i);
      // Too long for a cardinal (a phone number): digit by digit.
      if (digits.size() > 12) {
        for (char d : digits) words.push_back(kOnes[static_cast<unsigned>(d - '0')]);
      } else {
        append_words(words, number_words(std::stoull(digits)));
      }
      // "28.8": the decimals are read digit by digit.
      if (end + 1 < text.size() && text[end] == '.' && std::isdigit(static_cast<unsigned char>(text[end + 1]))) {
        words.push_back("point");
        for (++end; end < text.size() && std::isdigit(static_cast<unsigned char>(text[end])); ++end) {
          words.push_back(kOnes[static_cast<unsigned>(text[end] - '0')]);
        }
      }
      i = end - 1;
    } else if (std::isalpha(c) || c == '\'' || c >= 0x80) {
      word += static_cast<char>(std::tolower(c));
    } else {
      flush();
      if (c == '#') words.push_back("pound");
      if (c == '*') words.push_back("star");
      if (c == '&') words.push_back("and");
      if (c == '%') words.push_back("percent");
    }
  }
  flush();
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

namespace {

// UTF-8 characters of `text` without whitespace (chrF ignores spaces).
std::vector<std::string> characters(const std::string& text) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    if (!std::isspace(c)) out.push_back(text.substr(i, length));
    i += length;
  }
  return out;
}

template <typename Unit>
std::map<std::vector<Unit>, int> ngrams(const std::vector<Unit>& units, std::size_t n) {
  std::map<std::vector<Unit>, int> counts;
  for (std::size_t i = 0; i + n <= units.size(); ++i) ++counts[std::vector<Unit>(units.begin() + static_cast<std::ptrdiff_t>(i), units.begin() + static_cast<std::ptrdiff_t>(i + n))];
  return counts;
}

template <typename Unit>
int matches(const std::map<std::vector<Unit>, int>& hyp, const std::map<std::vector<Unit>, int>& ref) {
  int total = 0;
  for (const auto& [gram, count] : hyp) {
    if (const auto it = ref.find(gram); it != ref.end()) total += std::min(count, it->second);
  }
  return total;
}

template <typename Unit>
int count_of(const std::map<std::vector<Unit>, int>& grams) {
  int total = 0;
  for (const auto& [gram, count] : grams) total += count;
  return total;
}

// BLEU tokens: lower-cased words, punctuation as tokens of its own (as sacrebleu's 13a, roughly).
std::vector<std::string> bleu_tokens(const std::string& text) {
  std::vector<std::string> out;
  std::string word;
  for (unsigned char c : text) {
    if (std::isspace(c)) {
      if (!word.empty()) out.push_back(word);
      word.clear();
    } else if (c < 0x80 && std::ispunct(c) && c != '\'') {
      if (!word.empty()) out.push_back(word);
      word.clear();
      out.emplace_back(1, static_cast<char>(c));
    } else {
      word += static_cast<char>(std::tolower(c));
    }
  }
  if (!word.empty()) out.push_back(word);
  return out;
}

}  // namespace

double corpus_chrf(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references) {
  constexpr std::size_t kOrder = 6;
  constexpr double kBeta = 2.0;
  std::array<double, kOrder> matched{}, hyp_total{}, ref_total{};
  for (std::size_t s = 0; s < std::min(hypotheses.size(), references.size()); ++s) {
    const auto hyp = characters(hypotheses[s]);
    const auto ref = characters(references[s]);
    for (std::size_t n = 1; n <= kOrder; ++n) {
      const auto h = ngrams(hyp, n), r = ngrams(ref, n);
      matched[n - 1] += matches(h, r);
      hyp_total[n - 1] += count_of(h);
      ref_total[n - 1] += count_of(r);
    }
  }
  double precision = 0, recall = 0;
  std::size_t orders = 0;
  for (std::size_t n = 0; n < kOrder; ++n) {
    if (hyp_total[n] == 0 || ref_total[n] == 0) continue;
    precision += matched[n] / hyp_total[n];
    recall += matched[n] / ref_total[n];
    ++orders;
  }
  if (orders == 0) return 0.0;
  precision /= static_cast<double>(orders);
  recall /= static_cast<double>(orders);
  if (precision + recall == 0) return 0.0;
  const double b2 = kBeta * kBeta;
  return 100.0 * (1 + b2) * precision * recall / (b2 * precision + recall);
}

double corpus_bleu(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references) {
  constexpr std::size_t kOrder = 4;
  std::array<double, kOrder> matched{}, total{};
  double hyp_length = 0, ref_length = 0;
  for (std::size_t s = 0; s < std::min(hypotheses.size(), references.size()); ++s) {
    const auto hyp = bleu_tokens(hypotheses[s]);
    const auto ref = bleu_tokens(references[s]);
    hyp_length += static_cast<double>(hyp.size());
    ref_length += static_cast<double>(ref.size());
    for (std::size_t n = 1; n <= kOrder; ++n) {
      const auto h = ngrams(hyp, n);
      matched[n - 1] += matches(h, ngrams(ref, n));
      total[n - 1] += count_of(h);
    }
  }
  double log_precision = 0;
  for (std::size_t n = 0; n < kOrder; ++n) {
    if (matched[n] == 0 || total[n] == 0) return 0.0;
    log_precision += std::log(matched[n] / total[n]) / kOrder;
  }
  const double brevity = hyp_length >= ref_length ? 1.0 : std::exp(1.0 - ref_length / std::max(1.0, hyp_length));
  return 100.0 * brevity * std::exp(log_precision);
}

std::string fold_accents(const std::string& text) {
  // U+00C0..U+00FF (UTF-8 C3 80..C3 BF) -> base letters; '?' where there is none (×, ÷, Þ...).
  static constexpr const char* kBase = "AAAAAAACEEEEIIIIDNOOOOO?OUUUUY??aaaaaaaceeeeiiiidnooooo?ouuuuy?y";
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const auto next = i + 1 < text.size() ? static_cast<unsigned char>(text[i + 1]) : 0;
    if (c == 0xC3 && next >= 0x80 && next <= 0xBF && kBase[next - 0x80] != '?') {
      out += kBase[next - 0x80];
      ++i;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace livedub::sts
