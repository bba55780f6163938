#include "daemon/core/echo.h"

namespace vnet {

std::string Echo(absl::string_view input, size_t max) {
  if (input.size() <= max) return std::string(input);
  size_t cut = max;
  // Back up over UTF-8 continuation bytes (10xxxxxx) so no character is split.
  while (cut > 0 && (static_cast<unsigned char>(input[cut]) & 0xC0) == 0x80) --cut;
  return std::string(input.substr(0, cut)) + "\u2026";
}

}  // namespace vnet
