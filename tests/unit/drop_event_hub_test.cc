// The drop-event fan-out: filters, bounded queues, slow watchers, the watcher bound and the
// on/off switch for the fast path.
#include "daemon/monitor/drop_event_hub.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace vnet::monitor {
namespace {

vnet_drop_event Event(uint32_t ctx, uint32_t reason, uint8_t first_byte = 0) {
  vnet_drop_event ev{};
  ev.ctx_id = ctx;
  ev.reason = static_cast<uint8_t>(reason);
  ev.direction = VNET_DIR_TX;
  ev.captured_len = 1;
  ev.data[0] = first_byte;
  return ev;
}

DropFilter All() { return *DropFilter::Parse({}, {}); }

TEST(DropEventHub, DeliversToEveryMatchingWatcherInOrder) {
  DropEventHub hub({}, nullptr);
  auto all = hub.Subscribe(All());
  auto ctx2 = hub.Subscribe(*DropFilter::Parse({2}, {}));
  ASSERT_TRUE(all.ok() && ctx2.ok());
  hub.Publish(Event(1, VNET_DROP_SPOOF_MAC, 1));
  hub.Publish(Event(2, VNET_DROP_SPOOF_MAC, 2));
  auto a = (*all)->Next(absl::ZeroDuration());
  auto b = (*all)->Next(absl::ZeroDuration());
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->event.data[0], 1);
  EXPECT_EQ(b->event.data[0], 2);
  auto c = (*ctx2)->Next(absl::ZeroDuration());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->event.ctx_id, 2u);
  EXPECT_FALSE((*ctx2)->Next(absl::ZeroDuration()));
  EXPECT_EQ(hub.counters().published, 2u);
  EXPECT_EQ(hub.counters().delivered, 3u);
}

TEST(DropEventHub, SlowWatcherLosesEventsAndIsToldNotOthers) {
  DropEventHub::Options options;
  options.queue_capacity = 4;
  DropEventHub hub(options, nullptr);
  auto slow = hub.Subscribe(All());
  auto fast = hub.Subscribe(All());
  ASSERT_TRUE(slow.ok() && fast.ok());
  for (int i = 0; i < 10; ++i) {
    hub.Publish(Event(1, VNET_DROP_MTU, static_cast<uint8_t>(i)));
    ASSERT_TRUE((*fast)->Next(absl::ZeroDuration()));  // keeps up
  }
  EXPECT_EQ((*slow)->lost(), 6u);
  EXPECT_EQ((*fast)->lost(), 0u);
  EXPECT_EQ(hub.counters().watcher_drops, 6u);
  for (int i = 0; i < 4; ++i) {
    auto item = (*slow)->Next(absl::ZeroDuration());
    ASSERT_TRUE(item);
    EXPECT_EQ(item->event.data[0], i);  // the oldest are kept: a queue never reorders
    EXPECT_EQ(item->lost_before, 0u);
  }
  // The next event that fits says how many went missing just before it.
  hub.Publish(Event(1, VNET_DROP_MTU, 42));
  auto item = (*slow)->Next(absl::ZeroDuration());
  ASSERT_TRUE(item);
  EXPECT_EQ(item->event.data[0], 42);
  EXPECT_EQ(item->lost_before, 6u);
}

TEST(DropEventHub, RefusesWatchersBeyondTheBound) {
  DropEventHub::Options options;
  options.max_watchers = 2;
  DropEventHub hub(options, nullptr);
  auto a = hub.Subscribe(All());
  auto b = hub.Subscribe(All());
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = hub.Subscribe(All());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(hub.counters().refused, 1u);
  a->reset();  // one leaves: room again
  EXPECT_TRUE(hub.Subscribe(All()).ok());
}

TEST(DropEventHub, SwitchesTheFastPathOnForTheFirstAndOffAfterTheLast) {
  std::vector<bool> calls;
  DropEventHub hub({}, [&](bool on) { calls.push_back(on); });
  EXPECT_TRUE(calls.empty());  // nobody watches: no events produced
  auto a = hub.Subscribe(All());
  auto b = hub.Subscribe(All());
  EXPECT_EQ(calls, std::vector<bool>({true}));
  a->reset();
  EXPECT_EQ(calls, std::vector<bool>({true}));
  b->reset();
  EXPECT_EQ(calls, std::vector<bool>({true, false}));
}

TEST(DropEventHub, NextWaitsForAnEventAndCloseEndsIt) {
  DropEventHub hub({}, nullptr);
  auto sub = hub.Subscribe(All());
  ASSERT_TRUE(sub.ok());
  EXPECT_FALSE((*sub)->Next(absl::Milliseconds(10)));  // times out
  std::thread publisher([&] {
    absl::SleepFor(absl::Milliseconds(20));
    hub.Publish(Event(3, VNET_DROP_HAIRPIN));
  });
  auto item = (*sub)->Next(absl::Seconds(10));
  publisher.join();
  ASSERT_TRUE(item);
  EXPECT_EQ(item->event.ctx_id, 3u);
  std::thread closer([&] {
    absl::SleepFor(absl::Milliseconds(20));
    hub.Close();
  });
  EXPECT_FALSE((*sub)->Next(absl::Seconds(10)));
  closer.join();
  EXPECT_TRUE((*sub)->closed());
  EXPECT_EQ(hub.Subscribe(All()).status().code(), absl::StatusCode::kUnavailable);
}

TEST(DropEventHub, ManyPublishersOneSlowWatcherStaysBounded) {
  DropEventHub::Options options;
  options.queue_capacity = 16;
  DropEventHub hub(options, nullptr);
  auto sub = hub.Subscribe(All());
  ASSERT_TRUE(sub.ok());
  std::vector<std::thread> publishers;
  publishers.reserve(4);
  for (int t = 0; t < 4; ++t) {
    publishers.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) hub.Publish(Event(1, VNET_DROP_MTU));
    });
  }
  for (auto& p : publishers) p.join();
  size_t got = 0;
  while ((*sub)->Next(absl::ZeroDuration())) ++got;
  EXPECT_EQ(got, 16u);
  EXPECT_EQ((*sub)->lost(), 4000u - 16u);
}

// The wake-up a watcher gives instead of polling: called for each event queued for it and
// when the hub closes; not for events its filter skips or its full queue loses.
TEST(DropEventHub, WakesAWatcherForItsEventsAndOnClose) {
  DropEventHub::Options options;
  options.queue_capacity = 2;
  DropEventHub hub(options, nullptr);
  int wakes = 0;
  auto sub = hub.Subscribe(*DropFilter::Parse({2}, {}), [&] { ++wakes; });
  ASSERT_TRUE(sub.ok());
  hub.Publish(Event(1, VNET_DROP_MTU));  // not for this watcher
  EXPECT_EQ(wakes, 0);
  hub.Publish(Event(2, VNET_DROP_MTU));
  hub.Publish(Event(2, VNET_DROP_MTU));
  EXPECT_EQ(wakes, 2);
  hub.Publish(Event(2, VNET_DROP_MTU));  // queue full: lost, nothing new to read
  EXPECT_EQ(wakes, 2);
  EXPECT_EQ((*sub)->lost(), 1u);
  hub.Close();
  EXPECT_EQ(wakes, 3);
  EXPECT_TRUE((*sub)->closed());
}

}  // namespace
}  // namespace vnet::monitor
