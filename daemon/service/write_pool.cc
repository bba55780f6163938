#include "daemon/service/write_pool.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_format.h"

namespace vnet {

WritePool::WritePool(size_t threads, size_t max_queued) : max_queued_(max_queued) {
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

WritePool::~WritePool() { Stop(); }

absl::Status WritePool::Submit(std::function<void()> job) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("vnetd is stopping");
  if (queue_.size() >= max_queued_) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "vnetd is busy: %d changes already wait for the disk (the limit); nothing was "
        "changed, retry later",
        max_queued_));
  }
  queue_.push_back(std::move(job));
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

// Changes yield the CPU to reads: a write thread runs this much nicer than vnetd, so when
// the cores are busy, Get/List and the buffer calls (inline on gRPC's threads) go first and
// the writers wait in their queue instead.
constexpr int kWriteNiceness = 10;

void WritePool::Work() {
  pthread_setname_np(pthread_self(), "vnetd-write");
  const int base = getpriority(PRIO_PROCESS, 0);
  // Linux applies a thread id's niceness to that thread alone. Failing changes nothing
  // but the order in which a busy CPU serves the calls.
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), std::min(base + kWriteNiceness, 19));
  while (true) {
    std::function<void()> job;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &WritePool::HasWorkOrStopping));
      if (queue_.empty()) return;  // stopping, and nothing left to run
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();
  }
}

}  // namespace vnet
