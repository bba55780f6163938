#include "tests/bpf/test_net.h"

#include <unistd.h>

#include <cstdlib>

#include "gtest/gtest.h"

namespace vnet::testing {

int Sh(const std::string& cmd) {
  int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

bool RequireRoot() {
  if (geteuid() != 0) {
    ADD_FAILURE() << "these tests load BPF programs and need root (CI runs them as root)";
    return false;
  }
  return true;
}

TestNet::TestNet(const std::string& tag)
    : prefix_("vb" + std::to_string(getpid()) + tag), ns_(prefix_ + "ns") {
  ok_ = Sh("ip netns add " + ns_) == 0;
}

TestNet::~TestNet() {
  for (const std::string& l : links_) Sh("ip link del " + l);
  Sh("ip netns del " + ns_);
}

std::string TestNet::AddPair(const std::string& name) {
  const std::string h = Host(name), p = Peer(name);
  links_.push_back(h);
  bool good = Sh("ip link add " + h + " type veth peer name " + p + " netns " + ns_) == 0 &&
              Sh("sysctl -w net.ipv6.conf." + h + ".disable_ipv6=1") == 0 &&
              Sh("ip link set " + h + " up") == 0 &&
              InNs("sysctl -w net.ipv6.conf." + p + ".disable_ipv6=1") == 0 &&
              InNs("ip link set " + p + " up") == 0;
  if (!good) ok_ = false;
  return h;
}

int TestNet::InNs(const std::string& cmd) const { return Sh("ip netns exec " + ns_ + " " + cmd); }

}  // namespace vnet::testing
