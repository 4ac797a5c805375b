#include "terminal_text.h"

#include <cstdint>
#include <cstdio>

namespace facesearch::cli {
namespace {

void append_escape(std::string& out, const char* format, unsigned value) {
  char text[16];
  std::snprintf(text, sizeof text, format, value);
  out += text;
}

// The code point of the UTF-8 sequence starting at text[i] and its length, or length 0 when the
// bytes there are not well-formed UTF-8 (overlong forms, surrogates and values past U+10FFFF included).
struct Decoded {
  char32_t code_point = 0;
  size_t length = 0;
};

Decoded decode_utf8(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t length = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if (lead < 0x80) return {lead, 1};
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2, cp = lead & 0x1f, min = 0x80;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3, cp = lead & 0x0f, min = 0x800;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4, cp = lead & 0x07, min = 0x10000;
  } else {
    return {};
  }
  if (i + length > text.size()) return {};
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return {};
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return {};
  return {cp, length};
}

// Characters that are valid UTF-8 and still act on the terminal or on the order of what is shown.
bool acts_on_terminal(char32_t cp) {
  return (cp >= 0x80 && cp <= 0x9f) ||      // C1 controls (U+009B is CSI, like ESC [)
         cp == 0x2028 || cp == 0x2029 ||    // line and paragraph separators
         (cp >= 0x202a && cp <= 0x202e) ||  // bidirectional embeddings and overrides
         (cp >= 0x2066 && cp <= 0x2069);    // bidirectional isolates
}

}  // namespace

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const Decoded d = decode_utf8(text, i);
    if (d.length == 0) {  // not UTF-8: the byte itself, visibly
      append_escape(out, "\\x%02x", static_cast<unsigned char>(text[i]));
      ++i;
      continue;
    }
    const char32_t cp = d.code_point;
    if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp < 0x20 || cp == 0x7f) {
      append_escape(out, "\\x%02x", static_cast<unsigned>(cp));
    } else if (acts_on_terminal(cp)) {
      append_escape(out, "\\u%04x", static_cast<unsigned>(cp));
    } else {
      out.append(text.substr(i, d.length));
    }
    i += d.length;
  }
  return out;
}

}  // namespace facesearch::cli
