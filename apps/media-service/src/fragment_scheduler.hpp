#pragma once
// Tracks fragments from cut to output: at most N in flight to STS, each with a deadline after
// which its original audio is used instead, released strictly in sequence order.
// Pure logic (time is passed in); the worker wraps it in a mutex.
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fragment_cutter.hpp"

namespace livedub::worker {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

enum class FragmentOutcome {
  dubbed,            // STS audio
  fallback_error,    // STS answered with an error or unusable audio
  fallback_timeout,  // no usable STS answer before the deadline
  silence,           // no input audio at all; nothing to dub
  no_speech,         // input audio without speech (music, noise, quiet): kept, never sent to STS
};
const char* to_string(FragmentOutcome outcome);

// A further target language's dub of a fragment (LIVEDUB_TARGET_LANGS beyond the first).
struct ExtraTrack {
  bool dubbed = false;                   // false: this language falls back to the original alone
  AudioBuffer audio;                     // dubbed: mono, the fragment's rate and frames
  std::optional<SpeechSpan> voice_span;  // dubbed: where the dub speaks inside `audio`
  std::string translation;
  std::string detail;  // why not dubbed
};

// What came with a dub besides the first language's audio: the texts for captions and the
// further languages.
struct DubExtras {
  std::string transcript;
  std::string translation;
  std::vector<ExtraTrack> extra;
};

struct ResolvedFragment {
  std::int64_t seq = 0;
  AudioBuffer audio;  // dubbed: the STS audio; otherwise the original input
  FragmentOutcome outcome = FragmentOutcome::dubbed;
  std::string detail;
  AudioBuffer original;                  // the input, always (the bed the dub is mixed over)
  std::vector<SpeechSpan> speech;        // where the source speaker talks
  std::optional<SpeechSpan> voice_span;  // dubbed: where the dub speaks inside `audio`
  std::string sts_metadata;              // dubbed: the STS response's metadata (JSON), for debugging
  DubExtras texts;                       // dubbed: transcript, translation, further languages
};

struct Dispatch {
  std::int64_t seq = 0;
  AudioBuffer audio;
  std::vector<SpeechSpan> speech;
  TimePoint deadline;
};

class FragmentScheduler {
 public:
  explicit FragmentScheduler(std::size_t max_in_flight);

  // `deadline`: when the output needs this fragment's audio. A fragment without speech (or
  // without input audio) is resolved at once and never dispatched.
  void submit(Fragment fragment, TimePoint deadline);
  // The oldest waiting fragment if fewer than max_in_flight requests are open and its
  // deadline has not passed. The fragment counts as in flight until complete() or fail().
  std::optional<Dispatch> take_for_dispatch(TimePoint now);
  // STS result for `seq`. Ignored for the output if the fragment already fell back, but the
  // in-flight slot is released either way.
  void complete(std::int64_t seq, AudioBuffer dubbed, std::optional<SpeechSpan> voice_span = std::nullopt,
                std::string sts_metadata = {}, DubExtras extras = {});
  void fail(std::int64_t seq, FragmentOutcome reason, std::string detail);
  // Falls back to original audio for every unresolved fragment whose deadline is <= now.
  void expire(TimePoint now);
  // Resolved fragments that are next in sequence, in order.
  std::vector<ResolvedFragment> pop_in_order();

  std::optional<TimePoint> next_deadline() const;
  // Moves every deadline earlier (the output clock was re-anchored before output started).
  void advance_deadlines(std::chrono::nanoseconds by);
  std::size_t in_flight() const { return in_flight_.size(); }
  std::size_t waiting() const { return waiting_.size(); }
  // True when every submitted fragment has been popped.
  bool drained() const { return entries_.empty(); }

 private:
  struct Entry {
    Fragment fragment;
    TimePoint deadline;
    std::optional<ResolvedFragment> resolved;
  };
  void resolve_with_original(Entry& entry, FragmentOutcome reason, std::string detail);

  std::size_t max_in_flight_;
  std::map<std::int64_t, Entry> entries_;  // submitted, not yet popped
  std::deque<std::int64_t> waiting_;       // not yet dispatched, in order
  std::set<std::int64_t> in_flight_;
  std::optional<std::int64_t> next_to_pop_;
};

}  // namespace livedub::worker
