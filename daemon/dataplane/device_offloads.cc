#include "daemon/dataplane/device_offloads.h"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"

namespace vnet {
namespace {

class Ethtool {
 public:
  explicit Ethtool(const std::string& ifname) : fd_(socket(AF_INET, SOCK_DGRAM, 0)) {
    std::memset(&ifr_, 0, sizeof(ifr_));
    std::strncpy(ifr_.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  }
  ~Ethtool() {
    if (fd_ >= 0) close(fd_);
  }
  Ethtool(const Ethtool&) = delete;
  Ethtool& operator=(const Ethtool&) = delete;

  // Runs one ethtool command on `cmd` (a struct starting with the command word).
  absl::Status Run(void* cmd, const char* what) {
    if (fd_ < 0) return absl::ErrnoToStatus(errno, "socket");
    ifr_.ifr_data = static_cast<char*>(cmd);
    if (ioctl(fd_, SIOCETHTOOL, &ifr_) < 0)
      return absl::ErrnoToStatus(errno, absl::StrCat(what, " on ", ifr_.ifr_name));
    return absl::OkStatus();
  }

  // Feature name -> bit, from the device's ETH_SS_FEATURES string set.
  absl::StatusOr<std::map<std::string, int>> FeatureBits() {
    std::vector<uint8_t> info(sizeof(ethtool_sset_info) + sizeof(uint32_t));
    auto* si = reinterpret_cast<ethtool_sset_info*>(info.data());
    si->cmd = ETHTOOL_GSSET_INFO;
    si->sset_mask = 1ULL << ETH_SS_FEATURES;
    if (auto st = Run(si, "ETHTOOL_GSSET_INFO"); !st.ok()) return st;
    const uint32_t n = si->sset_mask ? si->data[0] : 0;
    std::vector<uint8_t> buf(sizeof(ethtool_gstrings) + size_t{n} * ETH_GSTRING_LEN);
    auto* gs = reinterpret_cast<ethtool_gstrings*>(buf.data());
    gs->cmd = ETHTOOL_GSTRINGS;
    gs->string_set = ETH_SS_FEATURES;
    gs->len = n;
    if (auto st = Run(gs, "ETHTOOL_GSTRINGS"); !st.ok()) return st;
    std::map<std::string, int> bits;
    for (uint32_t i = 0; i < gs->len && i < n; ++i) {
      const char* s = reinterpret_cast<const char*>(gs->data) + size_t{i} * ETH_GSTRING_LEN;
      bits[std::string(s, strnlen(s, ETH_GSTRING_LEN))] = static_cast<int>(i);
    }
    return bits;
  }

 private:
  int fd_;
  ifreq ifr_;
};

constexpr uint32_t kBlocks = 4;  // 128 feature bits: more than any kernel defines

// ethtool_{g,s}features followed by kBlocks blocks (flexible arrays), in one buffer.
template <typename Hdr, typename Block>
struct FeatureBuf {
  explicit FeatureBuf(uint32_t cmd) : bytes(sizeof(Hdr) + kBlocks * sizeof(Block)) {
    hdr()->cmd = cmd;
    hdr()->size = kBlocks;
  }
  Hdr* hdr() { return reinterpret_cast<Hdr*>(bytes.data()); }
  Block& block(int bit) { return hdr()->features[bit / 32]; }
  std::vector<uint8_t> bytes;
};
using GetBuf = FeatureBuf<ethtool_gfeatures, ethtool_get_features_block>;
using SetBuf = FeatureBuf<ethtool_sfeatures, ethtool_set_features_block>;

}  // namespace

absl::StatusOr<DeviceOffloads> ApplyDeviceOffloads(const std::string& ifname,
                                                   const DeviceOffloads& want) {
  Ethtool et(ifname);
  auto bits = et.FeatureBits();
  if (!bits.ok()) return bits.status();
  const std::vector<std::pair<std::vector<const char*>, bool>> groups = {
      {{"tx-checksum-ip-generic", "tx-checksum-ipv4", "tx-checksum-ipv6", "tx-checksum-sctp"},
       want.csum},
      {{"tx-scatter-gather", "tx-scatter-gather-fraglist"}, want.sg},
      {{"tx-tcp-segmentation", "tx-tcp-ecn-segmentation", "tx-tcp-mangleid-segmentation"},
       want.tso4},
      {{"tx-tcp6-segmentation"}, want.tso6}};
  auto bit_of = [&](const char* name) {
    auto it = bits->find(name);
    return it == bits->end() || it->second >= static_cast<int>(32 * kBlocks) ? -1 : it->second;
  };

  GetBuf cur(ETHTOOL_GFEATURES);
  if (auto st = et.Run(cur.hdr(), "ETHTOOL_GFEATURES"); !st.ok()) return st;
  SetBuf set(ETHTOOL_SFEATURES);
  // The kernel wants exactly its own number of feature words, which GFEATURES reported.
  set.hdr()->size = std::min(cur.hdr()->size, kBlocks);
  for (const auto& [names, on] : groups) {
    for (const char* name : names) {
      const int b = bit_of(name);
      if (b < 0) continue;
      const uint32_t mask = 1u << (b % 32);
      if (!(cur.block(b).available & mask)) continue;  // fixed on this device
      set.block(b).valid |= mask;
      if (on) set.block(b).requested |= mask;
    }
  }
  // A positive return (some bit unsupported or changed by dependencies) is not an error:
  // the features read back below are the truth.
  if (auto st = et.Run(set.hdr(), "ETHTOOL_SFEATURES"); !st.ok()) return st;

  GetBuf now(ETHTOOL_GFEATURES);
  if (auto st = et.Run(now.hdr(), "ETHTOOL_GFEATURES"); !st.ok()) return st;
  auto active = [&](const char* name) {
    const int b = bit_of(name);
    return b >= 0 && (now.block(b).active & (1u << (b % 32))) != 0;
  };
  DeviceOffloads got;
  got.csum = active("tx-checksum-ip-generic") ||
             (active("tx-checksum-ipv4") && active("tx-checksum-ipv6"));
  got.sg = active("tx-scatter-gather");
  got.tso4 = active("tx-tcp-segmentation");
  got.tso6 = active("tx-tcp6-segmentation");
  return got;
}

}  // namespace vnet
