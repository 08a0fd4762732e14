#pragma once
// Closed captions in the RTMP output without re-encoding the video: CEA-608 pop-on captions
// (CC1) carried as ATSC A/53 cc_data in H.264 SEI (user_data_registered_itu_t_t35, "GA94"),
// the form YouTube and Twitch read from an RTMP stream. Pure logic; the worker inserts one
// SEI NAL unit into each video access unit that has caption bytes to carry.
#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace livedub::worker {

using CcPair = std::array<std::uint8_t, 2>;  // two bytes, odd parity already set

// Odd parity in bit 7, as every CEA-608 byte carries.
std::uint8_t with_odd_parity(std::uint8_t byte);

// UTF-8 text as CEA-608 byte pairs for CC1: basic characters two to a pair; accented
// letters from the basic set where it has them (á é í ó ú ñ ç), else from the special and
// extended sets (sent after a basic stand-in, which decoders overwrite); characters 608
// cannot show become the nearest letter or '?'. Returns the pairs and how many screen
// columns the text takes.
struct EncodedText {
  std::vector<CcPair> pairs;
  std::size_t columns = 0;
};
EncodedText encode_cea608_text(std::string_view utf8);

// Splits text into pop-on captions of at most `rows` rows of 32 columns, at word boundaries.
std::vector<std::vector<std::string>> wrap_caption(std::string_view utf8, std::size_t columns = 32, std::size_t rows = 2);

// Schedules pop-on captions and hands out one byte pair per video frame: each caption is
// loaded into the decoder's hidden memory ahead of time, shown with End Of Caption on the
// first frame at or after its start, and erased at its end (unless the next one replaces it
// first). Control codes are sent twice, as the standard asks. Times are ns on the output
// timeline, the same as the video frames' PTS.
class Cea608Encoder {
 public:
  // Long text is split into several captions sharing [start_ns, end_ns) by length.
  void add(std::int64_t start_ns, std::int64_t end_ns, std::string_view utf8_text);
  // The pair to send with the frame at `pts_ns` (frames in presentation order), or nullopt:
  // nothing to send.
  std::optional<CcPair> next_pair(std::int64_t pts_ns);
  std::size_t queued() const { return queue_.size(); }

 private:
  struct Caption {
    std::int64_t start_ns = 0;
    std::int64_t end_ns = 0;
    std::vector<CcPair> load;  // RCL, ENM, then PAC + text per row
  };
  std::deque<Caption> queue_;
  std::size_t loaded_ = 0;    // pairs of queue_.front().load already sent
  std::deque<CcPair> urgent_;  // the second copy of a control code
  std::optional<std::int64_t> shown_end_ns_;  // a caption is on screen until then
};

// The SEI NAL unit (header byte included, emulation prevention applied) carrying `pair` as
// field-1 cc_data, or padding when `pair` is nullopt.
std::vector<std::uint8_t> make_cc_sei_nal(std::optional<CcPair> pair);

// An AVC (length-prefixed) access unit with `nal` inserted before its first slice; nullopt
// when `au` is not a well-formed sequence of `length_size`-byte-prefixed NAL units.
std::optional<std::vector<std::uint8_t>> insert_nal_before_first_slice(std::span<const std::uint8_t> au,
                                                                       int length_size,
                                                                       std::span<const std::uint8_t> nal);

// The NAL length size from an avcC record (codec_data): 1, 2 or 4; nullopt when malformed.
std::optional<int> avcc_nal_length_size(std::span<const std::uint8_t> codec_data);

}  // namespace livedub::worker
