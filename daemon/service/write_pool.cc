#include "daemon/service/write_pool.h"

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

void WritePool::Work() {
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
