#include "daemon/service/write_pool.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace vnet {

WritePool::WritePool(size_t threads, size_t max_queued, double starts_per_second)
    : max_queued_(max_queued), pace_(starts_per_second) {
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

WritePool::~WritePool() { Stop(); }

absl::Status WritePool::Submit(std::function<void()> job, std::function<bool()> still_wanted) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("vnetd is stopping");
  if (queue_.size() >= max_queued_) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "vnetd is busy: %d changes already wait for the disk (the limit); nothing was "
        "changed, retry later",
        max_queued_));
  }
  queue_.push_back({std::move(job), std::move(still_wanted)});
  return absl::OkStatus();
}

void WritePool::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

size_t WritePool::queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

namespace {

// Changes yield the CPU to reads: a write thread runs this much nicer than vnetd, so when
// the cores are busy, Get/List and the buffer calls (inline on gRPC's threads) go first and
// the writers wait in their queue instead.
constexpr int kWriteNiceness = 10;
// And never less nice than this, whatever vnetd's own niceness: the unit starts vnetd at a
// negative one (deploy/systemd/vnetd.service) for its gRPC threads; its changes must still
// yield to ordinary processes, its clients among them, which wait for a core to read the
// answers (measured: writes at 0 under a vnetd at -10 took a core from the probe's thread).
constexpr int kMinWriteNiceness = 10;

int WriteNiceness(int base) {
  return std::min(std::max(base + kWriteNiceness, kMinWriteNiceness), 19);
}

}  // namespace

void WritePool::Work() {
  pthread_setname_np(pthread_self(), "vnetd-write");
  const int base = getpriority(PRIO_PROCESS, 0);
  // Linux applies a thread id's niceness to that thread alone. Failing changes nothing
  // but the order in which a busy CPU serves the calls.
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), WriteNiceness(base));
  while (true) {
    Job job;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &WritePool::HasWorkOrStopping));
      if (queue_.empty()) return;  // stopping, and nothing left to run
      job = std::move(queue_.front());
      queue_.pop_front();
      // Wait for this job's turn, holding no lock meanwhile (Await releases mu_); stopping
      // cuts the wait short. A caller whose deadline passes meanwhile is refused by the job;
      // one that has given up already takes no turn (in order: checked under the lock).
      if (!job.still_wanted || job.still_wanted()) {
        const absl::Time start = pace_.Reserve(absl::Now());
        mu_.AwaitWithDeadline(absl::Condition(this, &WritePool::Stopping), start);
      }
    }
    job.run();
  }
}

}  // namespace vnet
