#pragma once
// Real speech and parallel text that Debian ships, for the accuracy tests and benchmarks:
//   - asterisk-core-sounds-<lang>-wav: ~560 studio prompts per language (8 kHz telephone
//     speech), transcripts in asterisk-core-sounds-<lang>'s core-sounds-<lang>.txt.gz; the
//     English and Spanish sets share their keys (parallel sentences);
//   - pocketsphinx-testdata: five librivox recordings (16 kHz) with transcripts.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace livedub::sts {

inline constexpr const char* kAsteriskDocDir = "/usr/share/doc";
inline constexpr const char* kAsteriskSoundsDir = "/usr/share/asterisk/sounds";
inline constexpr const char* kLibrivoxDir = "/usr/share/pocketsphinx/test/data/librivox";

// {key -> text} of core-sounds-<language>.txt.gz ("agent-pass" -> "Please enter your
// password..."). Entries whose text is a description in brackets ("[ascending tones]") are not
// speech and are left out. Throws std::runtime_error naming the file when it is missing.
std::map<std::string, std::string> asterisk_transcripts(const std::string& language,
                                                        const std::filesystem::path& doc_dir = kAsteriskDocDir);

// {file id -> transcript} of the librivox recordings (its "<s> words </s> (file-id)" file).
std::map<std::string, std::string> librivox_transcripts(const std::filesystem::path& dir = kLibrivoxDir);

// The WER set is split once, by a rule that never changes: an item belongs to the tuning part
// when the FNV-1a hash of its id is even, else to the test part. Settings are chosen on the
// tuning part and reported on the test part.
enum class EvalPart { kTune, kTest };
EvalPart eval_part(const std::string& id);
const char* to_string(EvalPart part);

struct AsrEvalItem {
  std::string id;  // "asterisk-en/agent-pass", "librivox/sense_and_sensibility_01_austen_64kb-0870"
  std::filesystem::path wav;
  std::string reference;
};

// English recognition set: the asterisk English prompts that have a recording, plus the
// librivox recordings, in id order; only `part`. Throws std::runtime_error when neither
// corpus is installed.
std::vector<AsrEvalItem> asr_eval_set(EvalPart part, const std::filesystem::path& sounds_dir = kAsteriskSoundsDir,
                                      const std::filesystem::path& doc_dir = kAsteriskDocDir,
                                      const std::filesystem::path& librivox_dir = kLibrivoxDir);

struct ParallelSentence {
  std::string key;
  std::string source;
  std::string target;
};
// Sentences both asterisk transcripts have under the same key, in key order.
std::vector<ParallelSentence> asterisk_parallel(const std::string& source_language, const std::string& target_language,
                                                const std::filesystem::path& doc_dir = kAsteriskDocDir);

}  // namespace livedub::sts
