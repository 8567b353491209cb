#pragma once

#include <string>
#include <string_view>

#include <nettle/sha2.h>

namespace pyro::vmm {

/// Incremental SHA-256 (nettle), for verifying OCI blob digests while they
/// stream in; libcurl gives no digest of what it received.
class sha256 {
public:
  sha256();

  void update(std::string_view bytes);

  /// Lower-case hex of the digest; the hasher is reset afterwards.
  std::string hex();

private:
  sha256_ctx ctx_;
};

/// "sha256:<hex>" of `bytes`.
std::string sha256_of(std::string_view bytes);

} // namespace pyro::vmm
