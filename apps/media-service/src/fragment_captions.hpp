#pragma once
// A dubbed fragment's caption cues: the source line where the speaker spoke, each translation
// where its dub plays. Pure logic; the worker writes the cues to its journal and hands each
// output's span to that output's CEA-608 encoder.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fragment_scheduler.hpp"
#include "livedub/captions.hpp"

namespace livedub::worker {

struct FragmentCaptions {
  std::vector<CaptionCue> cues;  // journal / WebVTT: output timeline, ms
  struct RtmpCaption {
    std::int64_t start_ns = 0;  // the video's own timeline (before the output shift and offset)
    std::int64_t end_ns = 0;
    std::string text;
  };
  // Per target language (target_langs order): its caption in the RTMP output, if any.
  std::vector<std::optional<RtmpCaption>> rtmp;
};

// Only a dubbed fragment has captions: no text from a fallback, no cue without speech, none for
// a further language that fell back alone. `output_shift_ns` is the egress's video shift (AAC
// priming), `offset_ms` the output's timestamp offset (a restarted worker).
FragmentCaptions captions_for_fragment(const ResolvedFragment& fragment, const std::string& source_lang,
                                       const std::vector<std::string>& target_langs, std::int64_t output_shift_ns,
                                       std::int64_t offset_ms);

}  // namespace livedub::worker
