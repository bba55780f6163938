// Fans drop events out to watchers. Each watcher has a bounded queue: a watcher that reads
// too slowly loses events (counted, and told with the next event it gets), never makes
// vnetd hold more. At most `max_watchers` at once. A watcher may give a wake-up callback,
// so it needs neither a thread nor a timer to learn of an event. The hub knows nothing of
// gRPC or BPF: the ring reader publishes, the service subscribes.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "daemon/monitor/drop_filter.h"
#include "vnet/abi.h"

namespace vnet::monitor {

struct HubCounters {
  uint64_t published = 0;      // events the hub received
  uint64_t delivered = 0;      // events queued for a watcher (one per watcher it matched)
  uint64_t watcher_drops = 0;  // events a slow watcher's full queue could not take
  uint64_t refused = 0;        // subscriptions refused: too many watchers
  size_t watchers = 0;         // subscribed now
};

class DropEventHub;

// One watcher's queue. Destroying it unsubscribes.
class Subscription {
 public:
  struct Item {
    vnet_drop_event event;
    uint64_t lost_before = 0;  // events this watcher lost (queue full) just before this one
  };

  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // The next event, waiting at most `timeout`; nullopt on timeout or once the hub closed.
  std::optional<Item> Next(absl::Duration timeout);
  bool closed() const;
  uint64_t lost() const;  // events lost to a full queue, in all

 private:
  friend class DropEventHub;
  Subscription(DropEventHub* hub, DropFilter filter, size_t capacity, std::function<void()> wake)
      : hub_(hub), filter_(std::move(filter)), capacity_(capacity), wake_(std::move(wake)) {}
  // False when the queue was full (the event is counted as lost).
  bool Offer(const vnet_drop_event& ev);
  void Close();

  DropEventHub* const hub_;
  const DropFilter filter_;
  const size_t capacity_;
  const std::function<void()> wake_;  // may be empty
  mutable absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t lost_pending_ ABSL_GUARDED_BY(mu_) = 0;  // lost since the last queued event
  uint64_t lost_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

class DropEventHub {
 public:
  struct Options {
    size_t max_watchers = 8;
    size_t queue_capacity = 1024;  // events per watcher
  };
  // Called with true when the first watcher subscribes and false when the last one leaves
  // (under the hub's lock, so calls never reorder): the fast path produces events only
  // while someone watches.
  using ActiveFn = std::function<void(bool any_watcher)>;

  DropEventHub(Options options, ActiveFn on_active);
  ~DropEventHub();

  // RESOURCE_EXHAUSTED with max_watchers subscribed; UNAVAILABLE once closed.
  // `wake` (optional) is called after an event is queued for this watcher and when the hub
  // closes. It runs on the publisher's thread under the hub's lock (so never after the
  // subscription is gone): it must be short and must not call the hub.
  absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(DropFilter filter,
                                                          std::function<void()> wake = nullptr);
  // Queues `ev` for every watcher whose filter matches. Never blocks on a watcher.
  void Publish(const vnet_drop_event& ev);
  // Ends every subscription (their Next returns nullopt) and refuses new ones.
  void Close();
  HubCounters counters() const;

 private:
  friend class Subscription;
  void Unsubscribe(Subscription* sub);

  const Options options_;
  const ActiveFn on_active_;
  mutable absl::Mutex mu_;
  std::vector<Subscription*> subs_ ABSL_GUARDED_BY(mu_);
  HubCounters counters_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace vnet::monitor
