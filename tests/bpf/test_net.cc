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

// A test process killed outright (a ctest timeout) cannot run its destructors: the next one
// removes what runs of dead processes left (names vd<pid>..., pins vnet-test-<pid>-...).
void SweepDeadRuns() {
  Sh("for n in $(ip netns list | awk '{print $1}' | grep -E '^vd[0-9]+'); do "
     "p=$(echo $n | sed -E 's/^vd([0-9]+).*/\\1/'); [ -d /proc/$p ] || ip netns del $n; done; "
     "for l in $(ip -o link | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E '^vd[0-9]+'); do "
     "p=$(echo $l | sed -E 's/^vd([0-9]+).*/\\1/'); [ -d /proc/$p ] || ip link del $l; done; "
     "for d in /sys/fs/bpf/vnet-test-[0-9]*; do [ -e \"$d\" ] || continue; "
     "p=$(basename $d | sed -E 's/^vnet-test-([0-9]+).*/\\1/'); [ -d /proc/$p ] || rm -rf $d; "
     "done");
}

TestNet::TestNet(const std::string& tag)
    : prefix_("vd" + std::to_string(getpid()) + tag), ns_(prefix_ + "ns") {
  SweepDeadRuns();
  ok_ = Sh("ip netns add " + ns_) == 0;
}

TestNet::~TestNet() {
  for (const std::string& l : links_) Sh("ip link del " + l);
  for (const std::string& n : extra_ns_) Sh("ip netns del " + n);
  Sh("ip netns del " + ns_);
}

std::string TestNet::AddNamespace(const std::string& tag) {
  std::string n = prefix_ + tag + "ns";
  extra_ns_.push_back(n);
  if (Sh("ip netns add " + n) != 0) ok_ = false;
  return n;
}

std::string TestNet::AddPair(const std::string& name, const std::string& ns, uint32_t index) {
  std::string h = Host(name);
  const std::string p = Peer(name), where = ns.empty() ? ns_ : ns;
  const std::string at = index != 0 ? " index " + std::to_string(index) : "";
  links_.push_back(h);
  bool good = Sh("ip link add " + h + at + " type veth peer name " + p + " netns " + where) == 0 &&
              Sh("sysctl -w net.ipv6.conf." + h + ".disable_ipv6=1") == 0 &&
              Sh("ip link set " + h + " up") == 0 &&
              InNs(where, "sysctl -w net.ipv6.conf." + p + ".disable_ipv6=1") == 0 &&
              InNs(where, "ip link set " + p + " up") == 0;
  if (!good) ok_ = false;
  return h;
}

int TestNet::InNs(const std::string& ns, const std::string& cmd) {
  return Sh("ip netns exec " + ns + " " + cmd);
}

}  // namespace vnet::testing
