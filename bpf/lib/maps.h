/* The maps every program shares. Pinned by name under the daemon's pin root, so the three
 * program objects (and a restarted daemon) use one set of tables. Sizes here are defaults:
 * the daemon sets them from its capacity before loading. */
#ifndef VNET_BPF_MAPS_H_
#define VNET_BPF_MAPS_H_

#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

#include "vnet/abi.h"

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 128);
  __type(key, struct vnet_fdb_key);
  __type(value, __u32);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} vnet_fdb SEC(".maps");

/* Context records. BPF_F_MMAPABLE for the values' alignment, not for a mapping: a plain
 * array's values start 312 bytes into its allocation (56 past a cache line on 6.18), so
 * every 64-byte record straddled two lines (ifindex and flags in one, the rest in the
 * next) and a unicast frame touched four lines for two records; an mmapable array's values
 * start on a page, one record per line (vnet/abi.h, ABI 7). vnetd writes them by syscall. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 129);
  __uint(map_flags, BPF_F_MMAPABLE);
  __type(key, __u32);
  __type(value, struct vnet_ctx_rec);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} vnet_ctx SEC(".maps");

/* Guest interface -> context: how the guest program knows whose frame it has. Slots by the
 * ifindex's low bits (vnet/abi.h), mapped into vnetd for atomic one-word updates; an array
 * lookup the verifier inlines, where a hash lookup hashed the key on every packet. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, VNET_IF_SLOTS);
  __uint(map_flags, BPF_F_MMAPABLE);
  __type(key, __u32);
  __type(value, __u64);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} vnet_if_ctx SEC(".maps");

/* The interfaces whose slot another interface holds: ifindex -> context id. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 128);
  __type(key, __u32);
  __type(value, __u32);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} vnet_if_ctx_more SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 128 * VNET_MAX_ADDRS_PER_CTX);
  __type(key, struct vnet_ip4_key);
  __type(value, __u8);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} vnet_ip4 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 128 * VNET_MAX_ADDRS_PER_CTX);
  __type(key, struct vnet_ip6_key);
  __type(value, __u8);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} vnet_ip6 SEC(".maps");

/* VLAN -> its members. Not preallocated: a value is 16 KiB, and a host uses few VLANs of
 * the capacity's worth of slots; entries change only when a context comes or goes. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 128);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, __u32);
  __type(value, struct vnet_vlan_members);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} vnet_vlan SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 129);
  __type(key, __u32);
  __type(value, struct vnet_stats_cpu);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} vnet_stats SEC(".maps");

/* Mmapable for the same reason as vnet_ctx: its 20 bytes in one line, not two. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __uint(map_flags, BPF_F_MMAPABLE);
  __type(key, __u32);
  __type(value, struct vnet_config);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} vnet_config SEC(".maps");

/* XDP redirect targets, indexed by context id; only XDP-capable devices are entered. */
struct {
  __uint(type, BPF_MAP_TYPE_DEVMAP);
  __uint(max_entries, 129);
  __type(key, __u32);
  __type(value, __u32);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} vnet_xdp_tx SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct vnet_trace);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} vnet_trace SEC(".maps");

/* Rate limits and storm control: a context's token buckets under one lock (lib/limit.h). */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 129);
  __type(key, __u32);
  __type(value, struct vnet_limit);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} vnet_limit SEC(".maps");

#endif /* VNET_BPF_MAPS_H_ */
