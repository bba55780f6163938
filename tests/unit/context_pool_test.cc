#include "daemon/core/context_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "daemon/core/context_validation.h"

namespace vnet {
namespace {

using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

v1::Context Guest(uint32_t domain, uint32_t vlan = 1) {
  v1::Context c;
  c.set_domain_id(domain);
  c.set_device_id(0);
  c.set_interface_name(absl::StrCat("vif", domain, ".0"));
  c.set_mac(absl::StrFormat("00:16:3e:00:%02x:%02x", domain / 256, domain % 256));
  c.add_ipv4_addresses(absl::StrCat("198.18.", domain / 256, ".", domain % 256));
  c.add_ipv6_addresses(absl::StrCat("2001:db8::", domain));
  c.set_vlan(vlan);
  return c;
}

v1::ContextRef ById(uint32_t id) {
  v1::ContextRef ref;
  ref.set_id(id);
  return ref;
}

TEST(ContextPoolTest, AssignGivesIdsFromOneAndFillsOutputFields) {
  ContextPool pool(4);
  auto a = pool.Assign(Guest(1), kNow);
  auto b = pool.Assign(Guest(2), kNow);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->context.id(), 1u);
  EXPECT_EQ(b->context.id(), 2u);
  EXPECT_TRUE(a->created);
  EXPECT_EQ(a->context.state(), v1::CONTEXT_STATE_ASSIGNED);
  EXPECT_EQ(a->context.create_time().seconds(), 1700000000);
  EXPECT_EQ(pool.size(), 2u);
}

TEST(ContextPoolTest, AssignIsIdempotent) {
  ContextPool pool(4);
  auto first = pool.Assign(Guest(1), kNow);
  v1::Context again = Guest(1);
  again.set_mac("00:16:3E:00:00:01");  // same MAC, other spelling
  auto second = pool.Assign(again, kNow + absl::Seconds(5));
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->context.id(), first->context.id());
  EXPECT_EQ(second->context.create_time().seconds(), first->context.create_time().seconds());
  EXPECT_EQ(pool.size(), 1u);
}

TEST(ContextPoolTest, SameDeviceDifferentSpecIsAlreadyExists) {
  ContextPool pool(4);
  ASSERT_TRUE(pool.Assign(Guest(1), kNow).ok());
  v1::Context changed = Guest(1);
  changed.set_mtu(9000);
  auto r = pool.Assign(changed, kNow);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(r.status().message(), HasSubstr("domain 1 device 0 already has context 1"));
}

TEST(ContextPoolTest, InterfaceIsUnique) {
  ContextPool pool(4);
  ASSERT_TRUE(pool.Assign(Guest(1), kNow).ok());
  v1::Context other = Guest(2);
  other.set_interface_name("vif1.0");
  auto r = pool.Assign(other, kNow);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(r.status().message(), HasSubstr("interface vif1.0 is held by context 1"));
}

TEST(ContextPoolTest, MacIsUniqueWithinVlanOnly) {
  ContextPool pool(4);
  ASSERT_TRUE(pool.Assign(Guest(1, 10), kNow).ok());
  v1::Context same_mac = Guest(2, 10);
  same_mac.set_mac(Guest(1).mac());
  auto r = pool.Assign(same_mac, kNow);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("mac 00:16:3e:00:00:01 is already used in vlan 10"));
  same_mac.set_vlan(20);
  EXPECT_TRUE(pool.Assign(same_mac, kNow).ok());
}

TEST(ContextPoolTest, IpIsUniqueWithinVlanOnly) {
  ContextPool pool(4);
  ASSERT_TRUE(pool.Assign(Guest(1, 10), kNow).ok());
  v1::Context v4 = Guest(2, 10);
  v4.add_ipv4_addresses("198.18.0.1");
  auto r = pool.Assign(v4, kNow);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("address 198.18.0.1 is already claimed in vlan 10"));
  v1::Context v6 = Guest(3, 10);
  v6.add_ipv6_addresses("2001:DB8:0::1");
  r = pool.Assign(v6, kNow);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("2001:db8::1"));
  v4.set_vlan(11);
  EXPECT_TRUE(pool.Assign(v4, kNow).ok());
}

TEST(ContextPoolTest, FullPoolIsResourceExhaustedAndIdsAreReused) {
  ContextPool pool(2);
  ASSERT_TRUE(pool.Assign(Guest(1), kNow).ok());
  ASSERT_TRUE(pool.Assign(Guest(2), kNow).ok());
  auto r = pool.Assign(Guest(3), kNow);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(r.status().message(), HasSubstr("2 of 2"));
  ASSERT_TRUE(pool.Release(ById(1)).ok());
  auto again = pool.Assign(Guest(3), kNow);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->context.id(), 1u);
}

TEST(ContextPoolTest, ScalesToFourThousandContexts) {
  ContextPool pool(4096);
  for (uint32_t d = 1; d <= 4096; ++d)
    ASSERT_TRUE(pool.Assign(Guest(d, 1 + d % 16), kNow).ok()) << d;
  EXPECT_EQ(pool.size(), 4096u);
  EXPECT_EQ(pool.Assign(Guest(5000), kNow).status().code(), absl::StatusCode::kResourceExhausted);
}

// A VLAN holds what the fast path can flood to; one more is refused, not granted and left
// unattached, and a move into a full VLAN is refused too.
TEST(ContextPoolTest, VlanHoldsAtMostWhatTheFastPathFloodsTo) {
  ContextPool pool(kMaxContextsPerVlan + 16);
  const uint32_t other = kMaxContextsPerVlan + 1;  // a domain not yet used
  for (uint32_t d = 1; d <= kMaxContextsPerVlan; ++d)
    ASSERT_TRUE(pool.Assign(Guest(d, 7), kNow).ok()) << d;
  auto beyond = pool.Assign(Guest(other, 7), kNow);
  EXPECT_EQ(beyond.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(beyond.status().message(),
              HasSubstr(absl::StrCat("vlan 7 holds ", kMaxContextsPerVlan, " contexts")));
  EXPECT_EQ(pool.size(), kMaxContextsPerVlan);
  ASSERT_TRUE(pool.Assign(Guest(other, 8), kNow).ok()) << "another VLAN has room";
  v1::Context move;
  move.set_vlan(7);
  google::protobuf::FieldMask mask;
  mask.add_paths("vlan");
  v1::ContextRef ref;
  ref.mutable_device()->set_domain_id(other);
  EXPECT_EQ(pool.Update(ref, move, mask).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(pool.Get(ref)->vlan(), 8u) << "a refused update changes nothing";
  ASSERT_TRUE(pool.Release(ById(1)).ok());
  EXPECT_TRUE(pool.Update(ref, move, mask).ok()) << "room again after a release";
}

TEST(ContextPoolTest, InvalidRequestChangesNothing) {
  ContextPool pool(4);
  v1::Context bad = Guest(1);
  bad.set_vlan(5000);
  EXPECT_EQ(pool.Assign(bad, kNow).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_EQ(pool.Assign(Guest(1), kNow)->context.id(), 1u);
}

TEST(ContextPoolTest, ReleaseFreesEveryKey) {
  ContextPool pool(4);
  ASSERT_TRUE(pool.Assign(Guest(1), kNow).ok());
  v1::ContextRef by_if;
  by_if.set_interface_name("vif1.0");
  auto released = pool.Release(by_if);
  ASSERT_TRUE(released.ok());
  EXPECT_EQ(released->id(), 1u);
  EXPECT_EQ(pool.Release(by_if).status().code(), absl::StatusCode::kNotFound);
  // Every unique key is free again: the same guest can come back with a new device id.
  v1::Context back = Guest(1);
  back.set_device_id(1);
  EXPECT_TRUE(pool.Assign(back, kNow).ok());
}

TEST(ContextPoolTest, GetByEveryKindOfRef) {
  ContextPool pool(4);
  ASSERT_TRUE(pool.Assign(Guest(7), kNow).ok());
  v1::ContextRef dev;
  dev.mutable_device()->set_domain_id(7);
  EXPECT_EQ(pool.Get(dev)->interface_name(), "vif7.0");
  EXPECT_EQ(pool.Get(ById(1))->domain_id(), 7u);
  EXPECT_EQ(pool.Get(ById(2)).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(pool.Get(v1::ContextRef()).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ContextPoolTest, UpdateChangesOnlyMaskedFieldsAndKeepsInvariants) {
  ContextPool pool(4);
  ASSERT_TRUE(pool.Assign(Guest(1), kNow).ok());
  ASSERT_TRUE(pool.Assign(Guest(2), kNow).ok());
  v1::Context patch;
  patch.set_mtu(9000);
  patch.set_vlan(99);  // not in the mask: ignored
  google::protobuf::FieldMask mask;
  mask.add_paths("mtu");
  auto updated = pool.Update(ById(1), patch, mask);
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->mtu(), 9000u);
  EXPECT_EQ(updated->vlan(), 1u);
  EXPECT_EQ(updated->id(), 1u);

  // Taking context 2's address is refused and leaves context 1 as it was.
  v1::Context steal;
  steal.add_ipv4_addresses("198.18.0.2");
  google::protobuf::FieldMask ips;
  ips.add_paths("ipv4_addresses");
  EXPECT_EQ(pool.Update(ById(1), steal, ips).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(pool.Get(ById(1))->ipv4_addresses(0), "198.18.0.1");

  // Its old address is freed by a successful change.
  v1::Context move;
  move.add_ipv4_addresses("198.18.0.100");
  ASSERT_TRUE(pool.Update(ById(1), move, ips).ok());
  v1::Context third = Guest(3);
  third.add_ipv4_addresses("198.18.0.1");
  EXPECT_TRUE(pool.Assign(third, kNow).ok());
}

TEST(ContextPoolTest, UpdateRejectsIdentityFieldsAndBadValues) {
  ContextPool pool(4);
  ASSERT_TRUE(pool.Assign(Guest(1), kNow).ok());
  google::protobuf::FieldMask mask;
  mask.add_paths("interface_name");
  EXPECT_EQ(pool.Update(ById(1), Guest(2), mask).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(pool.Update(ById(1), Guest(2), google::protobuf::FieldMask()).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::Context bad;
  bad.set_vlan(4095);
  google::protobuf::FieldMask vlan;
  vlan.add_paths("vlan");
  EXPECT_EQ(pool.Update(ById(1), bad, vlan).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(pool.Get(ById(1))->vlan(), 1u);
}

TEST(ContextPoolTest, RestoreKeepsIdsAndChecksInvariants) {
  ContextPool source(8);
  ASSERT_TRUE(source.Assign(Guest(1), kNow).ok());
  ASSERT_TRUE(source.Assign(Guest(2), kNow).ok());
  ASSERT_TRUE(source.Release(ById(1)).ok());
  ContextPool restored(8);
  ASSERT_TRUE(restored.Restore(source.List()).ok());
  EXPECT_EQ(restored.Get(ById(2))->domain_id(), 2u);
  EXPECT_EQ(restored.Assign(Guest(3), kNow)->context.id(), 1u);

  std::vector<v1::Context> clash = source.List();
  v1::Context dup = clash[0];
  dup.set_id(5);
  dup.set_domain_id(9);
  dup.set_interface_name("vif9.0");  // same MAC and IP as context 2
  clash.push_back(dup);
  ContextPool broken(8);
  absl::Status s = broken.Restore(clash);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("context 5"));
  EXPECT_EQ(broken.size(), 0u);

  ContextPool small(1);
  EXPECT_EQ(small.Restore(source.List()).code(), absl::StatusCode::kDataLoss);  // id 2 > 1
}

// The fast path holds 16 addresses per family: more is refused, never accepted to go
// DEGRADED later.
TEST(ContextPoolTest, MoreAddressesThanTheFastPathHoldsAreRefused) {
  ContextPool pool(4);
  v1::Context big = Guest(1);
  for (int i = 1; i <= 16; ++i) big.add_ipv6_addresses(absl::StrCat("2001:db8:1::", i));
  auto a = pool.Assign(big, kNow);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  auto ok = pool.Assign(Guest(1), kNow);
  ASSERT_TRUE(ok.ok()) << ok.status();
  google::protobuf::FieldMask mask;
  mask.add_paths("ipv6_link_local_addresses");
  v1::Context patch;
  for (int i = 1; i <= 16; ++i) patch.add_ipv6_link_local_addresses(absl::StrCat("fe80::", i));
  auto u = pool.Update(ById(1), patch, mask);
  EXPECT_EQ(u.status().code(), absl::StatusCode::kInvalidArgument);
  patch.clear_ipv6_link_local_addresses();
  patch.add_ipv6_link_local_addresses("fe80::1");
  u = pool.Update(ById(1), patch, mask);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->ipv6_link_local_addresses(0), "fe80::1");
}

TEST(ContextPoolTest, LinkLocalIsUniqueWithinVlan) {
  ContextPool pool(4);
  v1::Context a = Guest(1), b = Guest(2), c = Guest(3, 7);
  a.add_ipv6_link_local_addresses("fe80::1");
  b.add_ipv6_link_local_addresses("fe80::1");
  c.add_ipv6_link_local_addresses("fe80::1");
  ASSERT_TRUE(pool.Assign(a, kNow).ok());
  EXPECT_EQ(pool.Assign(b, kNow).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(pool.Assign(c, kNow).ok());  // another VLAN
}

// A guest without explicit link-locals has the EUI-64 one of its MAC (the fast path lets
// it claim that address): no other guest of the VLAN may list it, in either list, and a
// MAC change moves the claim.
TEST(ContextPoolTest, DefaultLinkLocalIsClaimedToo) {
  ContextPool pool(8);
  v1::Context a = Guest(1);
  ASSERT_TRUE(pool.Assign(a, kNow).ok());
  const std::string eui64 = EffectiveLinkLocals(*pool.Get(ById(1))).at(0);
  v1::Context b = Guest(2), c = Guest(3), d = Guest(4, 7);
  b.add_ipv6_link_local_addresses(eui64);
  c.add_ipv6_addresses(eui64);
  d.add_ipv6_link_local_addresses(eui64);
  EXPECT_EQ(pool.Assign(b, kNow).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(pool.Assign(c, kNow).status().code(), absl::StatusCode::kFailedPrecondition);
  auto other_vlan = pool.Assign(d, kNow);
  ASSERT_TRUE(other_vlan.ok());
  // The other way round: an explicit link-local held, then a guest whose MAC derives it.
  ASSERT_TRUE(pool.Release(ById(other_vlan->context.id())).ok());
  v1::Context e = Guest(4);
  e.add_ipv6_link_local_addresses("fe80::216:3eff:fe00:55");
  ASSERT_TRUE(pool.Assign(e, kNow).ok());
  v1::Context f = Guest(5);
  f.set_mac("00:16:3e:00:00:55");
  EXPECT_EQ(pool.Assign(f, kNow).status().code(), absl::StatusCode::kFailedPrecondition);
  // A MAC change of a guest with the default moves its claim with it.
  v1::Context patch;
  patch.set_mac("00:16:3e:00:00:77");
  google::protobuf::FieldMask mask;
  mask.add_paths("mac");
  ASSERT_TRUE(pool.Update(ById(1), patch, mask).ok());
  v1::Context h = Guest(6), i = Guest(7);
  h.add_ipv6_link_local_addresses(eui64);                     // a's old default: free now
  i.add_ipv6_link_local_addresses("fe80::216:3eff:fe00:77");  // a's new one
  EXPECT_TRUE(pool.Assign(h, kNow).ok());
  EXPECT_EQ(pool.Assign(i, kNow).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace vnet
