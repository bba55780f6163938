#include "daemon/monitor/drop_event_hub.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace vnet::monitor {

Subscription::~Subscription() { hub_->Unsubscribe(this); }

bool Subscription::Offer(const vnet_drop_event& ev) {
  absl::MutexLock lock(&mu_);
  if (queue_.size() >= capacity_) {
    ++lost_pending_;
    ++lost_;
    return false;
  }
  queue_.push_back({ev, lost_pending_});
  lost_pending_ = 0;
  return true;
}

void Subscription::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

std::optional<Subscription::Item> Subscription::Next(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !queue_.empty() || closed_; };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (closed_ || queue_.empty()) return std::nullopt;
  Item item = queue_.front();
  queue_.pop_front();
  return item;
}

bool Subscription::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

uint64_t Subscription::lost() const {
  absl::MutexLock lock(&mu_);
  return lost_;
}

DropEventHub::DropEventHub(Options options, ActiveFn on_active)
    : options_(options), on_active_(std::move(on_active)) {}

DropEventHub::~DropEventHub() { Close(); }

absl::StatusOr<std::unique_ptr<Subscription>> DropEventHub::Subscribe(DropFilter filter,
                                                                      std::function<void()> wake) {
  absl::MutexLock lock(&mu_);
  if (closed_) return absl::UnavailableError("vnetd is stopping");
  if (subs_.size() >= options_.max_watchers) {
    ++counters_.refused;
    return absl::ResourceExhaustedError(
        absl::StrCat(subs_.size(), " drop watchers already (max_drop_watchers ",
                     options_.max_watchers, "); try again when one ends"));
  }
  std::unique_ptr<Subscription> sub(
      new Subscription(this, std::move(filter), options_.queue_capacity, std::move(wake)));
  subs_.push_back(sub.get());
  if (subs_.size() == 1 && on_active_) on_active_(true);
  return sub;
}

void DropEventHub::Unsubscribe(Subscription* sub) {
  absl::MutexLock lock(&mu_);
  auto it = std::find(subs_.begin(), subs_.end(), sub);
  if (it == subs_.end()) return;
  subs_.erase(it);
  if (subs_.empty() && on_active_) on_active_(false);
}

void DropEventHub::Publish(const vnet_drop_event& ev) {
  absl::MutexLock lock(&mu_);
  ++counters_.published;
  for (Subscription* sub : subs_) {
    if (!sub->filter_.Matches(ev)) continue;
    if (sub->Offer(ev)) {
      ++counters_.delivered;
      // After Offer let go of the watcher's lock: the watcher may look at its queue now.
      if (sub->wake_) sub->wake_();
    } else {
      ++counters_.watcher_drops;
    }
  }
}

void DropEventHub::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  for (Subscription* sub : subs_) {
    sub->Close();
    if (sub->wake_) sub->wake_();
  }
}

HubCounters DropEventHub::counters() const {
  absl::MutexLock lock(&mu_);
  HubCounters c = counters_;
  c.watchers = subs_.size();
  return c;
}

}  // namespace vnet::monitor
