#include "messages/wire/mux.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace pyro::wire {

namespace {

// Past this much queued for one side, stop reading the other: memory stays
// bounded and a stalled reader slows its writer instead of the agent.
constexpr size_t queue_limit = 4u << 20;
constexpr size_t read_chunk = 64u << 10;

void put_u32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

uint32_t get_u32(const char* p) {
  auto b = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8)
         | uint32_t{b[3]};
}

void set_nonblocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// A byte queue written from its front without moving what is left.
struct out_queue {
  std::string bytes;
  size_t offset = 0;

  [[nodiscard]] size_t size() const {
    return bytes.size() - offset;
  }

  void append(std::string_view more) {
    if (offset > 0 && offset == bytes.size()) {
      bytes.clear();
      offset = 0;
    }
    bytes.append(more);
  }

  // false when the descriptor is broken.
  bool flush(int fd) {
    while (size() > 0) {
      auto n = ::write(fd, bytes.data() + offset, size());
      if (n < 0)
        return errno == EAGAIN || errno == EINTR;
      offset += static_cast<size_t>(n);
    }
    bytes.clear();
    offset = 0;
    return true;
  }
};

struct channel {
  int fd = -1;
  out_queue out;
  bool peer_closed = false;
};

} // namespace

std::string encode_mux_data(uint32_t channel, std::string_view body) {
  std::string out;
  out.reserve(8 + body.size());
  put_u32(out, channel);
  put_u32(out, static_cast<uint32_t>(body.size()));
  out.append(body);
  return out;
}

std::string encode_mux_control(mux_control op, uint32_t channel) {
  std::string body(1, static_cast<char>(op));
  put_u32(body, channel);
  return encode_mux_data(0, body);
}

struct mux_pump::state {
  int trunk;
  options opts;
  std::string trunk_in;
  out_queue trunk_out;
  std::map<uint32_t, channel> channels;
  uint32_t next_channel = 1;

  void drop(uint32_t id) {
    auto it = channels.find(id);
    if (it == channels.end())
      return;
    ::close(it->second.fd);
    channels.erase(it);
  }

  void drop_all() {
    for (auto& [id, ch] : channels)
      ::close(ch.fd);
    channels.clear();
  }

  // The local end of a channel ended: tell the peer, forget it.
  void local_closed(uint32_t id) {
    trunk_out.append(encode_mux_control(mux_control::close, id));
    drop(id);
  }

  bool channel_backlogged() const {
    for (const auto& [id, ch] : channels)
      if (ch.out.size() > queue_limit)
        return true;
    return false;
  }

  void on_control(uint8_t op, uint32_t id) {
    switch (static_cast<mux_control>(op)) {
    case mux_control::open: {
      if (channels.count(id) != 0 || !opts.on_open)
        return;
      int fd = opts.on_open(id);
      if (fd < 0) {
        trunk_out.append(encode_mux_control(mux_control::close, id));
        return;
      }
      set_nonblocking(fd);
      channels[id].fd = fd;
      return;
    }
    case mux_control::close: {
      auto it = channels.find(id);
      if (it == channels.end())
        return;
      // The local end sees end-of-file once it has what the peer sent
      // before it went.
      it->second.peer_closed = true;
      if (it->second.out.size() == 0)
        drop(id);
      return;
    }
    case mux_control::reset:
      drop_all();
      return;
    }
  }

  // Dispatches every whole frame in trunk_in.
  status parse_trunk() {
    size_t pos = 0;
    while (trunk_in.size() - pos >= 8) {
      uint32_t id = get_u32(trunk_in.data() + pos);
      uint32_t len = get_u32(trunk_in.data() + pos + 4);
      if (len > mux_max_body || (id == 0 && len != 5))
        return make_error(error_code::invalid_argument,
                          "corrupt channel stream: frame of "
                            + std::to_string(len) + " bytes on channel "
                            + std::to_string(id));
      if (trunk_in.size() - pos - 8 < len)
        break;
      const char* body = trunk_in.data() + pos + 8;
      if (id == 0) {
        on_control(static_cast<uint8_t>(body[0]), get_u32(body + 1));
      } else if (auto it = channels.find(id);
                 it != channels.end() && !it->second.peer_closed) {
        it->second.out.append({body, len});
        if (!it->second.out.flush(it->second.fd))
          local_closed(id);
      }
      pos += 8 + len;
    }
    trunk_in.erase(0, pos);
    return {};
  }
};

mux_pump::mux_pump(int trunk_fd, options opts)
  : state_(new state{trunk_fd, std::move(opts), {}, {}, {}, 1}) {
  set_nonblocking(trunk_fd);
  if (state_->opts.listen_fd >= 0)
    set_nonblocking(state_->opts.listen_fd);
}

mux_pump::~mux_pump() {
  state_->drop_all();
  delete state_;
}

status mux_pump::run() {
  auto& s = *state_;
  if (s.opts.send_reset)
    s.trunk_out.append(encode_mux_control(mux_control::reset, 0));
  std::vector<pollfd> fds;
  std::vector<uint32_t> ids;
  std::string buffer(read_chunk, '\0');
  for (;;) {
    bool trunk_full = s.trunk_out.size() > queue_limit;
    fds.clear();
    ids.clear();
    short trunk_events = s.channel_backlogged() ? 0 : POLLIN;
    if (s.trunk_out.size() > 0)
      trunk_events |= POLLOUT;
    fds.push_back({s.trunk, trunk_events, 0});
    if (s.opts.listen_fd >= 0)
      fds.push_back(
        {s.opts.listen_fd, trunk_full ? short{0} : short{POLLIN}, 0});
    for (const auto& [id, ch] : s.channels) {
      short events = ch.peer_closed || trunk_full ? 0 : POLLIN;
      if (ch.out.size() > 0)
        events |= POLLOUT;
      fds.push_back({ch.fd, events, 0});
      ids.push_back(id);
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR)
        continue;
      return make_error(error_code::internal,
                        std::string{"poll: "} + std::strerror(errno));
    }

    bool trunk_eof = false;
    const auto trunk_rev = fds[0].revents;
    if (trunk_rev & POLLIN) {
      auto n = ::read(s.trunk, buffer.data(), buffer.size());
      if (n > 0) {
        s.trunk_in.append(buffer.data(), static_cast<size_t>(n));
        if (auto parsed = s.parse_trunk(); !parsed)
          return parsed;
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        trunk_eof = true;
      }
    } else if (trunk_rev & (POLLHUP | POLLERR)) {
      trunk_eof = true;
    }
    if (!trunk_eof && (trunk_rev & POLLOUT) && !s.trunk_out.flush(s.trunk))
      trunk_eof = true;
    if (trunk_eof) {
      if (!s.opts.survive_trunk_eof)
        return make_error(error_code::unavailable, "the channel trunk closed");
      // Nobody on the other end: whatever was in flight is lost with them.
      s.drop_all();
      s.trunk_in.clear();
      s.trunk_out = {};
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
      continue;
    }

    size_t first_channel = 1;
    if (s.opts.listen_fd >= 0) {
      first_channel = 2;
      if (fds[1].revents & POLLIN) {
        int fd = ::accept4(s.opts.listen_fd, nullptr, nullptr,
                           SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd >= 0) {
          uint32_t id = s.next_channel++;
          s.channels[id].fd = fd;
          s.trunk_out.append(encode_mux_control(mux_control::open, id));
        }
      }
    }
    for (size_t i = first_channel; i < fds.size(); ++i) {
      uint32_t id = ids[i - first_channel];
      auto it = s.channels.find(id);
      if (it == s.channels.end() || it->second.fd != fds[i].fd)
        continue; // dropped by a control frame in this round
      auto& ch = it->second;
      const auto rev = fds[i].revents;
      if (rev & POLLOUT) {
        if (!ch.out.flush(ch.fd)) {
          s.local_closed(id);
          continue;
        }
        if (ch.peer_closed && ch.out.size() == 0) {
          s.drop(id);
          continue;
        }
      }
      if (rev & POLLIN) {
        auto n = ::read(ch.fd, buffer.data(), buffer.size());
        if (n > 0)
          s.trunk_out.append(
            encode_mux_data(id, {buffer.data(), static_cast<size_t>(n)}));
        else if (n == 0 || (errno != EAGAIN && errno != EINTR))
          s.local_closed(id);
      } else if (rev & (POLLHUP | POLLERR)) {
        s.local_closed(id);
      }
    }
    if (s.trunk_out.size() > 0 && !s.trunk_out.flush(s.trunk)
        && !s.opts.survive_trunk_eof)
      return make_error(error_code::unavailable, "the channel trunk closed");
  }
}

} // namespace pyro::wire
