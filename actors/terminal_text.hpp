#pragma once

// What a person would see on a terminal from raw PTY output, as plain text:
// escape sequences (CSI, OSC, two-byte ESC) removed, carriage returns and
// backspaces applied as overwrites, erase-to-end-of-line honoured, other
// control characters dropped.

#include <string>
#include <string_view>

namespace pyro {

std::string render_plain(std::string_view raw);

} // namespace pyro
