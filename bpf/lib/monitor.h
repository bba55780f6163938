/* Drop events: a record of each dropped frame (context, direction, reason, first bytes) in a
 * ring buffer for vnetd's watchers (`vnetctl monitor`). vnet_drop() notes the drop; the
 * program's entry emits it once the verdict is in, where the frame itself is at hand. Only
 * while vnetd has a watcher, and at most events_per_sec per context: a flooding guest can
 * fill neither the ring nor vnetd. */
#ifndef VNET_BPF_MONITOR_H_
#define VNET_BPF_MONITOR_H_

#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

#include "vnet/abi.h"

#define VNET_NSEC_PER_SEC 1000000000ull

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct vnet_monitor_config);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} vnet_monitor SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 129);
  __type(key, __u32);
  __type(value, struct vnet_monitor_state);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} vnet_monitor_state SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, VNET_DROP_EVENT_RING_BYTES);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} vnet_drop_events SEC(".maps");

/* The drop noted during this run of the program, per CPU (a program runs to its end on one
 * CPU). Not pinned: each program object has its own. reason 0: none. */
struct vnet_drop_note {
  __u32 reason;
  __u32 ctx_id;
  __u32 dir;
  __u32 pad;
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct vnet_drop_note);
} vnet_drop_notes SEC(".maps");

static __always_inline struct vnet_monitor_config* vnet_monitor_on(void) {
  __u32 zero = 0;
  struct vnet_monitor_config* cfg = bpf_map_lookup_elem(&vnet_monitor, &zero);
  return cfg && (cfg->flags & VNET_MONITOR_F_ON) ? cfg : 0;
}

/* At a program's entry: clears the CPU's note while someone watches. Returns nothing, so
 * no register differs between the watched and unwatched runs of the program's body (the
 * verifier would otherwise walk the body once for each). */
static __always_inline void vnet_monitor_begin(void) {
  __u32 zero = 0;
  struct vnet_drop_note* note;
  if (!vnet_monitor_on()) return;
  note = bpf_map_lookup_elem(&vnet_drop_notes, &zero);
  if (note) note->reason = 0;
}

/* At the end: the note of this run's drop, consumed, or 0 (none, or nobody watches). A
 * note left by a run during which the switch went off is cleared by the next watched
 * run's begin. */
static __always_inline struct vnet_drop_note* vnet_monitor_take(void) {
  __u32 zero = 0;
  struct vnet_drop_note* note;
  if (!vnet_monitor_on()) return 0;
  note = bpf_map_lookup_elem(&vnet_drop_notes, &zero);
  if (!note || note->reason == 0) return 0;
  return note;
}

/* From vnet_drop(): the last drop of a run is the one reported. A global (noinline)
 * function: the verifier checks it once, not again at each of the many drop sites. */
__attribute__((noinline)) int vnet_monitor_note(__u32 ctx_id, __u32 dir, __u32 reason) {
  __u32 zero = 0;
  struct vnet_drop_note* note;
  if (!vnet_monitor_on()) return 0;
  note = bpf_map_lookup_elem(&vnet_drop_notes, &zero);
  if (!note) return 0;
  note->reason = reason;
  note->ctx_id = ctx_id;
  note->dir = dir;
  return 0;
}

/* The per-context rate: at most `limit` events in each one-second window. Plain reads and
 * atomic adds, no lock: CPUs racing at the limit can exceed it by one event each. */
static __always_inline int vnet_monitor_admit(__u32 ctx_id, __u32 limit) {
  struct vnet_monitor_state* st = bpf_map_lookup_elem(&vnet_monitor_state, &ctx_id);
  __u64 now;
  if (!st) return 0;
  now = bpf_ktime_get_ns();
  if (now - st->window_start_ns >= VNET_NSEC_PER_SEC) {
    st->window_start_ns = now;
    st->window_events = 0;
  }
  if (st->window_events >= limit) {
    __sync_fetch_and_add(&st->suppressed, 1);
    return 0;
  }
  __sync_fetch_and_add(&st->window_events, 1);
  return 1;
}

static __always_inline void vnet_monitor_count(__u32 ctx_id, int emitted) {
  struct vnet_monitor_state* st = bpf_map_lookup_elem(&vnet_monitor_state, &ctx_id);
  if (!st) return;
  if (emitted)
    __sync_fetch_and_add(&st->emitted, 1);
  else
    __sync_fetch_and_add(&st->ring_full, 1);
}

/* The drop to report, taken from the run's note. */
struct vnet_drop_pending {
  __u32 reason, ctx_id, dir;
};

/* Consumes the note; 1 when an event is to be emitted for it (monitor on, rate allows). */
static __always_inline int vnet_monitor_pending(struct vnet_drop_pending* p) {
  struct vnet_drop_note* note = vnet_monitor_take();
  struct vnet_monitor_config* cfg;
  if (!note) return 0;
  p->reason = note->reason;
  p->ctx_id = note->ctx_id;
  p->dir = note->dir;
  note->reason = 0; /* consumed: reported at most once */
  cfg = vnet_monitor_on();
  return cfg && vnet_monitor_admit(p->ctx_id, cfg->events_per_sec);
}

/* Reserves the event, counts the outcome and fills the header; 0 when the ring is full.
 * The null check sits right after the reserve, and callers test the result once: the 6.1
 * verifier does not know a reserved (non-null) event cannot be 0 later and would report
 * the reference as leaked on a second test (seen under real Xen, Debian 12's kernel). */
#define VNET_MONITOR_RESERVE(ev, p)                                  \
  do {                                                               \
    (ev) = bpf_ringbuf_reserve(&vnet_drop_events, sizeof(*(ev)), 0); \
    if (!(ev)) {                                                     \
      vnet_monitor_count((p).ctx_id, 0);                             \
      return;                                                        \
    }                                                                \
    vnet_monitor_count((p).ctx_id, 1);                               \
    (ev)->timestamp_ns = bpf_ktime_get_ns();                         \
    (ev)->ctx_id = (p).ctx_id;                                       \
    (ev)->direction = (__u8)(p).dir;                                 \
    (ev)->reason = (__u8)(p).reason;                                 \
  } while (0)

/* How many of `len` bytes to copy: 1..VNET_DROP_EVENT_SNAP_LEN, bounded in the register the
 * helper gets (tested in C, clang may check a copy the verifier does not connect). An empty
 * frame asks for 1 byte, which the helper refuses: nothing captured. */
static __always_inline __u32 vnet_monitor_snap_len(__u32 len) {
  __u64 n = len;
  asm volatile(
      "if %[n] <= %[max] goto +1\n\t%[n] = %[max]\n\t"
      "if %[n] > 0 goto +1\n\t%[n] = 1"
      : [n] "+r"(n)
      : [max] "i"(VNET_DROP_EVENT_SNAP_LEN));
  return (__u32)n;
}

/* At a TC program's end: emits the run's noted drop with the skb's first bytes. */
static __always_inline void vnet_monitor_emit_skb(struct __sk_buff* skb) {
  struct vnet_drop_pending p;
  struct vnet_drop_event* ev;
  __u32 n;
  if (!vnet_monitor_pending(&p)) return;
  VNET_MONITOR_RESERVE(ev, p);
  ev->ifindex = skb->ifindex;
  ev->frame_len = skb->len;
  n = vnet_monitor_snap_len(skb->len);
  ev->captured_len = 0;
  if (bpf_skb_load_bytes(skb, 0, ev->data, n) == 0) ev->captured_len = (__u16)n;
  bpf_ringbuf_submit(ev, 0);
}

/* XDP: the same for an xdp_md. */
static __always_inline void vnet_monitor_emit_xdp(struct xdp_md* xdp) {
  struct vnet_drop_pending p;
  struct vnet_drop_event* ev;
  __u32 len, n;
  if (!vnet_monitor_pending(&p)) return;
  VNET_MONITOR_RESERVE(ev, p);
  len = (__u32)(xdp->data_end - xdp->data);
  ev->ifindex = xdp->ingress_ifindex;
  ev->frame_len = len;
  n = vnet_monitor_snap_len(len);
  ev->captured_len = 0;
  if (bpf_xdp_load_bytes(xdp, 0, ev->data, n) == 0) ev->captured_len = (__u16)n;
  bpf_ringbuf_submit(ev, 0);
}

#endif /* VNET_BPF_MONITOR_H_ */
