#include "sts/apertium_mt.hpp"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "livedub/logging.hpp"
#include "livedub/text.hpp"

namespace livedub::sts {
namespace {

// Every program the Debian language pairs put in their mode files; all accept -z.
// (lsx-proc: apertium-eng-cat's multiword re-tokenizer.)
const std::array<const char*, 12> kApertiumStages = {
    "lt-proc",          "apertium-tagger",     "apertium-pretransfer", "apertium-transfer",
    "lrx-proc",         "apertium-interchunk", "apertium-postchunk",   "cg-proc",
    "apertium-anaphora", "apertium-posttransfer", "rtx-proc",          "lsx-proc"};

bool is_language_code(const std::string& code) {
  return code.size() >= 2 && code.size() <= 3 &&
         std::all_of(code.begin(), code.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

// Keeps the NUL the end-of-request marker relies on out of the text itself.
constexpr char kFlush = '\0';

}  // namespace

std::string iso639_1_from_apertium(const std::string& code) {
  static const std::map<std::string, std::string> codes = {
      {"eng", "en"}, {"spa", "es"}, {"cat", "ca"}, {"fra", "fr"}, {"por", "pt"}, {"glg", "gl"},
      {"ita", "it"}, {"deu", "de"}, {"oci", "oc"}, {"eus", "eu"}, {"epo", "eo"}, {"ron", "ro"},
      {"nld", "nl"}, {"afr", "af"}, {"swe", "sv"}, {"dan", "da"}, {"nob", "nb"}, {"nno", "nn"},
      {"isl", "is"}, {"ara", "ar"}, {"mlt", "mt"}, {"bel", "be"}, {"rus", "ru"}, {"ukr", "uk"},
      {"kaz", "kk"}, {"tat", "tt"}, {"hin", "hi"}, {"urd", "ur"}, {"bre", "br"}, {"cym", "cy"}};
  auto it = codes.find(code);
  return it == codes.end() ? code : it->second;
}

std::vector<ApertiumMode> discover_apertium_modes(const std::filesystem::path& modes_dir) {
  std::vector<ApertiumMode> modes;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(modes_dir, ec)) {
    if (entry.path().extension() != ".mode") continue;
    const auto name = entry.path().stem().string();
    const auto dash = name.find('-');
    if (dash == std::string::npos) continue;
    const auto source = name.substr(0, dash), target = name.substr(dash + 1);
    if (!is_language_code(source) || !is_language_code(target)) continue;  // e.g. spa-eng_US
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    auto pipeline = trim(text.str());
    if (pipeline.empty()) continue;
    modes.push_back({name, iso639_1_from_apertium(source), iso639_1_from_apertium(target), std::move(pipeline)});
  }
  std::sort(modes.begin(), modes.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return modes;
}

std::string null_flush_pipeline(const std::string& mode_pipeline) {
  std::string command;
  std::stringstream stages(mode_pipeline);
  std::string stage;
  while (std::getline(stages, stage, '|')) {
    stage = trim(stage);
    const auto program = stage.substr(0, stage.find(' '));
    if (std::find_if(kApertiumStages.begin(), kApertiumStages.end(),
                     [&](const char* known) { return program == known; }) == kApertiumStages.end()) {
      throw MtError("mode stage '" + program + "' is not an Apertium tool this service knows");
    }
    auto arguments = stage.substr(program.size());
    // $1: generation mode (-n: no unknown-word marks, like `apertium -u`); $2: tagger extras.
    replace_all(arguments, "$1", "-n");
    replace_all(arguments, "$2", "");
    command += (command.empty() ? "" : " | ") + program + " -z" + arguments;
  }
  if (command.empty()) throw MtError("empty mode pipeline");
  return command;
}

std::string to_apertium_stream(const std::string& text) {
  static const std::string reserved = "[]{}^$@\\/<>";
  std::string out;
  out.reserve(text.size() + 8);
  for (char c : text) {
    if (c == kFlush || c == '\n' || c == '\r' || c == '\t') c = ' ';
    if (reserved.find(c) != std::string::npos) out += '\\';
    out += c;
  }
  return out + "[][\n]";
}

std::string from_apertium_stream(const std::string& stream) {
  std::string text;
  bool in_superblank = false;
  for (std::size_t i = 0; i < stream.size(); ++i) {
    const char c = stream[i];
    if (c == '\\' && i + 1 < stream.size()) {
      if (!in_superblank) text += stream[++i];
      else ++i;
      continue;
    }
    if (in_superblank) {
      if (c == ']') {
        in_superblank = false;
        text += ' ';
      }
      continue;
    }
    if (c == '[') {
      in_superblank = true;
      continue;
    }
    // Marks for unknown (*), ungeneratable (#) and untranslated (@) words start a word.
    const bool word_start = text.empty() || text.back() == ' ';
    if ((c == '*' || c == '#' || c == '@') && word_start) continue;
    text += c;
  }
  std::istringstream words(text);
  std::string word, out;
  while (words >> word) out += (out.empty() ? "" : " ") + word;
  return out;
}

ApertiumPipeline::ApertiumPipeline(ApertiumMode mode)
    : mode_(std::move(mode)), command_(null_flush_pipeline(mode_.pipeline)) {}

void ApertiumPipeline::start() {
  std::lock_guard lock(mutex_);
  exchange(to_apertium_stream("hello"), std::chrono::seconds(30));
}

std::string ApertiumPipeline::translate(const std::string& text, std::chrono::milliseconds timeout) {
  std::lock_guard lock(mutex_);
  return from_apertium_stream(exchange(to_apertium_stream(text), timeout));
}

std::string ApertiumPipeline::exchange(const std::string& request, std::chrono::milliseconds timeout) {
  if (process_ && !process_->running()) process_.reset();
  if (!process_) {
    try {
      ChildProcess::Options options;
      options.argv = {"/bin/sh", "-c", "exec 2>/dev/null; " + command_};
      options.pipe_stdin = true;
      options.pipe_stdout = true;
      process_.emplace(options);
    } catch (const std::exception& e) {
      throw MtError("cannot start apertium " + mode_.name + ": " + e.what());
    }
  }
  auto fail = [&](const std::string& why) -> MtError {
    process_.reset();  // a pipeline in an unknown state is never reused
    return MtError("apertium " + mode_.name + ": " + why);
  };
  std::string message = request;
  message += kFlush;
  const char* data = message.data();
  std::size_t left = message.size();
  while (left > 0) {
    const ssize_t n = ::write(process_->stdin_fd(), data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw fail(std::string("write failed: ") + std::strerror(errno));
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string reply;
  std::array<char, 4096> buffer{};
  for (;;) {
    const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (remaining.count() <= 0) throw fail("no answer within " + std::to_string(timeout.count()) + " ms");
    pollfd pfd{process_->stdout_fd(), POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(remaining.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t n = ::read(process_->stdout_fd(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw fail("pipeline exited");
    const auto* end = static_cast<const char*>(std::memchr(buffer.data(), kFlush, static_cast<std::size_t>(n)));
    if (end != nullptr) {
      // Anything after the NUL would belong to no request: we send one at a time.
      reply.append(buffer.data(), static_cast<std::size_t>(end - buffer.data()));
      return reply;
    }
    reply.append(buffer.data(), static_cast<std::size_t>(n));
  }
}

ApertiumTranslator::ApertiumTranslator(const std::filesystem::path& modes_dir) {
  // A pipeline that dies must surface as EPIPE from write(), not kill this process.
  ::signal(SIGPIPE, SIG_IGN);
  for (auto& mode : discover_apertium_modes(modes_dir)) {
    auto key = std::make_pair(mode.source, mode.target);
    if (pipelines_.count(key) != 0) continue;  // first (by name) wins
    try {
      auto pipeline = std::make_unique<ApertiumPipeline>(mode);
      pipeline->start();
      pipelines_.emplace(std::move(key), std::move(pipeline));
    } catch (const MtError& e) {
      // A pair whose mode uses tools we do not know, or that fails to start, is not offered.
      logging::write(spdlog::level::warn, {}, "apertium pair unavailable",
                     {{"mode", mode.name}, {"error", e.what()}});
    }
  }
  if (pipelines_.empty()) {
    throw MtError("no usable Apertium language pair in " + modes_dir.string() +
                  " (install one, e.g. apertium-eng-spa)");
  }
}

std::vector<ApertiumMode> ApertiumTranslator::modes() const {
  std::vector<ApertiumMode> out;
  for (const auto& [key, pipeline] : pipelines_) out.push_back(pipeline->mode());
  return out;
}

bool ApertiumTranslator::supports(const std::string& source, const std::string& target) const {
  return pipelines_.count({source, target}) != 0;
}

std::string ApertiumTranslator::translate(const std::string& source, const std::string& target,
                                          const std::string& text, std::chrono::milliseconds timeout) {
  auto it = pipelines_.find({source, target});
  if (it == pipelines_.end()) throw MtError("no Apertium pair installed for " + source + " -> " + target);
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return "";
  return it->second->translate(text, timeout);
}

std::vector<LanguagePair> ApertiumEngine::pairs() const {
  std::vector<LanguagePair> out;
  for (const auto& mode : translator_.modes()) out.push_back({mode.source, mode.target});
  return out;
}

std::string ApertiumEngine::describe(const LanguagePair& pair) const {
  for (const auto& mode : translator_.modes()) {
    if (mode.source == pair.source && mode.target == pair.target) return "apertium " + mode.name;
  }
  return "apertium";
}

std::vector<std::string> ApertiumEngine::translate(const MtRequest& request) {
  std::vector<std::string> out;
  for (const auto& target : request.targets) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(request.deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw DeadlineExpired("deadline passed before translation into " + target);
    out.push_back(translator_.translate(request.source, target, request.text, std::min(timeout_, left)));
  }
  return out;
}

}  // namespace livedub::sts
