#include "cea608.hpp"

#include <algorithm>
#include <bit>
#include <utility>

namespace livedub::worker {

namespace {

// CC1 (field 1, data channel 1) control codes.
constexpr CcPair kResumeCaptionLoading{0x14, 0x20};
constexpr CcPair kEraseDisplayed{0x14, 0x2C};
constexpr CcPair kEraseNonDisplayed{0x14, 0x2E};
constexpr CcPair kEndOfCaption{0x14, 0x2F};

CcPair parity(CcPair pair) { return {with_odd_parity(pair[0]), with_odd_parity(pair[1])}; }

// Preamble address code: white text at column 0 of `row` (1-15).
CcPair preamble_for_row(int row) {
  static constexpr std::array<std::pair<std::uint8_t, std::uint8_t>, 16> kRows{{
      {0x00, 0x00}, {0x11, 0x40}, {0x11, 0x60}, {0x12, 0x40}, {0x12, 0x60}, {0x15, 0x40}, {0x15, 0x60}, {0x16, 0x40},
      {0x16, 0x60}, {0x17, 0x40}, {0x17, 0x60}, {0x10, 0x40}, {0x13, 0x40}, {0x13, 0x60}, {0x14, 0x40}, {0x14, 0x60},
  }};
  const auto& [a, b] = kRows[static_cast<std::size_t>(std::clamp(row, 1, 15))];
  return {a, b};
}

std::vector<char32_t> decode_utf8(std::string_view text) {
  std::vector<char32_t> out;
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    int extra = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : -1;
    if (extra < 0 || i + static_cast<std::size_t>(extra) >= text.size()) {
      out.push_back(U'?');
      ++i;
      continue;
    }
    char32_t cp = extra == 0 ? c : c & (0x3F >> extra);
    bool ok = true;
    for (int k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(text[i + static_cast<std::size_t>(k)]);
      if ((next & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (next & 0x3F);
    }
    out.push_back(ok ? cp : U'?');
    i += ok ? static_cast<std::size_t>(extra) + 1 : 1;
  }
  return out;
}

// How one character goes out: a basic byte, or a two-byte code (special: shown as is;
// extended: replaces the basic stand-in sent just before it).
struct Glyph {
  std::uint8_t basic = 0;  // 0: none
  std::optional<CcPair> code;
};

Glyph glyph_for(char32_t cp) {
  switch (cp) {  // the basic set's own accented letters (they replace ASCII * \ ^ _ ` { | } ~)
    case U'á': return {0x2A, {}};
    case U'é': return {0x5C, {}};
    case U'í': return {0x5E, {}};
    case U'ó': return {0x5F, {}};
    case U'ú': return {0x60, {}};
    case U'ç': return {0x7B, {}};
    case U'÷': return {0x7C, {}};
    case U'Ñ': return {0x7D, {}};
    case U'ñ': return {0x7E, {}};
    default: break;
  }
  struct Coded {
    char32_t cp;
    std::uint8_t first, second, stand_in;  // stand_in 0: a special character (no backspace)
  };
  static constexpr Coded kCoded[] = {
      {U'®', 0x11, 0x30, 0},   {U'°', 0x11, 0x31, 0},   {U'½', 0x11, 0x32, 0},   {U'¿', 0x11, 0x33, 0},
      {U'™', 0x11, 0x34, 0},   {U'¢', 0x11, 0x35, 0},   {U'£', 0x11, 0x36, 0},   {U'♪', 0x11, 0x37, 0},
      {U'à', 0x11, 0x38, 0},   {U'è', 0x11, 0x3A, 0},   {U'â', 0x11, 0x3B, 0},   {U'ê', 0x11, 0x3C, 0},
      {U'î', 0x11, 0x3D, 0},   {U'ô', 0x11, 0x3E, 0},   {U'û', 0x11, 0x3F, 0},   {U'Á', 0x12, 0x20, 'A'},
      {U'É', 0x12, 0x21, 'E'}, {U'Ó', 0x12, 0x22, 'O'}, {U'Ú', 0x12, 0x23, 'U'}, {U'Ü', 0x12, 0x24, 'U'},
      {U'ü', 0x12, 0x25, 'u'}, {U'‘', 0x12, 0x26, '\''}, {U'¡', 0x12, 0x27, '!'}, {U'*', 0x12, 0x28, '.'},
      {U'’', 0x12, 0x29, '\''}, {U'—', 0x12, 0x2A, '-'}, {U'©', 0x12, 0x2B, 'c'}, {U'•', 0x12, 0x2D, '.'},
      {U'“', 0x12, 0x2E, '"'}, {U'”', 0x12, 0x2F, '"'}, {U'À', 0x12, 0x30, 'A'}, {U'Â', 0x12, 0x31, 'A'},
      {U'Ç', 0x12, 0x32, 'C'}, {U'È', 0x12, 0x33, 'E'}, {U'Ê', 0x12, 0x34, 'E'}, {U'Ë', 0x12, 0x35, 'E'},
      {U'ë', 0x12, 0x36, 'e'}, {U'Î', 0x12, 0x37, 'I'}, {U'Ï', 0x12, 0x38, 'I'}, {U'ï', 0x12, 0x39, 'i'},
      {U'Ô', 0x12, 0x3A, 'O'}, {U'Ù', 0x12, 0x3B, 'U'}, {U'ù', 0x12, 0x3C, 'u'}, {U'Û', 0x12, 0x3D, 'U'},
      {U'«', 0x12, 0x3E, '"'}, {U'»', 0x12, 0x3F, '"'}, {U'Ã', 0x13, 0x20, 'A'}, {U'ã', 0x13, 0x21, 'a'},
      {U'Í', 0x13, 0x22, 'I'}, {U'Ì', 0x13, 0x23, 'I'}, {U'ì', 0x13, 0x24, 'i'}, {U'Ò', 0x13, 0x25, 'O'},
      {U'ò', 0x13, 0x26, 'o'}, {U'Õ', 0x13, 0x27, 'O'}, {U'õ', 0x13, 0x28, 'o'}, {U'{', 0x13, 0x29, '('},
      {U'}', 0x13, 0x2A, ')'}, {U'\\', 0x13, 0x2B, '/'}, {U'^', 0x13, 0x2C, '\''}, {U'_', 0x13, 0x2D, '-'},
      {U'|', 0x13, 0x2E, '/'}, {U'~', 0x13, 0x2F, '-'}, {U'Ä', 0x13, 0x30, 'A'}, {U'ä', 0x13, 0x31, 'a'},
      {U'Ö', 0x13, 0x32, 'O'}, {U'ö', 0x13, 0x33, 'o'}, {U'ß', 0x13, 0x34, 's'}, {U'Å', 0x13, 0x38, 'A'},
      {U'å', 0x13, 0x39, 'a'}, {U'Ø', 0x13, 0x3A, 'O'}, {U'ø', 0x13, 0x3B, 'o'},
  };
  for (const auto& c : kCoded) {
    if (c.cp == cp) return {c.stand_in, CcPair{c.first, c.second}};
  }
  if (cp == U'`') return {'\'', {}};
  if (cp >= 0x20 && cp < 0x7F) return {static_cast<std::uint8_t>(cp), {}};
  if (cp == U'·') return {'.', {}};  // Catalan l·l
  if (cp == U'\u00A0' || cp == U'\t' || cp == U'\n' || cp == U'\r') return {' ', {}};
  return {'?', {}};
}

}  // namespace

std::uint8_t with_odd_parity(std::uint8_t byte) {
  const auto low = static_cast<std::uint8_t>(byte & 0x7F);
  return std::popcount(static_cast<unsigned>(low)) % 2 == 0 ? static_cast<std::uint8_t>(low | 0x80) : low;
}

EncodedText encode_cea608_text(std::string_view utf8) {
  EncodedText out;
  int half = -1;  // a basic byte waiting for its partner
  const auto flush_half = [&] {
    if (half >= 0) out.pairs.push_back(parity({static_cast<std::uint8_t>(half), 0x00}));
    half = -1;
  };
  const auto basic = [&](std::uint8_t byte) {
    if (half >= 0) {
      out.pairs.push_back(parity({static_cast<std::uint8_t>(half), byte}));
      half = -1;
    } else {
      half = byte;
    }
  };
  for (char32_t cp : decode_utf8(utf8)) {
    const auto glyph = glyph_for(cp);
    ++out.columns;
    if (!glyph.code) {
      basic(glyph.basic);
      continue;
    }
    if (glyph.basic != 0) basic(glyph.basic);  // the stand-in an extended character replaces
    flush_half();
    out.pairs.push_back(parity(*glyph.code));
  }
  flush_half();
  return out;
}

std::vector<std::vector<std::string>> wrap_caption(std::string_view utf8, std::size_t columns, std::size_t rows) {
  columns = std::max<std::size_t>(columns, 1);
  rows = std::max<std::size_t>(rows, 1);
  // Words as code-point runs, so a column is one character whatever its UTF-8 length.
  std::vector<std::u32string> words;
  std::u32string word;
  for (char32_t cp : decode_utf8(utf8)) {
    if (cp == U' ' || cp == U'\t' || cp == U'\n' || cp == U'\r') {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
      continue;
    }
    word.push_back(cp);
    if (word.size() == columns) {  // a word longer than a row is cut
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  const auto to_utf8 = [](const std::u32string& s) {
    std::string out;
    for (char32_t cp : s) {
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
    }
    return out;
  };
  std::vector<std::vector<std::string>> captions;
  std::vector<std::string> caption;
  std::u32string line;
  const auto end_line = [&] {
    if (line.empty()) return;
    caption.push_back(to_utf8(line));
    line.clear();
    if (caption.size() == rows) {
      captions.push_back(std::move(caption));
      caption.clear();
    }
  };
  for (const auto& w : words) {
    if (!line.empty() && line.size() + 1 + w.size() > columns) end_line();
    if (!line.empty()) line.push_back(U' ');
    line += w;
  }
  end_line();
  if (!caption.empty()) captions.push_back(std::move(caption));
  return captions;
}

void Cea608Encoder::add(std::int64_t start_ns, std::int64_t end_ns, std::string_view utf8_text) {
  if (end_ns <= start_ns) return;
  const auto pieces = wrap_caption(utf8_text);
  std::size_t total = 0;
  for (const auto& rows : pieces) {
    for (const auto& row : rows) total += row.size() + 1;
  }
  std::int64_t at = start_ns;
  std::size_t done = 0;
  for (const auto& rows : pieces) {
    Caption caption;
    for (const auto& row : rows) done += row.size() + 1;
    caption.start_ns = at;
    caption.end_ns = start_ns + static_cast<std::int64_t>(static_cast<double>(end_ns - start_ns) *
                                                         static_cast<double>(done) / static_cast<double>(std::max<std::size_t>(total, 1)));
    at = caption.end_ns;
    for (const auto code : {kResumeCaptionLoading, kEraseNonDisplayed}) {
      caption.load.push_back(parity(code));
      caption.load.push_back(parity(code));
    }
    int row_number = 16 - static_cast<int>(rows.size());  // bottom rows: 14-15, or 15
    for (const auto& row : rows) {
      const auto pac = parity(preamble_for_row(row_number++));
      caption.load.push_back(pac);
      caption.load.push_back(pac);
      const auto text = encode_cea608_text(row);
      caption.load.insert(caption.load.end(), text.pairs.begin(), text.pairs.end());
    }
    queue_.push_back(std::move(caption));
  }
}

std::optional<CcPair> Cea608Encoder::next_pair(std::int64_t pts_ns) {
  if (!urgent_.empty()) {
    const auto pair = urgent_.front();
    urgent_.pop_front();
    return pair;
  }
  const bool next_ready = !queue_.empty() && loaded_ == queue_.front().load.size() && pts_ns >= queue_.front().start_ns;
  if (shown_end_ns_ && pts_ns >= *shown_end_ns_ && !next_ready) {
    shown_end_ns_.reset();
    urgent_.push_back(parity(kEraseDisplayed));
    return parity(kEraseDisplayed);
  }
  // A caption whose time has passed before it could be shown is dropped.
  while (!queue_.empty() && pts_ns >= queue_.front().end_ns) {
    queue_.pop_front();
    loaded_ = 0;
  }
  if (queue_.empty()) return std::nullopt;
  auto& caption = queue_.front();
  if (loaded_ < caption.load.size()) return caption.load[loaded_++];
  if (pts_ns < caption.start_ns) return std::nullopt;
  shown_end_ns_ = caption.end_ns;
  queue_.pop_front();
  loaded_ = 0;
  urgent_.push_back(parity(kEndOfCaption));
  return parity(kEndOfCaption);
}

std::vector<std::uint8_t> make_cc_sei_nal(std::optional<CcPair> pair) {
  // ATSC A/53 Part 4 cc_data inside ITU-T T.35 user data (country 0xB5 US, provider 0x0031).
  std::vector<std::uint8_t> payload{0xB5, 0x00, 0x31, 'G', 'A', '9', '4', 0x03,
                                    0xC0 | 2,  // process_cc_data_flag, cc_count = 2
                                    0xFF};     // em_data
  const auto field1 = pair.value_or(CcPair{0x80, 0x80});
  payload.insert(payload.end(), {static_cast<std::uint8_t>(pair ? 0xFC : 0xF8), field1[0], field1[1]});
  payload.insert(payload.end(), {0xF9, 0x80, 0x80});  // field 2: nothing
  payload.push_back(0xFF);  // marker bits
  std::vector<std::uint8_t> rbsp{0x04, static_cast<std::uint8_t>(payload.size())};  // payload type 4, size
  rbsp.insert(rbsp.end(), payload.begin(), payload.end());
  rbsp.push_back(0x80);  // rbsp trailing bits
  std::vector<std::uint8_t> nal{0x06};  // nal_ref_idc 0, type 6 (SEI)
  int zeros = 0;
  for (auto byte : rbsp) {
    if (zeros >= 2 && byte <= 0x03) {  // emulation prevention
      nal.push_back(0x03);
      zeros = 0;
    }
    nal.push_back(byte);
    zeros = byte == 0 ? zeros + 1 : 0;
  }
  return nal;
}

std::optional<std::vector<std::uint8_t>> insert_nal_before_first_slice(std::span<const std::uint8_t> au,
                                                                       int length_size,
                                                                       std::span<const std::uint8_t> nal) {
  if (length_size != 1 && length_size != 2 && length_size != 4) return std::nullopt;
  const auto ls = static_cast<std::size_t>(length_size);
  std::size_t at = 0;
  std::optional<std::size_t> insert_at;
  while (at < au.size()) {
    if (au.size() - at < ls + 1) return std::nullopt;
    std::size_t length = 0;
    for (std::size_t k = 0; k < ls; ++k) length = (length << 8) | au[at + k];
    if (length == 0 || length > au.size() - at - ls) return std::nullopt;
    const int type = au[at + ls] & 0x1F;
    if (!insert_at && type >= 1 && type <= 5) insert_at = at;
    at += ls + length;
  }
  if (!insert_at || nal.size() >= (std::size_t{1} << (8 * std::min<std::size_t>(ls, 3)))) return std::nullopt;
  std::vector<std::uint8_t> out;
  out.reserve(au.size() + ls + nal.size());
  out.insert(out.end(), au.begin(), au.begin() + static_cast<std::ptrdiff_t>(*insert_at));
  for (std::size_t k = ls; k-- > 0;) out.push_back(static_cast<std::uint8_t>((nal.size() >> (8 * k)) & 0xFF));
  out.insert(out.end(), nal.begin(), nal.end());
  out.insert(out.end(), au.begin() + static_cast<std::ptrdiff_t>(*insert_at), au.end());
  return out;
}

std::optional<int> avcc_nal_length_size(std::span<const std::uint8_t> codec_data) {
  if (codec_data.size() < 7 || codec_data[0] != 1) return std::nullopt;
  const int size = (codec_data[4] & 0x03) + 1;
  if (size == 3) return std::nullopt;
  return size;
}

}  // namespace livedub::worker
