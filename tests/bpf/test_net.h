// A throwaway test network: one namespace and veth pairs whose host ends stay in the root
// namespace. Names carry a short prefix and the PID; the destructor removes everything,
// including after a failed assertion.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vnet::testing {

// Runs a shell command quietly; returns its exit status.
int Sh(const std::string& cmd);
// Fails the calling test when not root: these tests need a kernel and must not skip.
bool RequireRoot();

class TestNet {
 public:
  explicit TestNet(const std::string& tag);
  ~TestNet();
  TestNet(const TestNet&) = delete;
  TestNet& operator=(const TestNet&) = delete;

  // Adds a veth pair <prefix><name>h (root namespace, up) / <prefix><name>p (in the
  // namespace, or in `ns` when given, up), the host end with interface index `index` when
  // it is not 0. Returns the host end's name.
  std::string AddPair(const std::string& name, const std::string& ns = "", uint32_t index = 0);
  // Adds another namespace, removed with the rest; returns its name.
  std::string AddNamespace(const std::string& tag);
  std::string Host(const std::string& name) const { return prefix_ + name + "h"; }
  std::string Peer(const std::string& name) const { return prefix_ + name + "p"; }
  const std::string& ns() const { return ns_; }
  // What every name of this network starts with ("vd<pid><tag>").
  const std::string& prefix() const { return prefix_; }
  // Runs a command inside the namespace.
  int InNs(const std::string& cmd) const { return InNs(ns_, cmd); }
  static int InNs(const std::string& ns, const std::string& cmd);
  bool ok() const { return ok_; }

 private:
  std::string prefix_;
  std::string ns_;
  std::vector<std::string> links_;
  std::vector<std::string> extra_ns_;
  bool ok_ = false;
};

}  // namespace vnet::testing
