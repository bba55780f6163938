// A fixed number of threads and a bounded queue for the calls that wait on the disk (the
// registry's group commit, the ledger's region files). gRPC's callback threads hand such
// calls here and never block themselves; a full queue refuses at once rather than growing.
// Jobs may be paced (at most so many starts a second): a storm of changes then waits in
// the queue, holding no core, instead of taking the CPU the buffer calls and reads need.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "daemon/core/start_pace.h"

namespace vnet {

class WritePool {
 public:
  // `threads` run the jobs; at most `max_queued` wait for one (jobs running are not counted).
  // At most `starts_per_second` jobs start a second (and as many at once after a pause); 0:
  // unpaced.
  WritePool(size_t threads, size_t max_queued, double starts_per_second = 0);
  // Runs what is queued, then joins the threads.
  ~WritePool();
  WritePool(const WritePool&) = delete;
  WritePool& operator=(const WritePool&) = delete;

  // Queues `job`. RESOURCE_EXHAUSTED when `max_queued` jobs wait already, UNAVAILABLE once
  // stopping; the job is then not run (and never will be). When its turn comes, a job for
  // which `still_wanted` says false (its caller gave up) runs at once, to answer, without
  // taking a start of the pace from the jobs behind it.
  absl::Status Submit(std::function<void()> job, std::function<bool()> still_wanted = {});

  // Refuses new jobs, runs those queued (unpaced), joins the threads. Idempotent.
  void Stop();

  size_t queued() const;
  size_t threads() const { return threads_.size(); }
  size_t max_queued() const { return max_queued_; }

 private:
  void Work();
  bool HasWorkOrStopping() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return stopping_ || !queue_.empty();
  }
  bool Stopping() const ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_; }

  const size_t max_queued_;
  mutable absl::Mutex mu_;
  struct Job {
    std::function<void()> run;
    std::function<bool()> still_wanted;  // empty: always
  };
  std::deque<Job> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  StartPace pace_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

}  // namespace vnet
