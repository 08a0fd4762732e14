#include "sts/speech_corpus.hpp"

#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "livedub/text.hpp"

namespace livedub::sts {
namespace {

std::string read_gzip(const std::filesystem::path& file) {
  std::unique_ptr<gzFile_s, decltype(&gzclose)> in(gzopen(file.c_str(), "rb"), &gzclose);
  if (!in) throw std::runtime_error("cannot open " + file.string());
  std::string text;
  char buffer[1 << 14];
  int n = 0;
  while ((n = gzread(in.get(), buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<std::size_t>(n));
  if (n < 0) throw std::runtime_error("cannot decompress " + file.string());
  return text;
}

}  // namespace

std::map<std::string, std::string> asterisk_transcripts(const std::string& language,
                                                        const std::filesystem::path& doc_dir) {
  const auto file = doc_dir / ("asterisk-core-sounds-" + language) / ("core-sounds-" + language + ".txt.gz");
  std::istringstream lines(read_gzip(file));
  std::map<std::string, std::string> out;
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == ';') continue;
    const auto colon = line.find(": ");
    if (colon == std::string::npos) continue;
    const auto key = trim(line.substr(0, colon));
    const auto text = trim(line.substr(colon + 2));
    if (key.empty() || text.empty() || text.front() == '[') continue;
    out[key] = text;
  }
  return out;
}

std::map<std::string, std::string> librivox_transcripts(const std::filesystem::path& dir) {
  std::ifstream in(dir / "transcription");
  std::map<std::string, std::string> refs;
  std::string line;
  while (std::getline(in, line)) {
    const auto open = line.find("<s>"), close = line.find("</s>"), paren = line.rfind('(');
    if (open == std::string::npos || close == std::string::npos || paren == std::string::npos) continue;
    refs[line.substr(paren + 1, line.find(')', paren) - paren - 1)] = trim(line.substr(open + 3, close - open - 3));
  }
  return refs;
}

EvalPart eval_part(const std::string& id) {
  std::uint32_t hash = 2166136261u;
  for (unsigned char c : id) hash = (hash ^ c) * 16777619u;
  return hash % 2 == 0 ? EvalPart::kTune : EvalPart::kTest;
}

const char* to_string(EvalPart part) { return part == EvalPart::kTune ? "tune" : "test"; }

std::vector<AsrEvalItem> asr_eval_set(EvalPart part, const std::filesystem::path& sounds_dir,
                                      const std::filesystem::path& doc_dir, const std::filesystem::path& librivox_dir) {
  std::vector<AsrEvalItem> items;
  std::map<std::string, std::string> prompts;
  try {
    prompts = asterisk_transcripts("en", doc_dir);
  } catch (const std::runtime_error&) {
    // Only librivox, below.
  }
  for (const auto& [key, text] : prompts) {
    const auto wav = sounds_dir / "en_US_f_Allison" / (key + ".wav");
    if (std::filesystem::is_regular_file(wav)) items.push_back({"asterisk-en/" + key, wav, text});
  }
  for (const auto& [key, text] : librivox_transcripts(librivox_dir)) {
    const auto wav = librivox_dir / (key + ".wav");
    if (std::filesystem::is_regular_file(wav)) items.push_back({"librivox/" + key, wav, text});
  }
  if (items.empty()) {
    throw std::runtime_error("no recognition set: install asterisk-core-sounds-en, asterisk-core-sounds-en-wav "
                             "and pocketsphinx-testdata");
  }
  std::erase_if(items, [part](const AsrEvalItem& item) { return eval_part(item.id) != part; });
  return items;
}

std::vector<ParallelSentence> asterisk_parallel(const std::string& source_language, const std::string& target_language,
                                                const std::filesystem::path& doc_dir) {
  const auto source = asterisk_transcripts(source_language, doc_dir);
  const auto target = asterisk_transcripts(target_language, doc_dir);
  std::vector<ParallelSentence> out;
  for (const auto& [key, text] : source) {
    if (const auto it = target.find(key); it != target.end()) out.push_back({key, text, it->second});
  }
  return out;
}

}  // namespace livedub::sts
