// The scrape-time collectors against a fake counter source and a real (in-memory) pool:
// names, labels, every drop reason, released contexts' series gone, monotonic counters.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <map>

#include "daemon/metrics/context_collector.h"
#include "daemon/metrics/daemon_collector.h"
#include "daemon/metrics/ledger_collector.h"
#include "tests/metrics/fakes.h"

namespace vnet::metrics {
namespace {

using testing::FakeCounterSource;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::TestRegistry;

// Family name -> its samples as "label=value,..." -> value.
using Scrape = std::map<std::string, std::map<std::string, double>>;

Scrape Flatten(const std::vector<prometheus::MetricFamily>& families) {
  Scrape out;
  for (const auto& f : families) {
    auto& samples = out[f.name];
    for (const auto& m : f.metric) {
      std::string key;
      for (const auto& l : m.label) key += (key.empty() ? "" : ",") + l.name + "=" + l.value;
      double v = f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
      samples[key] = v;
    }
  }
  return out;
}

std::string Text(const prometheus::Collectable& c) {
  return prometheus::TextSerializer().Serialize(c.Collect());
}

class CollectorTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(registry_.start_status().ok()); }
  TestRegistry registry_;
  FakeCounterSource source_;
};

TEST_F(CollectorTest, PerContextSeriesCarryIdDomainInterface) {
  const uint32_t id = registry_.AddGuest(7);
  ASSERT_NE(id, 0u);
  ContextCounters c{};
  c.rx_packets = 10;
  c.rx_bytes = 1500;
  c.tx_packets = 20;
  c.tx_bytes = 3000;
  c.drops[VNET_DIR_TX][VNET_DROP_SPOOF_IPV4] = 3;
  c.drops[VNET_DIR_RX][VNET_DROP_UNKNOWN_UNICAST] = 4;
  c.tx_gso_packets = 5;
  c.tx_gso_segments = 50;
  c.rx_gso_packets = 1;
  c.rx_gso_segments = 44;
  c.rx_gso_segmented = 8;
  c.rx_gso_resized = 9;
  c.rx_csum_completed = 6;
  source_.Set(id, c);

  ContextCollector collector(ViewOf(registry_.get()), &source_);
  Scrape s = Flatten(collector.Collect());
  const std::string l = "context=" + std::to_string(id) + ",domain=7,interface=vif7.0";
  EXPECT_EQ(s["vnet_context_rx_packets_total"][l], 10);
  EXPECT_EQ(s["vnet_context_rx_bytes_total"][l], 1500);
  EXPECT_EQ(s["vnet_context_tx_packets_total"][l], 20);
  EXPECT_EQ(s["vnet_context_tx_bytes_total"][l], 3000);
  EXPECT_EQ(s["vnet_context_tx_gso_packets_total"][l], 5);
  EXPECT_EQ(s["vnet_context_tx_gso_segments_total"][l], 50);
  EXPECT_EQ(s["vnet_context_rx_gso_packets_total"][l], 1);
  EXPECT_EQ(s["vnet_context_rx_gso_segments_total"][l], 44);
  EXPECT_EQ(s["vnet_context_rx_gso_segmented_total"][l], 8);
  EXPECT_EQ(s["vnet_context_rx_gso_resized_total"][l], 9);
  EXPECT_EQ(s["vnet_context_rx_csum_completed_total"][l], 6);
  EXPECT_EQ(s["vnet_context_drops_total"][l + ",direction=tx,reason=spoof_ipv4"], 3);
  EXPECT_EQ(s["vnet_context_drops_total"][l + ",direction=rx,reason=unknown_unicast"], 4);
  // Every reason but "none" in both directions, zeros included, so rate() sees the first.
  EXPECT_EQ(s["vnet_context_drops_total"].size(), 2u * (VNET_DROP_MAX - 1));
  EXPECT_EQ(s["vnet_context_drops_total"][l + ",direction=rx,reason=hairpin"], 0);
  EXPECT_EQ(s["vnet_context_drops_total"].count(l + ",direction=rx,reason=none"), 0u);

  const std::string text = Text(collector);
  EXPECT_THAT(text, HasSubstr("# TYPE vnet_context_rx_bytes_total counter"));
  EXPECT_THAT(text, HasSubstr("vnet_context_drops_total{context=\"" + std::to_string(id) +
                              "\",domain=\"7\",interface=\"vif7.0\",direction=\"tx\","
                              "reason=\"spoof_ipv4\"} 3"));
}

TEST_F(CollectorTest, DropsOfNoContextAreUnattributed) {
  ContextCounters none{};
  none.drops[VNET_DIR_RX][VNET_DROP_UNKNOWN_UNICAST] = 11;
  source_.Set(0, none);
  ContextCollector collector(ViewOf(registry_.get()), &source_);
  Scrape s = Flatten(collector.Collect());
  EXPECT_EQ(s["vnet_unattributed_drops_total"]["direction=rx,reason=unknown_unicast"], 11);
  EXPECT_EQ(s["vnet_unattributed_drops_total"].size(), 2u * (VNET_DROP_MAX - 1));
  EXPECT_TRUE(s["vnet_context_drops_total"].empty());  // id 0 is no context's series
}

TEST_F(CollectorTest, ReleasedContextSeriesDisappear) {
  const uint32_t a = registry_.AddGuest(1);
  const uint32_t b = registry_.AddGuest(2);
  ASSERT_NE(a, 0u);
  ASSERT_NE(b, 0u);
  ContextCollector collector(ViewOf(registry_.get()), &source_);
  EXPECT_THAT(Text(collector), HasSubstr("interface=\"vif1.0\""));
  EXPECT_EQ(Flatten(collector.Collect())["vnet_context_rx_packets_total"].size(), 2u);

  ASSERT_TRUE(registry_.RemoveGuest(a).ok());
  const std::string text = Text(collector);
  EXPECT_THAT(text, Not(HasSubstr("vif1.0")));
  EXPECT_THAT(text, HasSubstr("interface=\"vif2.0\""));
  EXPECT_EQ(Flatten(collector.Collect())["vnet_context_drops_total"].size(),
            2u * (VNET_DROP_MAX - 1));
}

TEST_F(CollectorTest, CountersFollowTheSourceMonotonically) {
  const uint32_t id = registry_.AddGuest(3);
  ContextCollector collector(ViewOf(registry_.get()), &source_);
  const std::string l = "context=" + std::to_string(id) + ",domain=3,interface=vif3.0";
  double last = -1;
  for (uint64_t step = 1; step <= 5; ++step) {
    ContextCounters c{};
    c.tx_bytes = step * 1000;
    source_.Set(id, c);
    const double now = Flatten(collector.Collect())["vnet_context_tx_bytes_total"][l];
    EXPECT_EQ(now, static_cast<double>(step * 1000));  // read at scrape time, not cached
    EXPECT_GT(now, last);
    last = now;
  }
  // A new collector (a restarted daemon) over the same pinned counters reports the same
  // value: it keeps no state of its own that could restart from zero.
  ContextCollector restarted(ViewOf(registry_.get()), &source_);
  EXPECT_EQ(Flatten(restarted.Collect())["vnet_context_tx_bytes_total"][l], last);
}

TEST_F(CollectorTest, UnreadableContextIsLeftOutNotZeroed) {
  const uint32_t a = registry_.AddGuest(1);
  const uint32_t b = registry_.AddGuest(2);
  source_.Fail(a);
  ContextCollector collector(ViewOf(registry_.get()), &source_);
  Scrape s = Flatten(collector.Collect());
  EXPECT_EQ(s["vnet_context_rx_packets_total"].size(), 1u);
  EXPECT_EQ(s["vnet_context_rx_packets_total"].count("context=" + std::to_string(b) +
                                                     ",domain=2,interface=vif2.0"),
            1u);
}

TEST_F(CollectorTest, NoSourceMeansNoTrafficSeries) {
  registry_.AddGuest(1);
  ContextCollector collector(ViewOf(registry_.get()), nullptr);
  for (const auto& [name, samples] : Flatten(collector.Collect())) {
    EXPECT_TRUE(samples.empty()) << name;
  }
}

TEST_F(CollectorTest, DaemonGauges) {
  registry_.AddGuest(1);
  registry_.AddGuest(2);
  source_.SetFill({{"vnet_ctx", 2, 8}});
  AttachStateFn attach = [this] {
    std::vector<InterfaceAttach> s = {{"uplink0", "uplink", true, "tc"}};
    for (auto& g : GuestAttachStates(registry_.get()->List())) s.push_back(g);
    return s;
  };
  DaemonCollector collector(ViewOf(registry_.get()), attach, &source_);
  Scrape s = Flatten(collector.Collect());
  EXPECT_EQ(s["vnet_contexts_in_use"][""], 2);
  EXPECT_EQ(s["vnet_contexts_capacity"][""], 8);
  EXPECT_EQ(s["vnet_fastpath_attached"]["interface=uplink0,role=uplink"], 1);
  // Without a data plane contexts stay ASSIGNED: their interfaces are not attached.
  EXPECT_EQ(s["vnet_fastpath_attached"]["interface=vif1.0,role=guest"], 0);
  EXPECT_EQ(s["vnet_uplink_delivery"].size(), 1u);  // guests have no delivery of their own
  EXPECT_EQ(s["vnet_uplink_delivery"]["interface=uplink0,delivery=tc"], 1);
  EXPECT_EQ(s["vnet_map_entries"]["map=vnet_ctx"], 2);
  EXPECT_EQ(s["vnet_map_max_entries"]["map=vnet_ctx"], 8);

  DaemonCollector bare(ViewOf(registry_.get()), nullptr, nullptr);
  Scrape b = Flatten(bare.Collect());
  EXPECT_EQ(b.count("vnet_fastpath_attached"), 0u);
  EXPECT_EQ(b.count("vnet_map_entries"), 0u);
  EXPECT_EQ(b["vnet_contexts_in_use"][""], 2);
}

TEST(LedgerCollectorTest, ExportsSnapshotPerContext) {
  ledger::LedgerStats stats;
  ledger::ContextStats c;
  c.context_id = 4;
  c.regions = 2;
  c.bytes_registered = 8192;
  c.in_flight = 3;
  c.accepted = 10;
  c.completed = 7;
  c.unknown_completions = 1;
  c.rejected[static_cast<int>(ledger::Verdict::kOutsideRegion)] = 5;
  stats.contexts.push_back(c);
  stats.contexts_released = 9;
  stats.in_flight_budget = 4096;
  stats.in_flight_budget_used = 3;
  stats.in_flight_budget_refused = 11;
  LedgerCollector collector([&stats] { return stats; });
  Scrape s = Flatten(collector.Collect());
  EXPECT_EQ(s["vnet_ledger_regions"]["context=4"], 2);
  EXPECT_EQ(s["vnet_ledger_registered_bytes"]["context=4"], 8192);
  EXPECT_EQ(s["vnet_ledger_in_flight"]["context=4"], 3);
  EXPECT_EQ(s["vnet_ledger_descriptors_accepted_total"]["context=4"], 10);
  EXPECT_EQ(s["vnet_ledger_descriptors_completed_total"]["context=4"], 7);
  EXPECT_EQ(s["vnet_ledger_unknown_completions_total"]["context=4"], 1);
  EXPECT_EQ(s["vnet_ledger_descriptors_rejected_total"]["context=4,reason=outside_region"], 5);
  EXPECT_EQ(s["vnet_ledger_descriptors_rejected_total"].count("context=4,reason=accepted"), 0u);
  EXPECT_EQ(s["vnet_ledger_descriptors_rejected_total"].size(),
            static_cast<size_t>(ledger::kVerdictCount - 2));
  EXPECT_EQ(s["vnet_ledger_contexts_released_total"][""], 9);
  EXPECT_EQ(s["vnet_ledger_in_flight_budget"][""], 4096);
  EXPECT_EQ(s["vnet_ledger_in_flight_budget_used"][""], 3);
  EXPECT_EQ(s["vnet_ledger_in_flight_budget_refused_total"][""], 11);

  stats.contexts.clear();  // the context's ledger was released: its series go
  EXPECT_TRUE(Flatten(collector.Collect())["vnet_ledger_regions"].empty());
}

}  // namespace
}  // namespace vnet::metrics
