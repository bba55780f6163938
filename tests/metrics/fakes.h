// Test doubles for the metrics: a counter source whose values the test sets, and a small
// real context registry (temp state dir, no data plane).
#pragma once

#include <stdlib.h>

#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "daemon/core/context_registry.h"
#include "daemon/core/dataplane.h"
#include "daemon/metrics/counters.h"

namespace vnet::metrics::testing {

class FakeCounterSource final : public CounterSource {
 public:
  void Set(uint32_t id, const ContextCounters& c) {
    absl::MutexLock lock(&mu_);
    counters_[id] = c;
  }
  void Fail(uint32_t id) {
    absl::MutexLock lock(&mu_);
    failing_.insert(id);
  }
  void SetFill(std::vector<MapFill> fill) {
    absl::MutexLock lock(&mu_);
    fill_ = std::move(fill);
  }
  absl::StatusOr<ContextCounters> Read(uint32_t id) const override {
    absl::MutexLock lock(&mu_);
    if (failing_.count(id) != 0) return absl::UnavailableError("map read failed");
    auto it = counters_.find(id);
    return it == counters_.end() ? ContextCounters{} : it->second;
  }
  std::vector<MapFill> Fill() const override {
    absl::MutexLock lock(&mu_);
    return fill_;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<uint32_t, ContextCounters> counters_;
  std::set<uint32_t> failing_;
  std::vector<MapFill> fill_;
};

// A ContextRegistry over a fresh state directory, without a fast path.
class TestRegistry {
 public:
  explicit TestRegistry(uint32_t capacity = 8) {
    char tmpl[] = "/tmp/vnet-metrics-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    registry_ = std::make_unique<ContextRegistry>(capacity, StateFile(dir_), &dataplane_);
    status_ = registry_->Start();
  }
  ~TestRegistry() {
    registry_.reset();
    (void)system(("rm -rf '" + dir_ + "'").c_str());
  }
  ContextRegistry& operator*() { return *registry_; }
  ContextRegistry* get() { return registry_.get(); }
  const absl::Status& start_status() const { return status_; }

  // Assigns a guest of `domain` on interface "vif<domain>.0"; returns its id (0 on error).
  uint32_t AddGuest(uint32_t domain) {
    v1::Context spec;
    spec.set_domain_id(domain);
    spec.set_device_id(0);
    spec.set_interface_name(absl::StrFormat("vif%d.0", domain));
    spec.set_mac(absl::StrFormat("02:00:00:00:00:%02x", domain));
    auto ctx = registry_->Assign(spec);
    return ctx.ok() ? ctx->id() : 0;
  }
  absl::Status RemoveGuest(uint32_t id) {
    v1::ContextRef ref;
    ref.set_id(id);
    bool found = false;
    return registry_->Release(ref, false, &found).status();
  }

 private:
  std::string dir_;
  NoDataplane dataplane_;
  std::unique_ptr<ContextRegistry> registry_;
  absl::Status status_;
};

}  // namespace vnet::metrics::testing
