#include "cea608.hpp"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace livedub::worker {
namespace {

using ::testing::ElementsAre;

CcPair p(std::uint8_t a, std::uint8_t b) { return {with_odd_parity(a), with_odd_parity(b)}; }

// Plays a decoder: the text each frame's pairs put on screen (pop-on, CC1), decoding the
// basic set and the characters this encoder uses. Returns what is displayed after each frame.
class PopOnScreen {
 public:
  void feed(CcPair pair) {
    const auto a = static_cast<std::uint8_t>(pair[0] & 0x7F), b = static_cast<std::uint8_t>(pair[1] & 0x7F);
    ASSERT_EQ(with_odd_parity(a), pair[0]);
    ASSERT_EQ(with_odd_parity(b), pair[1]);
    if (a >= 0x10 && a <= 0x1F) {
      if (last_ == pair) return;  // the repeated copy of a control code
      last_ = pair;
      control(a, b);
      return;
    }
    last_.reset();
    for (auto c : {a, b}) {
      if (c >= 0x20) hidden_ += basic(c);
    }
  }
  const std::string& displayed() const { return displayed_; }

 private:
  static std::string basic(std::uint8_t c) {
    switch (c) {
      case 0x2A: return "á";
      case 0x5C: return "é";
      case 0x5E: return "í";
      case 0x5F: return "ó";
      case 0x60: return "ú";
      case 0x7B: return "ç";
      case 0x7E: return "ñ";
      default: return std::string(1, static_cast<char>(c));
    }
  }
  void control(std::uint8_t a, std::uint8_t b) {
    if (a == 0x14 && b == 0x2F) std::swap(displayed_, hidden_);
    else if (a == 0x14 && b == 0x2C) displayed_.clear();
    else if (a == 0x14 && b == 0x2E) hidden_.clear();
    else if (a == 0x14 && b == 0x20) {}  // pop-on mode
    else if (a == 0x11 && b == 0x33) hidden_ += "¿";
    else if (a == 0x11 && b == 0x38) hidden_ += "à";
    else if (a == 0x11 && b == 0x3A) hidden_ += "è";
    else if (a == 0x13 && b == 0x26) { hidden_.pop_back(); hidden_ += "ò"; }  // extended: replaces the stand-in
    else if (b >= 0x40) { if (!hidden_.empty()) hidden_ += '/'; }  // a preamble: a new row
  }
  std::string displayed_, hidden_;
  std::optional<CcPair> last_;
};

TEST(Cea608, OddParity) {
  EXPECT_EQ(with_odd_parity(0x00), 0x80);
  EXPECT_EQ(with_odd_parity(0x01), 0x01);
  EXPECT_EQ(with_odd_parity(0x14), 0x94);
  EXPECT_EQ(with_odd_parity(0x2F), 0x2F);
  EXPECT_EQ(with_odd_parity(0x41), 0xC1);
}

TEST(Cea608, TextUsesTheBasicSetWhereItCan) {
  auto text = encode_cea608_text("Hi!");
  EXPECT_THAT(text.pairs, ElementsAre(p('H', 'i'), p('!', 0)));
  EXPECT_EQ(text.columns, 3u);
  EXPECT_THAT(encode_cea608_text("año").pairs, ElementsAre(p('a', 0x7E), p('o', 0)));
  // à: a special character, after the pending basic byte is padded out.
  EXPECT_THAT(encode_cea608_text("là").pairs, ElementsAre(p('l', 0), p(0x11, 0x38)));
  // ò: a basic stand-in, then the extended code that overwrites it.
  EXPECT_THAT(encode_cea608_text("ò").pairs, ElementsAre(p('o', 0), p(0x13, 0x26)));
  EXPECT_THAT(encode_cea608_text("l·l").pairs, ElementsAre(p('l', '.'), p('l', 0)));
  EXPECT_THAT(encode_cea608_text("\xe4\xb8\xad").pairs, ElementsAre(p('?', 0)));  // no CJK in 608
  EXPECT_THAT(encode_cea608_text("\xff").pairs, ElementsAre(p('?', 0)));          // not UTF-8
}

TEST(Cea608, WrapsAtWordsIntoTwoRowCaptions) {
  auto captions = wrap_caption("one two three", 8, 2);
  ASSERT_EQ(captions.size(), 1u);
  EXPECT_THAT(captions[0], ElementsAre("one two", "three"));
  captions = wrap_caption("aaaa bbbb cccc dddd eeee", 9, 2);
  ASSERT_EQ(captions.size(), 2u);
  EXPECT_THAT(captions[0], ElementsAre("aaaa bbbb", "cccc dddd"));
  EXPECT_THAT(captions[1], ElementsAre("eeee"));
  EXPECT_THAT(wrap_caption("àèìòù", 3, 2)[0], ElementsAre("àèì", "òù"));  // columns are characters, not bytes
  EXPECT_TRUE(wrap_caption("   ").empty());
}

TEST(Cea608, CaptionAppearsAtItsStartAndGoesAtItsEnd) {
  Cea608Encoder encoder;
  constexpr std::int64_t kFrame = 40'000'000;  // 25 fps
  encoder.add(40 * kFrame, 80 * kFrame, "hola, ¿qué tal?");
  PopOnScreen screen;
  std::optional<std::int64_t> shown_at, gone_at;
  for (std::int64_t frame = 0; frame < 120; ++frame) {
    if (auto pair = encoder.next_pair(frame * kFrame)) screen.feed(*pair);
    if (!shown_at && !screen.displayed().empty()) {
      shown_at = frame;
      EXPECT_EQ(screen.displayed(), "hola, ¿qué tal?");
    }
    if (shown_at && !gone_at && screen.displayed().empty()) gone_at = frame;
  }
  ASSERT_TRUE(shown_at);
  ASSERT_TRUE(gone_at);
  EXPECT_EQ(*shown_at, 40);  // loaded ahead, shown on the first frame at its start
  EXPECT_EQ(*gone_at, 80);
  EXPECT_EQ(encoder.queued(), 0u);
}

TEST(Cea608, NextCaptionReplacesThePreviousWithoutABlank) {
  Cea608Encoder encoder;
  constexpr std::int64_t kFrame = 33'366'667;
  encoder.add(30 * kFrame, 90 * kFrame, "first");
  encoder.add(90 * kFrame, 150 * kFrame, "second line");
  PopOnScreen screen;
  std::vector<std::string> seen;
  for (std::int64_t frame = 0; frame < 200; ++frame) {
    if (auto pair = encoder.next_pair(frame * kFrame)) screen.feed(*pair);
    if (seen.empty() || seen.back() != screen.displayed()) seen.push_back(screen.displayed());
  }
  EXPECT_THAT(seen, ElementsAre("", "first", "second line", ""));
}

TEST(Cea608, CaptionWhoseTimeHasPassedIsDropped) {
  Cea608Encoder encoder;
  encoder.add(0, 1'000'000, "too late");
  EXPECT_FALSE(encoder.next_pair(5'000'000).has_value());
  EXPECT_EQ(encoder.queued(), 0u);
}

TEST(Cea608, LongTextIsSplitOverTheCueByLength) {
  Cea608Encoder encoder;
  std::string text;
  for (int i = 0; i < 24; ++i) text += "word ";  // 4 rows of 6 words: two captions of two rows
  encoder.add(0, 10'000'000'000, text);
  EXPECT_EQ(encoder.queued(), 2u);
  Cea608Encoder long_words;
  long_words.add(0, 10'000'000'000, std::string(40, 'a'));  // cut at the row's end
  EXPECT_EQ(long_words.queued(), 1u);
}

TEST(CaptionSei, CarriesThePairAsA53CcData) {
  const auto nal = make_cc_sei_nal(p('H', 'i'));
  const std::vector<std::uint8_t> expected{0x06, 0x04, 17, 0xB5, 0x00, 0x31, 'G', 'A', '9', '4', 0x03, 0xC2, 0xFF,
                                           0xFC, with_odd_parity('H'), with_odd_parity('i'), 0xF9, 0x80, 0x80, 0xFF, 0x80};
  EXPECT_EQ(nal, expected);
  // Padding has cc_valid cleared.
  EXPECT_EQ(make_cc_sei_nal(std::nullopt)[13], 0xF8);
}

TEST(CaptionSei, InsertedBeforeTheFirstSliceOfAnAvcAccessUnit) {
  // AUD, SPS, then an IDR slice; 4-byte lengths.
  const std::vector<std::uint8_t> au{0, 0, 0, 2, 0x09, 0xF0, 0, 0, 0, 3, 0x67, 0x42, 0x00, 0, 0, 0, 3, 0x65, 0x88, 0x84};
  const std::vector<std::uint8_t> sei{0x06, 0x01, 0x02};
  auto out = insert_nal_before_first_slice(au, 4, sei);
  ASSERT_TRUE(out);
  const std::vector<std::uint8_t> expected{0, 0, 0, 2, 0x09, 0xF0, 0, 0, 0, 3, 0x67, 0x42, 0x00, 0, 0, 0, 3, 0x06, 0x01,
                                           0x02, 0, 0, 0, 3, 0x65, 0x88, 0x84};
  EXPECT_EQ(*out, expected);
  // Malformed: a length past the end, no slice at all, a zero length.
  EXPECT_FALSE(insert_nal_before_first_slice(std::vector<std::uint8_t>{0, 0, 0, 9, 0x65}, 4, sei));
  EXPECT_FALSE(insert_nal_before_first_slice(std::vector<std::uint8_t>{0, 0, 0, 1, 0x67}, 4, sei));
  EXPECT_FALSE(insert_nal_before_first_slice(std::vector<std::uint8_t>{0, 0, 0, 0}, 4, sei));
  EXPECT_FALSE(insert_nal_before_first_slice(au, 3, sei));
  // 2-byte lengths.
  auto two = insert_nal_before_first_slice(std::vector<std::uint8_t>{0, 2, 0x41, 0x9A}, 2, sei);
  ASSERT_TRUE(two);
  EXPECT_EQ(*two, (std::vector<std::uint8_t>{0, 3, 0x06, 0x01, 0x02, 0, 2, 0x41, 0x9A}));
}

TEST(CaptionSei, NalLengthSizeFromTheAvcRecord) {
  EXPECT_EQ(avcc_nal_length_size(std::vector<std::uint8_t>{1, 0x42, 0, 0x1E, 0xFF, 0xE1, 0}), 4);
  EXPECT_EQ(avcc_nal_length_size(std::vector<std::uint8_t>{1, 0x42, 0, 0x1E, 0xFD, 0xE1, 0}), 2);
  EXPECT_FALSE(avcc_nal_length_size(std::vector<std::uint8_t>{1, 0x42, 0, 0x1E, 0xFE, 0xE1, 0}));
  EXPECT_FALSE(avcc_nal_length_size(std::vector<std::uint8_t>{0, 0, 0, 1, 0x67}));
}

}  // namespace
}  // namespace livedub::worker
