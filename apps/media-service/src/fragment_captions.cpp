#include "fragment_captions.hpp"

namespace livedub::worker {

FragmentCaptions captions_for_fragment(const ResolvedFragment& fragment, const std::string& source_lang,
                                       const std::vector<std::string>& target_langs, std::int64_t output_shift_ns,
                                       std::int64_t offset_ms) {
  FragmentCaptions out;
  out.rtmp.resize(target_langs.size());
  if (fragment.outcome != FragmentOutcome::dubbed) return out;  // no text from a fallback, ever
  const int rate = fragment.original.format.sample_rate;
  const auto start_ns = fragment.original.start_ns();
  const auto add = [&](const std::string& lang, bool source, const std::string& text, std::optional<SpeechSpan> span,
                       std::optional<std::size_t> output) {
    if (!span) return;
    auto cue = cue_for_placed_phrase(fragment.seq, lang, source, text, start_ns + output_shift_ns, span->begin,
                                     span->end, rate, offset_ms);
    if (!cue) return;
    if (output) {
      out.rtmp[*output] = FragmentCaptions::RtmpCaption{start_ns + samples_to_ns(span->begin, rate),
                                                        start_ns + samples_to_ns(span->end, rate), cue->text};
    }
    out.cues.push_back(std::move(*cue));
  };
  // The source line where the speaker spoke (the whole dub's span when no detector ran).
  std::optional<SpeechSpan> spoken = fragment.voice_span;
  if (!fragment.speech.empty()) spoken = SpeechSpan{fragment.speech.front().begin, fragment.speech.back().end};
  add(source_lang, true, fragment.texts.transcript, spoken, std::nullopt);
  if (target_langs.empty()) return out;
  add(target_langs[0], false, fragment.texts.translation, fragment.voice_span, 0);
  for (std::size_t i = 0; i < fragment.texts.extra.size() && i + 1 < target_langs.size(); ++i) {
    const auto& track = fragment.texts.extra[i];
    if (track.dubbed) add(target_langs[i + 1], false, track.translation, track.voice_span, i + 1);
  }
  return out;
}

}  // namespace livedub::worker
