#pragma once

// Many agent connections over one byte stream. A virtio-serial port is a
// single pipe with no notion of connections, while the agent protocol wants
// one connection per concurrent call (shells, services and execs run side
// by side), so both ends cut the stream into channels (docs/protocol.md,
// "Channels over a serial port").
//
// Every mux frame is a 32-bit big-endian channel, a 32-bit big-endian
// length and that many bytes. Channel 0 carries control frames: one op byte
// and a 32-bit channel. The host opens channels (a connection to its relay
// socket becomes one); either end closes them; the host resets all of them
// when it (re)attaches, since a guest restored from a memory snapshot may
// remember channels of a host that is gone.

#include <cstdint>
#include <functional>
#include <string>

#include "messages/error.hpp"

namespace pyro::wire {

enum class mux_control : uint8_t {
  open = 1,
  close = 2,
  reset = 3,
};

/// Largest body of one mux frame; bigger claims mean a corrupt stream.
constexpr uint32_t mux_max_body = 64u << 10;

std::string encode_mux_data(uint32_t channel, std::string_view body);
std::string encode_mux_control(mux_control op, uint32_t channel);

/// Pumps bytes between one trunk (the serial port, or the host's socket to
/// it) and any number of channel descriptors until the trunk fails for good.
/// Single-threaded around poll(2); a channel whose reader is slow holds up
/// only reading the trunk once a few MiB are queued for it.
class mux_pump {
public:
  struct options {
    /// Host end: connections accepted here become channels.
    int listen_fd = -1;
    /// Guest end: the peer opened `channel`; returns the descriptor to pump
    /// it through (-1 refuses the channel).
    std::function<int(uint32_t channel)> on_open;
    /// Guest end: when the trunk reads end-of-file (no host attached),
    /// close every channel and keep polling it instead of returning.
    bool survive_trunk_eof = false;
    /// Host end: send a reset first.
    bool send_reset = false;
  };

  mux_pump(int trunk_fd, options opts);
  ~mux_pump();

  mux_pump(const mux_pump&) = delete;
  mux_pump& operator=(const mux_pump&) = delete;

  /// Runs until the trunk is closed or broken (or, with
  /// `survive_trunk_eof`, forever); the error says why it stopped.
  status run();

private:
  struct state;
  state* state_;
};

} // namespace pyro::wire
