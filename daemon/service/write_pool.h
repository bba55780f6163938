// A fixed number of threads and a bounded queue for the calls that wait on the disk (the
// registry's group commit, the ledger's region files). gRPC's callback threads hand such
// calls here and never block themselves; a full queue refuses at once rather than growing.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace vnet {

class WritePool {
 public:
  // `threads` run the jobs; at most `max_queued` wait for one (jobs running are not counted).
  WritePool(size_t threads, size_t max_queued);
  // Runs what is queued, then joins the threads.
  ~WritePool();
  WritePool(const WritePool&) = delete;
  WritePool& operator=(const WritePool&) = delete;

  // Queues `job`. RESOURCE_EXHAUSTED when `max_queued` jobs wait already, UNAVAILABLE once
  // stopping; the job is then not run (and never will be).
  absl::Status Submit(std::function<void()> job);

  // Refuses new jobs, runs those queued, joins the threads. Idempotent.
  void Stop();

  size_t queued() const;
  size_t threads() const { return threads_.size(); }
  size_t max_queued() const { return max_queued_; }

 private:
  void Work();
  bool HasWorkOrStopping() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return stopping_ || !queue_.empty();
  }

  const size_t max_queued_;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace vnet
