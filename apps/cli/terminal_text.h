// Text from disk (file and folder names, messages that quote them, a model pack's manifest) shown to
// people on a terminal: its control characters made visible, so a file named "\e[2J" or "a\nb" can
// neither move the cursor, clear the screen nor forge an output line. JSON and CSV escape on their own.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace facesearch::cli {

// `text` with every character that a terminal would act on written out instead:
//   \n \r \t, other C0 controls and DEL as \xNN ("\x1b" for ESC, "\x7f");
//   C1 controls U+0080..U+009F as \uNNNN ("\u009b", the one-character CSI);
//   bidirectional overrides and line/paragraph separators (U+2028, U+2029, U+202A..U+202E,
//   U+2066..U+2069), which reorder or break what follows, as \uNNNN;
//   bytes that are not UTF-8 as \xNN.
// Everything else (printable ASCII, accented letters, CJK, emoji) is kept as is; so is the backslash,
// which makes the result unambiguous only for people: programs read --format json.
std::string printable(std::string_view text);
// The same for the other kinds of text (a path converts from a string: these keep calls unambiguous).
inline std::string printable(const std::string& text) { return printable(std::string_view(text)); }
inline std::string printable(const char* text) { return printable(std::string_view(text)); }
inline std::string printable(const std::filesystem::path& path) { return printable(std::string_view(path.native())); }

}  // namespace facesearch::cli
