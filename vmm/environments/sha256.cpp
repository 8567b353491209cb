#include "vmm/environments/sha256.hpp"

namespace pyro::vmm {

sha256::sha256() {
  sha256_init(&ctx_);
}

void sha256::update(std::string_view bytes) {
  sha256_update(&ctx_, bytes.size(),
                reinterpret_cast<const uint8_t*>(bytes.data()));
}

std::string sha256::hex() {
  uint8_t out[SHA256_DIGEST_SIZE];
  sha256_digest(&ctx_, sizeof out, out);
  static const char* digits = "0123456789abcdef";
  std::string text;
  for (uint8_t b : out) {
    text += digits[b >> 4];
    text += digits[b & 15];
  }
  return text;
}

std::string sha256_of(std::string_view bytes) {
  sha256 h;
  h.update(bytes);
  return "sha256:" + h.hex();
}

} // namespace pyro::vmm
