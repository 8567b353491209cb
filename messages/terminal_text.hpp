#pragma once

// Text meant for a terminal. render_plain: what a person would see from raw
// PTY output, as plain text: escape sequences (CSI, OSC, two-byte ESC)
// removed, carriage returns and backspaces applied as overwrites,
// erase-to-end-of-line honoured, other control characters dropped.
// escape_control: untrusted text shown with its control characters visible
// instead of obeyed.

#include <string>
#include <string_view>

namespace pyro {

std::string render_plain(std::string_view raw);

/// Text that a workload or a client chose (names, labels, paths, reasons,
/// error messages), made safe to print for a person: nothing in it can move
/// the cursor, recolour, retitle or rewrite the terminal. C0 controls, DEL,
/// C1 controls (U+0080-U+009F), bidirectional controls and line separators
/// (U+061C, U+200E, U+200F, U+2028-U+202E, U+2066-U+2069) and bytes that
/// are not valid UTF-8 are shown as escapes (`\x1b`, `\n`, `\u202e`,
/// `\xff`); everything else, a backslash included, is kept as it is.
/// `keep_layout` leaves newline and tab alone, for multi-line text.
std::string escape_control(std::string_view text, bool keep_layout = false);

} // namespace pyro
