#include "vmm/sandbox/egress_guard.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

namespace pyro::vmm {

namespace {

// Larger datagrams do not exist; a stream send may be cut short like any
// send, so a bigger one is sent in part.
constexpr size_t max_payload = 256 * 1024;
// SCM_RIGHTS for a few descriptors is all slirp4netns sends.
constexpr size_t max_control = 4096;
constexpr size_t max_iov = 1024; // UIO_MAXIOV

void say(const std::string& line) {
  std::fprintf(stderr, "pyro-egress-guard: %s\n", line.c_str());
  std::fflush(stderr);
}

int pidfd_open(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

int pidfd_getfd(int pidfd, int fd) {
  return static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, fd, 0));
}

// A descriptor closed when it goes out of scope.
struct owned_fd {
  int fd = -1;
  explicit owned_fd(int f) : fd{f} {
    // nop
  }
  owned_fd(owned_fd&& other) noexcept : fd{other.fd} {
    other.fd = -1;
  }
  owned_fd(const owned_fd&) = delete;
  owned_fd& operator=(const owned_fd&) = delete;
  owned_fd& operator=(owned_fd&&) = delete;
  ~owned_fd() {
    if (fd >= 0)
      ::close(fd);
  }
};

// The filter slirp4netns runs under; returns the listener or -errno.
int install_filter() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr)
    return -ENOMEM;
  auto rule = [&ctx](uint32_t action, int nr, unsigned count,
                     scmp_arg_cmp a = {}, scmp_arg_cmp b = {}) {
    return count == 0   ? seccomp_rule_add(ctx, action, nr, 0)
           : count == 1 ? seccomp_rule_add(ctx, action, nr, 1, a)
                        : seccomp_rule_add(ctx, action, nr, 2, a, b);
  };
  auto refuse = SCMP_ACT_ERRNO(EPERM);
  int failed = 0;
  auto add = [&failed](int rc) {
    if (rc < 0 && failed == 0)
      failed = rc;
  };
  add(rule(SCMP_ACT_NOTIFY, SCMP_SYS(connect), 0));
  // send() is sendto() without an address: no destination to judge.
  add(rule(SCMP_ACT_NOTIFY, SCMP_SYS(sendto), 1, SCMP_A4(SCMP_CMP_NE, 0)));
  add(rule(SCMP_ACT_NOTIFY, SCMP_SYS(sendmsg), 0));
  add(rule(refuse, SCMP_SYS(sendmmsg), 0));
  add(rule(refuse, SCMP_SYS(io_uring_setup), 0));
  add(rule(refuse, SCMP_SYS(io_uring_enter), 0));
  add(rule(refuse, SCMP_SYS(io_uring_register), 0));
  // Source routes would take a packet to a host address as its first hop.
  // (Int arguments are compared on their low 32 bits, as the kernel reads
  // them, so that garbage in the high half cannot slip past.)
  add(rule(refuse, SCMP_SYS(setsockopt), 2, SCMP_A1_32(SCMP_CMP_EQ, IPPROTO_IP),
           SCMP_A2_32(SCMP_CMP_EQ, IP_OPTIONS)));
  for (int option : {IPV6_RTHDR, IPV6_2292RTHDR})
    add(rule(refuse, SCMP_SYS(setsockopt), 2,
             SCMP_A1_32(SCMP_CMP_EQ, IPPROTO_IPV6),
             SCMP_A2_32(SCMP_CMP_EQ, static_cast<scmp_datum_t>(option))));
  // Only the sockets slirp4netns makes: Unix, IPv4, IPv6 (and netlink,
  // which libc may use to list interfaces); no raw or packet sockets, and
  // no SCTP or MPTCP, which reach further addresses through socket options
  // and their peers rather than through connect().
  add(rule(refuse, SCMP_SYS(socket), 1, SCMP_A0_32(SCMP_CMP_GT, AF_NETLINK)));
  for (int family : {0, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15})
    add(rule(refuse, SCMP_SYS(socket), 1,
             SCMP_A0_32(SCMP_CMP_EQ, static_cast<scmp_datum_t>(family))));
  for (int family : {AF_INET, AF_INET6})
    for (int type : {SOCK_RAW, SOCK_PACKET})
      add(rule(
        refuse, SCMP_SYS(socket), 2,
        SCMP_A0_32(SCMP_CMP_EQ, static_cast<scmp_datum_t>(family)),
        SCMP_A1_32(SCMP_CMP_MASKED_EQ, 0xf, static_cast<scmp_datum_t>(type))));
  add(
    rule(refuse, SCMP_SYS(socket), 1, SCMP_A2_32(SCMP_CMP_GT, IPPROTO_ICMPV6)));
  if (failed == 0)
    failed = seccomp_load(ctx); // sets no_new_privs first
  int fd = failed == 0 ? seccomp_notify_fd(ctx) : failed;
  // Not released: that could close the listener, and exec frees it all.
  return fd;
}

// Closes every descriptor above 2 but those in `keep`.
void close_all_but(std::vector<int> keep) {
  std::sort(keep.begin(), keep.end());
  unsigned from = 3;
  for (int fd : keep) {
    if (fd < 3)
      continue;
    if (static_cast<unsigned>(fd) > from)
      ::syscall(SYS_close_range, from, static_cast<unsigned>(fd) - 1, 0);
    from = static_cast<unsigned>(fd) + 1;
  }
  ::syscall(SYS_close_range, from, ~0u, 0);
}

// What an emulated call returns to the guarded program.
struct outcome {
  long long value = 0;
  int error = 0;
};

outcome failure(int error) {
  return {-1, error};
}

outcome result_of(long long r) {
  return r < 0 ? failure(errno) : outcome{r, 0};
}

class guard {
public:
  guard(int listener, const egress_policy& policy)
    : listener_{listener}, policy_{policy} {
    // nop
  }

  // Answers one notification (unless it is no longer pending).
  void handle(const seccomp_notif& req) {
    outcome out = serve(req);
    if (!answerable_)
      return;
    seccomp_notif_resp resp{};
    resp.id = req.id;
    resp.val = out.error == 0 ? out.value : -1;
    resp.error = out.error == 0 ? 0 : -out.error;
    // ENOENT: the caller was interrupted meanwhile; nothing to answer.
    ::ioctl(listener_, SECCOMP_IOCTL_NOTIF_SEND, &resp);
  }

private:
  outcome serve(const seccomp_notif& req) {
    answerable_ = true;
    id_ = req.id;
    pid_ = static_cast<pid_t>(req.pid);
    // The pidfd is the caller's for sure once the notification is found
    // still pending after it was opened: a pending caller is alive.
    owned_fd pidfd{pidfd_open(pid_)};
    if (!still_pending())
      return {};
    if (pidfd.fd < 0)
      return failure(EPERM);
    pidfd_ = pidfd.fd;
    owned_fd sock{pidfd_getfd(pidfd.fd, static_cast<int>(req.data.args[0]))};
    if (sock.fd < 0)
      return failure(errno == EBADF ? EBADF : EPERM);
    int domain = 0;
    socklen_t len = sizeof(domain);
    if (::getsockopt(sock.fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0)
      return failure(errno == ENOTSOCK ? ENOTSOCK : EPERM);
    if (domain != AF_INET && domain != AF_INET6 && domain != AF_UNIX) {
      log("refused a call on a socket of address family "
          + std::to_string(domain));
      return failure(EACCES);
    }
    checked_ = domain != AF_UNIX; // a Unix socket names no host
    const auto* a = req.data.args;
    // Lengths of type int are read as the kernel reads them: low 32 bits.
    if (req.data.nr == SYS_connect)
      return connect(sock.fd, a[1], static_cast<uint32_t>(a[2]));
    if (req.data.nr == SYS_sendto)
      return sendto(sock.fd, a[1], a[2], static_cast<int>(a[3]), a[4],
                    static_cast<uint32_t>(a[5]));
    if (req.data.nr == SYS_sendmsg)
      return sendmsg(sock.fd, a[1], static_cast<int>(a[2]));
    return failure(ENOSYS);
  }

  // Valid only while the caller still waits in the call: checked after
  // every read of its memory, so what was read is what it passed.
  bool still_pending() {
    uint64_t id = id_;
    answerable_ = ::ioctl(listener_, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
    return answerable_;
  }

  bool read(uint64_t from, void* to, size_t len) {
    if (len == 0)
      return true;
    iovec local{to, len};
    iovec remote{reinterpret_cast<void*>(from), len};
    return ::process_vm_readv(pid_, &local, 1, &remote, 1, 0)
           == static_cast<ssize_t>(len);
  }

  // Reads a socket address; the kernel refuses longer ones with EINVAL.
  bool read_address(uint64_t from, uint64_t len, sockaddr_storage& to,
                    int& error) {
    if (len > sizeof(to)) {
      error = EINVAL;
      return false;
    }
    if (!read(from, &to, len)) {
      error = EFAULT;
      return false;
    }
    return true;
  }

  // True when every destination the address names may be reached.
  bool permitted(const char* call, const sockaddr_storage& addr, socklen_t len,
                 bool is_connect) {
    if (!checked_)
      return true;
    auto bytes = reinterpret_cast<const unsigned char*>(&addr);
    for (const auto& d : destinations_in(bytes, len, is_connect)) {
      auto why = judge(
        d, policy_, [this](const destination& x) { return routes_.type_of(x); },
        resolv_conf_nameservers);
      if (why != refusal::none) {
        log(std::string{"refused "} + call + " to " + d.to_string() + ": "
            + explain(why));
        return false;
      }
    }
    return true;
  }

  outcome connect(int sock, uint64_t addr_ptr, uint64_t addr_len) {
    sockaddr_storage addr{};
    int error = 0;
    if (!read_address(addr_ptr, addr_len, addr, error))
      return failure(error);
    if (!still_pending())
      return {};
    auto len = static_cast<socklen_t>(addr_len);
    // ECONNREFUSED: slirp4netns answers the sandbox's SYN with a reset.
    if (!permitted("connect", addr, len, true))
      return failure(ECONNREFUSED);
    return result_of(
      ::connect(sock, reinterpret_cast<const sockaddr*>(&addr), len));
  }

  // Fits a payload of `total` bytes into max_payload: a stream socket
  // sends a part, a datagram that big cannot exist.
  bool fit(int sock, uint64_t& total) {
    if (total <= max_payload)
      return true;
    int type = 0;
    socklen_t len = sizeof(type);
    ::getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &len);
    total = max_payload;
    return type == SOCK_STREAM;
  }

  outcome sendto(int sock, uint64_t buf, uint64_t size, int flags,
                 uint64_t addr_ptr, uint64_t addr_len) {
    sockaddr_storage addr{};
    int error = 0;
    if (!read_address(addr_ptr, addr_len, addr, error))
      return failure(error);
    if (!fit(sock, size))
      return failure(EMSGSIZE);
    std::vector<char> payload(size);
    if (!read(buf, payload.data(), payload.size()))
      return failure(EFAULT);
    if (!still_pending())
      return {};
    auto len = static_cast<socklen_t>(addr_len);
    if (!permitted("sendto", addr, len, false))
      return failure(EACCES);
    return result_of(::sendto(sock, payload.data(), payload.size(), flags,
                              reinterpret_cast<const sockaddr*>(&addr), len));
  }

  outcome sendmsg(int sock, uint64_t msg_ptr, int flags) {
    msghdr msg{};
    if (!read(msg_ptr, &msg, sizeof(msg)))
      return failure(EFAULT);
    // As the kernel does: a longer name is cut to sockaddr_storage.
    if (static_cast<int>(msg.msg_namelen) < 0)
      return failure(EINVAL);
    sockaddr_storage addr{};
    socklen_t addr_len = msg.msg_name == nullptr
                           ? 0
                           : std::min<socklen_t>(msg.msg_namelen, sizeof(addr));
    if (!read(reinterpret_cast<uint64_t>(msg.msg_name), &addr, addr_len))
      return failure(EFAULT);
    if (msg.msg_iovlen > max_iov)
      return failure(EMSGSIZE);
    std::vector<iovec> iov(msg.msg_iovlen);
    if (!read(reinterpret_cast<uint64_t>(msg.msg_iov), iov.data(),
              iov.size() * sizeof(iovec)))
      return failure(EFAULT);
    uint64_t total = 0;
    for (const auto& v : iov)
      total += std::min<uint64_t>(v.iov_len, max_payload + 1);
    if (!fit(sock, total))
      return failure(EMSGSIZE);
    std::vector<char> payload(total);
    size_t at = 0;
    for (const auto& v : iov) {
      size_t take = std::min<size_t>(v.iov_len, payload.size() - at);
      if (!read(reinterpret_cast<uint64_t>(v.iov_base), payload.data() + at,
                take))
        return failure(EFAULT);
      at += take;
    }
    if (msg.msg_controllen > max_control)
      return failure(ENOBUFS);
    alignas(cmsghdr) char control[max_control];
    if (msg.msg_control != nullptr
        && !read(reinterpret_cast<uint64_t>(msg.msg_control), control,
                 msg.msg_controllen))
      return failure(EFAULT);
    msghdr copy{};
    copy.msg_name = addr_len > 0 ? &addr : nullptr;
    copy.msg_namelen = addr_len;
    iovec whole{payload.data(), payload.size()};
    copy.msg_iov = &whole;
    copy.msg_iovlen = 1;
    copy.msg_control = msg.msg_control != nullptr ? control : nullptr;
    copy.msg_controllen = msg.msg_control != nullptr ? msg.msg_controllen : 0;
    // Descriptors passed with SCM_RIGHTS (how slirp4netns hands itself the
    // tap device) become ours to pass; nothing else is let through.
    std::vector<owned_fd> passed;
    const char* control_end = control + copy.msg_controllen;
    for (cmsghdr* c = CMSG_FIRSTHDR(&copy); c != nullptr;
         c = CMSG_NXTHDR(&copy, c)) {
      if (c->cmsg_len < CMSG_LEN(0)
          || c->cmsg_len > static_cast<size_t>(
               control_end - reinterpret_cast<const char*>(c)))
        return failure(EINVAL);
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
        log("refused sendmsg with control message "
            + std::to_string(c->cmsg_level) + "/"
            + std::to_string(c->cmsg_type));
        return failure(EOPNOTSUPP);
      }
      auto count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      auto* fds = reinterpret_cast<int*>(CMSG_DATA(c));
      for (size_t i = 0; i < count; ++i) {
        passed.emplace_back(pidfd_getfd(pidfd_, fds[i]));
        if (passed.back().fd < 0)
          return failure(EBADF);
        fds[i] = passed.back().fd;
      }
    }
    if (!still_pending())
      return {};
    if (addr_len > 0 && !permitted("sendmsg", addr, addr_len, false))
      return failure(EACCES);
    return result_of(::sendmsg(sock, &copy, flags));
  }

  // At most 20 lines, then one in a thousand: the sandbox decides how
  // often this happens, and the log lives on the host's disk.
  void log(const std::string& line) {
    ++logged_;
    if (logged_ <= 20 || logged_ % 1000 == 0)
      say(line + " (refusal " + std::to_string(logged_) + ")");
  }

  int listener_;
  egress_policy policy_;
  route_oracle routes_;
  uint64_t id_ = 0;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool answerable_ = true;
  bool checked_ = true;
  uint64_t logged_ = 0;
};

[[noreturn]] void supervise(int listener, int pidfd, pid_t child,
                            const egress_policy& policy) {
  guard g{listener, policy};
  pollfd fds[2] = {{listener, POLLIN, 0}, {pidfd, POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (fds[1].revents != 0)
      break;
    if (fds[0].revents & POLLIN) {
      seccomp_notif req{};
      if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) == 0)
        g.handle(req);
    } else if (fds[0].revents != 0) {
      fds[0].fd = -1; // nothing runs under the filter any more
    }
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    // retry
  }
  ::_exit(WIFEXITED(status)
            ? WEXITSTATUS(status)
            : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0));
}

} // namespace

[[noreturn]] void exec_guarded(const std::vector<std::string>& argv,
                               const egress_policy& policy) {
  std::vector<const char*> args;
  for (const auto& a : argv)
    args.push_back(a.c_str());
  args.push_back(nullptr);
  int report[2];
  int go[2];
  if (::pipe2(report, O_CLOEXEC) != 0 || ::pipe2(go, O_CLOEXEC) != 0) {
    say(std::string{"pipe2: "} + std::strerror(errno));
    ::_exit(1);
  }
  // A guard that dies takes the program with it (PDEATHSIG), and SIGPIPE
  // from an emulated send must not kill the guard.
  std::signal(SIGPIPE, SIG_IGN);
  pid_t self = ::getpid();
  pid_t child = ::fork();
  if (child == 0) {
    std::signal(SIGPIPE, SIG_DFL);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != self)
      ::_exit(1);
    int listener = install_filter();
    [[maybe_unused]] auto n = ::write(report[1], &listener, sizeof(listener));
    char ok = 0;
    if (listener < 0 || ::read(go[0], &ok, 1) != 1)
      ::_exit(1);
    // The program must not hold the listener: it could answer for itself.
    ::close(listener);
    ::execv(args[0], const_cast<char* const*>(args.data()));
    ::_exit(127);
  }
  ::close(report[1]);
  ::close(go[0]);
  if (child < 0) {
    say(std::string{"fork: "} + std::strerror(errno));
    ::_exit(1);
  }
  int pidfd = pidfd_open(child);
  int number = -EIO;
  if (::read(report[0], &number, sizeof(number)) != sizeof(number))
    number = -EIO;
  int listener = -1;
  if (number < 0)
    say(std::string{"cannot install the seccomp filter: "}
        + std::strerror(-number));
  else if (pidfd < 0 || (listener = pidfd_getfd(pidfd, number)) < 0)
    say(std::string{"cannot take the seccomp listener: "}
        + std::strerror(errno));
  if (listener < 0) {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    ::_exit(1);
  }
  [[maybe_unused]] auto n = ::write(go[1], "g", 1);
  close_all_but({pidfd, listener});
  say("guarding " + argv.front() + " (host addresses "
      + (policy.allow_host ? "allowed" : "refused") + ", link-local "
      + (policy.allow_link_local ? "allowed" : "refused") + ")");
  supervise(listener, pidfd, child, policy);
}

} // namespace pyro::vmm
