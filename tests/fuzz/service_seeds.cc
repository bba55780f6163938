#include "tests/fuzz/service_seeds.h"

#include "absl/strings/str_cat.h"
#include "tests/fuzz/service_program.h"
#include "vnet/v1/buffer.pb.h"
#include "vnet/v1/context.pb.h"
#include "vnet/v1/daemon.pb.h"
#include "vnet/v1/monitor.pb.h"
#include "vnet/v1/stats.pb.h"

namespace vnet::fuzz {
namespace {

v1::AssignContextRequest Guest(uint32_t domain) {
  v1::AssignContextRequest req;
  v1::Context* c = req.mutable_context();
  c->set_domain_id(domain);
  c->set_device_id(0);
  c->set_interface_name(absl::StrCat("vif", domain, ".0"));
  c->set_mac(absl::StrCat("00:16:3e:00:00:0", domain % 10));
  c->add_ipv4_addresses(absl::StrCat("198.18.0.", domain));
  c->add_ipv6_addresses(absl::StrCat("2001:db8::", domain));
  c->set_vlan(1 + domain % 3);
  return req;
}

v1::RegisterRegionRequest Region(uint32_t context, uint64_t id, uint64_t address) {
  v1::RegisterRegionRequest req;
  req.set_context_id(context);
  req.mutable_region()->set_region_id(id);
  req.mutable_region()->set_guest_address(address);
  req.mutable_region()->set_length(16 * 4096);
  return req;
}

v1::ValidateDescriptorsRequest Descriptors(uint32_t context, uint64_t region, uint64_t address) {
  v1::ValidateDescriptorsRequest req;
  req.set_context_id(context);
  for (int i = 0; i < 3; ++i) {
    v1::Descriptor* d = req.add_descriptors();
    d->set_region_id(region);
    d->set_guest_address(address + i * 2048);
    d->set_length(1500);
    d->set_direction(i % 2 == 0 ? v1::DESCRIPTOR_DIRECTION_TO_DEVICE
                                : v1::DESCRIPTOR_DIRECTION_FROM_DEVICE);
  }
  return req;
}

v1::ReleaseContextRequest ReleaseById(uint32_t id) {
  v1::ReleaseContextRequest req;
  req.mutable_ref()->set_id(id);
  return req;
}

}  // namespace

std::vector<std::string> ServiceSeeds() {
  std::vector<std::string> seeds;
  {  // a context's life: assign, read it three ways, change it, release it
    std::string p;
    AppendCall(Op::kAssign, Guest(1), &p);
    v1::GetContextRequest by_id;
    by_id.mutable_ref()->set_id(1);
    AppendCall(Op::kGet, by_id, &p);
    v1::GetContextRequest by_device;
    by_device.mutable_ref()->mutable_device()->set_domain_id(1);
    AppendCall(Op::kGet, by_device, &p);
    v1::ListContextsRequest list;
    list.set_page_size(1);
    AppendCall(Op::kList, list, &p);
    v1::UpdateContextRequest update;
    update.mutable_ref()->set_id(1);
    update.mutable_context()->set_mtu(9000);
    update.mutable_context()->mutable_rate_limit()->set_bits_per_second(20'000'000);
    update.mutable_context()->mutable_storm_control()->set_broadcast_pps(100);
    update.mutable_context()->add_ipv6_link_local_addresses("fe80::1");
    for (const char* field : {"mtu", "rate_limit", "storm_control", "ipv6_link_local_addresses"}) {
      update.mutable_update_mask()->add_paths(field);
    }
    AppendCall(Op::kUpdate, update, &p);
    AppendCall(Op::kRelease, ReleaseById(1), &p);
    seeds.push_back(p);
  }
  {  // buffers: register, validate, complete what was validated, list, unregister, release
    std::string p;
    AppendCall(Op::kAssign, Guest(2), &p);
    AppendCall(Op::kRegisterRegion, Region(1, 7, 0x100000), &p);
    AppendCall(Op::kValidate, Descriptors(1, 7, 0x100000), &p);
    v1::ListRegionsRequest list;
    list.set_page_size(1);
    AppendCall(Op::kListRegions, list, &p);
    AppendCall(Op::kCompleteLastValidated, std::string(1, '\x01'), &p);
    v1::CompleteDescriptorsRequest forged;
    forged.set_context_id(1);
    forged.add_cookies(0x1234);
    AppendCall(Op::kComplete, forged, &p);
    v1::UnregisterRegionRequest unregister;
    unregister.set_context_id(1);
    unregister.set_region_id(7);
    AppendCall(Op::kUnregisterRegion, unregister, &p);
    AppendCall(Op::kRelease, ReleaseById(1), &p);
    seeds.push_back(p);
  }
  {  // descriptors in flight when the context goes: a refused and a forced release
    std::string p;
    AppendCall(Op::kAssign, Guest(3), &p);
    AppendCall(Op::kAssign, Guest(4), &p);
    AppendCall(Op::kRegisterRegion, Region(2, 1, 0x200000), &p);
    AppendCall(Op::kValidate, Descriptors(2, 1, 0x200000), &p);
    AppendCall(Op::kRelease, ReleaseById(2), &p);
    v1::ReleaseContextRequest forced = ReleaseById(2);
    forced.mutable_force_wait()->set_nanos(1000);
    AppendCall(Op::kRelease, forced, &p);
    seeds.push_back(p);
  }
  {  // the stream, the daemon and the monitor
    std::string p;
    AppendCall(Op::kAssign, Guest(5), &p);
    AppendCall(Op::kRegisterRegion, Region(1, 3, 0x300000), &p);
    v1::DescriptorBatch batch;
    batch.set_sequence(1);
    batch.set_context_id(1);
    *batch.mutable_descriptors() = Descriptors(1, 3, 0x300000).descriptors();
    batch.add_complete_cookies(99);
    AppendCall(Op::kStreamDescriptors, batch, &p);
    AppendCall(Op::kGetStatus, v1::GetStatusRequest(), &p);
    v1::SetUplinkRequest uplink;
    uplink.set_interface_name("vnetfuzz0");
    AppendCall(Op::kSetUplink, uplink, &p);
    AppendCall(Op::kGetContextStats, v1::GetContextStatsRequest(), &p);
    v1::WatchDropsRequest watch;
    watch.set_max_events(1);
    watch.mutable_max_duration()->set_nanos(1'000'000);
    AppendCall(Op::kWatchDrops, watch, &p);
    seeds.push_back(p);
  }
  {  // the pool filled past its capacity
    std::string p;
    for (uint32_t domain = 1; domain <= 8; ++domain) AppendCall(Op::kAssign, Guest(domain), &p);
    seeds.push_back(p);
  }
  return seeds;
}

}  // namespace vnet::fuzz
