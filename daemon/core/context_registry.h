// The pool made durable and connected: every change is persisted before it is answered,
// and pushed to the data plane. Thread-safe; readers share, writers serialise.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "daemon/core/context_pool.h"
#include "daemon/core/dataplane.h"
#include "daemon/core/state_file.h"

namespace vnet {

class ContextRegistry {
 public:
  ContextRegistry(uint32_t capacity, StateFile state, Dataplane* dataplane);

  // Loads the state file and reconciles the data plane with it. Errors leave the file as is.
  absl::Status Start();

  absl::StatusOr<v1::Context> Assign(const v1::Context& spec);
  absl::StatusOr<v1::Context> Release(const v1::ContextRef& ref, bool allow_missing, bool* found);
  absl::StatusOr<v1::Context> Get(const v1::ContextRef& ref) const;
  absl::StatusOr<v1::Context> Update(const v1::ContextRef& ref, const v1::Context& patch,
                                     const google::protobuf::FieldMask& mask);
  std::vector<v1::Context> List() const;
  // The uplink: set through the API and persisted with the contexts.
  absl::Status SetUplink(const std::string& ifname);
  std::string uplink() const;
  uint32_t capacity() const;
  size_t size() const;
  absl::Status Persist() const;

  // Called after a context is released, outside the lock (the buffer ledger drops its
  // regions, metrics drop its series).
  void OnRelease(std::function<void(const v1::Context&)> listener);

 private:
  absl::Status PersistLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AttachLocked(uint32_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  ContextPool pool_ ABSL_GUARDED_BY(mu_);
  StateFile state_;
  Dataplane* dataplane_;
  std::vector<std::function<void(const v1::Context&)>> release_listeners_;
  std::string uplink_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vnet
