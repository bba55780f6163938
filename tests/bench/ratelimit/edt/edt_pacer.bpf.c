/* Bench-only EDT pacer (tests/bench/ratelimit/edt): not part of vnet's fast path.
 *
 * Attached at the clsact egress of the device the paced traffic leaves through (the uplink),
 * with the fq qdisc as that device's root: fq holds each packet until its skb->tstamp
 * (earliest departure time, CLOCK_MONOTONIC). Per guest (keyed by source MAC) one
 * next-departure time: a packet leaves at max(now, next) and moves next on by its wire
 * time at the guest's rate. The update is a compare-and-swap, so CPUs sending for the same
 * guest at once each get their own slot and the rate holds across CPUs. A packet whose
 * slot lies more than the horizon ahead is dropped: the queue stays bounded in time however
 * hard the guest sends (a UDP flood), and TCP sees that drop as congestion. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_helpers.h>

#define NSEC_PER_SEC 1000000000ULL
/* Per extra segment of a super-packet: Ethernet + IPv4 + TCP with timestamps. */
#define EDT_SEGMENT_HEADERS 66
#define EDT_CAS_TRIES 8

struct edt_guest {
  __u64 rate_bps;   /* set by the harness; 0: not paced */
  __u64 horizon_ns; /* set by the harness */
  __u64 next_ns;    /* earliest departure of the guest's next packet */
  __u64 passed;     /* packets stamped */
  __u64 dropped;    /* packets past the horizon (or lost every CAS race) */
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 64);
  __type(key, __u64); /* source MAC in the low 48 bits, as read from the frame */
  __type(value, struct edt_guest);
} edt_guests SEC(".maps");

static __always_inline __u64 wire_bytes(struct __sk_buff* skb) {
  __u64 segs = skb->gso_segs ? skb->gso_segs : 1;
  return skb->len + (segs - 1) * EDT_SEGMENT_HEADERS;
}

SEC("tc")
int edt_pace(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  struct edt_guest* g;
  __u64 key = 0, now, delay;
  int i;

  if ((void*)(eth + 1) > end) return TC_ACT_OK;
  __builtin_memcpy(&key, eth->h_source, ETH_ALEN);
  g = bpf_map_lookup_elem(&edt_guests, &key);
  if (!g || !g->rate_bps) return TC_ACT_OK;

  delay = wire_bytes(skb) * 8 * NSEC_PER_SEC / g->rate_bps;
  now = bpf_ktime_get_ns();
  for (i = 0; i < EDT_CAS_TRIES; i++) {
    __u64 old = g->next_ns, slot = old > now ? old : now;
    if (slot - now > g->horizon_ns) break;
    if (__sync_val_compare_and_swap(&g->next_ns, old, slot + delay) == old) {
      skb->tstamp = slot;
      __sync_fetch_and_add(&g->passed, 1);
      return TC_ACT_OK;
    }
  }
  __sync_fetch_and_add(&g->dropped, 1);
  return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
