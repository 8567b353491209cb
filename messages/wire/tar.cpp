#include "messages/wire/tar.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include <unistd.h>

namespace pyro::wire {

namespace {

constexpr size_t block = 512;

using header_block = std::array<char, block>;

void put_string(header_block& h, size_t offset, size_t width,
                const std::string& value) {
  std::memcpy(h.data() + offset, value.data(), std::min(width, value.size()));
}

void put_octal(header_block& h, size_t offset, size_t width, uint64_t value) {
  // width-1 digits and a NUL; values too large go to the pax header.
  std::string digits(width - 1, '0');
  for (size_t i = width - 1; i-- > 0 && value > 0; value >>= 3)
    digits[i] = static_cast<char>('0' + (value & 7));
  put_string(h, offset, width - 1, digits);
}

void set_checksum(header_block& h) {
  std::memset(h.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (char c : h)
    sum += static_cast<unsigned char>(c);
  put_octal(h, 148, 7, sum);
  h[155] = ' ';
}

std::string pax_record(const std::string& key, const std::string& value) {
  // "LEN key=value\n", where LEN counts itself.
  auto body = " " + key + "=" + value + "\n";
  auto len = body.size() + 1;
  while (std::to_string(len).size() + body.size() != len)
    ++len;
  return std::to_string(len) + body;
}

uint64_t parse_number(const char* p, size_t width, bool& ok) {
  if (static_cast<unsigned char>(p[0]) & 0x80) { // base-256
    uint64_t v = static_cast<unsigned char>(p[0]) & 0x7F;
    for (size_t i = 1; i < width; ++i)
      v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
  }
  uint64_t v = 0;
  size_t i = 0;
  while (i < width && (p[i] == ' ' || p[i] == '\0'))
    ++i;
  for (; i < width && p[i] >= '0' && p[i] <= '7'; ++i)
    v = (v << 3) | static_cast<uint64_t>(p[i] - '0');
  for (; i < width; ++i)
    if (p[i] != ' ' && p[i] != '\0')
      ok = false;
  return v;
}

std::string field(const char* p, size_t width) {
  return std::string{p, strnlen(p, width)};
}

error malformed(const std::string& what) {
  return make_error(error_code::invalid_argument,
                    "malformed tar archive: " + what);
}

} // namespace

// -- writer -------------------------------------------------------------------

tar_writer::tar_writer(sink out) : out_(std::move(out)) {
  // nop
}

status tar_writer::emit(std::string_view bytes) {
  written_ += bytes.size();
  return out_(bytes);
}

status tar_writer::header(const tar_member& m) {
  std::string pax;
  if (m.name.size() > 99)
    pax += pax_record("path", m.name);
  if (m.link.size() > 99)
    pax += pax_record("linkpath", m.link);
  if (m.size >= (uint64_t{1} << 33))
    pax += pax_record("size", std::to_string(m.size));
  if (m.type == socket_type)
    pax += pax_record("SCHILY.filetype", "socket");
  if (!pax.empty()) {
    header_block x{};
    put_string(x, 0, 100, "PaxHeader");
    put_octal(x, 100, 8, 0644);
    put_octal(x, 124, 12, pax.size());
    x[156] = 'x';
    put_string(x, 257, 6, "ustar");
    put_string(x, 263, 2, "00");
    set_checksum(x);
    if (auto ok = emit({x.data(), x.size()}); !ok)
      return ok;
    pax.resize((pax.size() + block - 1) / block * block, '\0');
    if (auto ok = emit(pax); !ok)
      return ok;
  }
  header_block h{};
  put_string(h, 0, 100, m.name.substr(0, 99));
  put_octal(h, 100, 8, m.mode & 07777);
  put_octal(h, 108, 8, 0);
  put_octal(h, 116, 8, 0);
  put_octal(h, 124, 12, m.size < (uint64_t{1} << 33) ? m.size : 0);
  put_octal(h, 136, 12, static_cast<uint64_t>(std::max<int64_t>(0, m.mtime)));
  h[156] = m.type == socket_type ? '6' : m.type;
  put_string(h, 157, 100, m.link.substr(0, 99));
  put_string(h, 257, 6, "ustar");
  put_string(h, 263, 2, "00");
  put_string(h, 265, 32, "root");
  put_string(h, 297, 32, "root");
  set_checksum(h);
  return emit({h.data(), h.size()});
}

status tar_writer::pad_file() {
  if (file_left_ != 0)
    return make_error(error_code::internal, "tar member ended "
                                              + std::to_string(file_left_)
                                              + " bytes short");
  auto rest = file_size_ % block;
  file_size_ = 0;
  if (rest == 0)
    return {};
  return emit(std::string(block - rest, '\0'));
}

status tar_writer::add_directory(const std::string& name, uint32_t mode,
                                 int64_t mtime) {
  if (auto ok = pad_file(); !ok)
    return ok;
  auto n = name.empty() || name.back() == '/' ? name : name + "/";
  return header({n, '5', mode, 0, {}, mtime});
}

status tar_writer::add_symlink(const std::string& name,
                               const std::string& target, int64_t mtime) {
  if (auto ok = pad_file(); !ok)
    return ok;
  return header({name, '2', 0777, 0, target, mtime});
}

status tar_writer::add_hardlink(const std::string& name,
                                const std::string& target, int64_t mtime) {
  if (auto ok = pad_file(); !ok)
    return ok;
  return header({name, '1', 0644, 0, target, mtime});
}

status tar_writer::add_special(const std::string& name, char type,
                               uint32_t mode, int64_t mtime) {
  if (type != '6' && type != socket_type)
    return make_error(error_code::internal,
                      "a tar special member is a FIFO or a socket");
  if (auto ok = pad_file(); !ok)
    return ok;
  return header({name, type, mode, 0, {}, mtime});
}

status tar_writer::begin_file(const std::string& name, uint32_t mode,
                              uint64_t size, int64_t mtime) {
  if (auto ok = pad_file(); !ok)
    return ok;
  file_left_ = size;
  file_size_ = size;
  return header({name, '0', mode, size, {}, mtime});
}

status tar_writer::write(std::string_view bytes) {
  if (bytes.size() > file_left_)
    return make_error(error_code::internal,
                      "more data than the tar member announced");
  file_left_ -= bytes.size();
  return emit(bytes);
}

status tar_writer::finish() {
  if (auto ok = pad_file(); !ok)
    return ok;
  return emit(std::string(2 * block, '\0'));
}

// -- reader -------------------------------------------------------------------

tar_reader::tar_reader(source in) : in_(std::move(in)) {
  // nop
}

status tar_reader::read_exact(char* buf, size_t size) {
  while (size > 0) {
    auto n = in_(buf, size);
    if (!n)
      return n.err();
    if (*n == 0)
      return malformed("the archive ends in the middle of a member");
    buf += *n;
    size -= *n;
  }
  return {};
}

status tar_reader::skip(uint64_t size) {
  char buf[4096];
  while (size > 0) {
    auto chunk = static_cast<size_t>(std::min<uint64_t>(size, sizeof(buf)));
    if (auto ok = read_exact(buf, chunk); !ok)
      return ok;
    size -= chunk;
  }
  return {};
}

result<std::optional<tar_member>> tar_reader::next() {
  if (done_)
    return std::optional<tar_member>{};
  if (auto ok = skip(data_left_ + pad_left_); !ok)
    return ok.err();
  data_left_ = pad_left_ = 0;
  std::optional<std::string> long_name;
  std::optional<std::string> long_link;
  std::optional<uint64_t> pax_size;
  bool pax_socket = false;
  for (;;) {
    header_block h;
    auto n = in_(h.data(), 1);
    if (!n)
      return n.err();
    if (*n == 0) { // a stream may end without the two zero blocks
      done_ = true;
      return std::optional<tar_member>{};
    }
    if (auto ok = read_exact(h.data() + 1, block - 1); !ok)
      return ok.err();
    if (std::all_of(h.begin(), h.end(), [](char c) { return c == '\0'; })) {
      done_ = true;
      return std::optional<tar_member>{};
    }
    bool ok = true;
    unsigned stored
      = static_cast<unsigned>(parse_number(h.data() + 148, 8, ok));
    std::memset(h.data() + 148, ' ', 8);
    unsigned sum = 0;
    for (char c : h)
      sum += static_cast<unsigned char>(c);
    if (!ok || sum != stored)
      return malformed("header checksum mismatch");
    tar_member m;
    m.type = h[156] == '\0' ? '0' : h[156];
    m.mode = static_cast<uint32_t>(parse_number(h.data() + 100, 8, ok));
    m.size = parse_number(h.data() + 124, 12, ok);
    m.mtime = static_cast<int64_t>(parse_number(h.data() + 136, 12, ok));
    if (!ok)
      return malformed("bad number in a header");
    m.name = field(h.data(), 100);
    if (std::memcmp(h.data() + 257, "ustar", 5) == 0) {
      auto prefix = field(h.data() + 345, 155);
      if (!prefix.empty())
        m.name = prefix + "/" + m.name;
    }
    m.link = field(h.data() + 157, 100);
    if (m.size > (uint64_t{1} << 40))
      return malformed("member claims an absurd size");
    if (m.type == 'x' || m.type == 'g' || m.type == 'L' || m.type == 'K') {
      if (m.size > (1u << 20))
        return malformed("extended header too large");
      std::string body(static_cast<size_t>(m.size), '\0');
      if (auto read = read_exact(body.data(), body.size()); !read)
        return read.err();
      if (auto pad = skip((block - m.size % block) % block); !pad)
        return pad.err();
      if (m.type == 'L' || m.type == 'K') {
        auto text = std::string{body.c_str()};
        (m.type == 'L' ? long_name : long_link) = text;
        continue;
      }
      if (m.type == 'g')
        continue; // global pax headers carry nothing we use
      size_t pos = 0;
      while (pos < body.size()) {
        auto space = body.find(' ', pos);
        if (space == std::string::npos)
          return malformed("bad pax record");
        auto len = std::strtoull(body.c_str() + pos, nullptr, 10);
        if (len == 0 || pos + len > body.size())
          return malformed("bad pax record length");
        auto record = body.substr(space + 1, pos + len - space - 2);
        auto eq = record.find('=');
        if (eq != std::string::npos) {
          auto key = record.substr(0, eq);
          auto value = record.substr(eq + 1);
          if (key == "path")
            long_name = value;
          else if (key == "linkpath")
            long_link = value;
          else if (key == "size")
            pax_size = std::strtoull(value.c_str(), nullptr, 10);
          else if (key == "SCHILY.filetype")
            pax_socket = value == "socket";
        }
        pos += len;
      }
      continue;
    }
    if (long_name)
      m.name = *long_name;
    if (long_link)
      m.link = *long_link;
    if (pax_size)
      m.size = *pax_size;
    if (pax_socket && m.type == '6')
      m.type = socket_type;
    // Only files carry data; a size on anything else is ignored, as tar does.
    if (m.type == '5' || m.type == '2' || m.type == '1' || m.type == '6'
        || m.type == socket_type)
      m.size = 0;
    data_left_ = m.size;
    pad_left_ = (block - m.size % block) % block;
    return std::optional<tar_member>{std::move(m)};
  }
}

result<size_t> tar_reader::read(char* buf, size_t size) {
  if (data_left_ == 0)
    return size_t{0};
  auto want = static_cast<size_t>(std::min<uint64_t>(size, data_left_));
  if (auto ok = read_exact(buf, want); !ok)
    return ok.err();
  data_left_ -= want;
  return want;
}

tar_reader::source fd_source(int fd, std::string what) {
  return [fd, what = std::move(what)](char* buf,
                                      size_t size) -> result<size_t> {
    for (;;) {
      auto n = ::read(fd, buf, size);
      if (n >= 0)
        return static_cast<size_t>(n);
      if (errno != EINTR)
        return make_error(error_code::internal, "cannot read " + what + ": "
                                                  + std::strerror(errno));
    }
  };
}

} // namespace pyro::wire
