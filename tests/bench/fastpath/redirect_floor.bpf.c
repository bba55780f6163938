// SPDX-License-Identifier: GPL-2.0
/* The cheapest possible switch hop for ping_path.py: a TC ingress program that sends every
 * frame to the peer of one veth (bpf_redirect_peer), with no lookups and no checks. The
 * benchmark compiles it per direction with -DVNET_FLOOR_TARGET=<ifindex>; what vnet's hop
 * costs above this is vnet's program, below it is the kernel's hop. */
/* bpf_helpers.h needs the kernel's types first: keep this order. */
// clang-format off
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
// clang-format on

SEC("tc")
int redirect_floor(struct __sk_buff* skb) { return bpf_redirect_peer(VNET_FLOOR_TARGET, 0); }

char LICENSE[] SEC("license") = "GPL";
