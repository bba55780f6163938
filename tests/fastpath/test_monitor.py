#!/usr/bin/python3
"""fastpath.monitor: drop events, streamed to `vnetctl monitor`.

vnetd runs with --drop_events_per_second=20 --max_drop_watchers=2. Cases, in order:
    off        with nobody watching, the fast path's switch (pinned vnet_monitor) is off
    events     `vnetctl monitor -o json --context <b1> --count 5` while b1 sends 5 frames
               with b2's source MAC and a2 sends 5 with a forged IPv4: exactly b1's 5,
               context b1, direction tx, reason spoof_mac, b1's interface, the frame's
               length and its first bytes (b2's MAC as source, the frame's marker)
    reason     `--reason spoof_ipv4` while b1 sends both kinds: only spoof_ipv4
    bad input  an unknown reason and --count 0 are usage errors (exit 2) naming the value
    watchers   with 2 monitors open a third is refused (RESOURCE_EXHAUSTED, exit 1)
    rate       a flood of FLOOD spoofed frames from b1: at most 20 events per second (plus
               one per CPU at a window's edge) reach the watcher, and b1's emitted +
               suppressed (pinned vnet_monitor_state) account for every dropped frame
    off again  after the last watcher left, the switch is off again
"""

import json
import os
import re
import struct
import time
import urllib.request

import fastpath_env as fe
from fastpath_env import check, note
from topology import HarnessError

from scapy.all import Ether, IP, Raw, UDP  # noqa: E402

RATE = 20
MAX_WATCHERS = 2
FLOOD = 3000
BCAST = "ff:ff:ff:ff:ff:ff"


def monitor_on(env: fe.Env) -> bool:
    """The `flags` word of the pinned vnet_monitor map (struct vnet_monitor_config)."""
    entries = env.bpftool(["map", "dump", "pinned", env.map_path("vnet_monitor")]) or []
    raw = bytes(int(x, 16) for x in entries[0]["value"])
    return struct.unpack("<II", raw[:8])[0] & 1 == 1


def monitor_state(env: fe.Env, ctx_id: int) -> dict:
    """One context's struct vnet_monitor_state."""
    entries = env.bpftool(["map", "lookup", "pinned", env.map_path("vnet_monitor_state"),
                           "key"] + [str(b) for b in struct.pack("<I", ctx_id)])
    raw = bytes(int(x, 16) for x in entries["value"])
    names = ["window_start_ns", "window_events", "emitted", "suppressed", "ring_full"]
    return dict(zip(names, struct.unpack("<5Q", raw[:40])))


def metrics(env: fe.Env) -> str:
    address = next(a.split("=", 1)[1] for a in env.d.proc.args
                   if a.startswith("--metrics_address="))
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as r:
        return r.read().decode()


def metric(text: str, name: str) -> float:
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(m.group(1)) if m else -1.0


def wait_watchers(env: fe.Env, n: int, deadline: float = 10) -> bool:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if metric(metrics(env), "vnet_drop_watchers") == n:
            return True
        time.sleep(0.05)
    return False


def start_monitor(env: fe.Env, args):
    return env.t.popen(None, [env.d.vnetctl, "--socket", env.d.socket, "monitor"] + args)


def finish(env: fe.Env, proc, timeout: float = 20):
    try:
        out, err = proc.communicate(timeout=timeout)
    except Exception:
        env.t.stop(proc)
        raise
    return proc.returncode, out, err


def events_of(out: str):
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def frame_head(ev: dict) -> bytes:
    return bytes.fromhex(ev["frame_head_hex"].replace(" ", ""))


def test(env: fe.Env) -> None:
    t = env.t
    b1, b2, a2 = env.b1, env.b2, env.a2
    bid, a2id = env.id_of["b1"], env.id_of["a2"]
    pid = os.getpid()
    check(t.wait_ping(b1.ns, b2.ipv4, 5), "b1 reaches b2 before the test")

    def spoof_mac(tag):
        return Ether(src=b2.mac, dst=BCAST) / IP(src=b1.ipv4, dst="198.18.10.255") / \
            UDP(sport=40000, dport=40001) / Raw(f"VNETMON-{tag}-{pid}".encode())

    def spoof_ipv4(g, victim, tag):
        return Ether(src=g.mac, dst=BCAST) / IP(src=victim.ipv4, dst="198.18.0.255") / \
            UDP(sport=40000, dport=40001) / Raw(f"VNETMON-{tag}-{pid}".encode())

    # -- off: nobody watches, nothing is produced
    check(not monitor_on(env), "nobody watches: the fast path's drop-event switch is off")

    # -- events: the right context, direction, reason and bytes
    mac_frame = bytes(spoof_mac("mac"))
    mon = start_monitor(env, ["-o", "json", "--context", str(bid), "--count", "5",
                              "--duration", "20"])
    check(wait_watchers(env, 1), "the monitor subscribed (vnet_drop_watchers 1)")
    check(monitor_on(env), "a watcher: the switch is on")
    a2_drops = sum(env.stats()[a2id]["drops"][fe.DIR_TX])
    t.send_raw(a2.ns, a2.guest_if, [bytes(spoof_ipv4(a2, env.a1, "a2"))], repeat=5)
    t.send_raw(b1.ns, b1.guest_if, [mac_frame], repeat=5)
    code, out, err = finish(env, mon)
    evs = events_of(out)
    # a2's spoofed frames were dropped too, so "only b1's events" below tests the filter.
    a2_drops = sum(env.stats()[a2id]["drops"][fe.DIR_TX]) - a2_drops
    check(a2_drops >= 5, f"a2's 5 spoofed frames were dropped meanwhile ({a2_drops})")
    note(f"first event: {json.dumps(evs[0]) if evs else None}")
    check(code == 0 and len(evs) == 5, f"monitor --count 5 exited 0 with 5 events "
                                       f"(exit {code}, {len(evs)} events, stderr {err.strip()!r})")
    for ev in evs:
        head = frame_head(ev)
        check(ev["context_id"] == bid and ev["direction"] == "tx" and
              ev["reason"] == "spoof_mac" and ev["interface_name"] == b1.host_if,
              f"event names b1's context {bid}, tx, spoof_mac, {b1.host_if}: "
              f"{ev['context_id']} {ev['direction']} {ev['reason']} {ev['interface_name']}")
        check(ev["frame_length"] == len(mac_frame) and head == mac_frame[:128],
              f"event carries the frame: length {ev['frame_length']} (sent {len(mac_frame)}), "
              f"first {len(head)} bytes equal the frame's")
        check(head[6:12] == bytes.fromhex(b2.mac.replace(":", "")),
              "... whose source MAC is b2's (the spoofed one)")
        check(b2.mac in ev["summary"] and "UDP 40000 > 40001" in ev["summary"],
              f"decoded summary: {ev['summary']}")

    # -- reason filter
    mon = start_monitor(env, ["-o", "json", "--reason", "spoof_ipv4", "--count", "3",
                              "--duration", "20"])
    check(wait_watchers(env, 1), "the reason-filtered monitor subscribed")
    t.send_raw(b1.ns, b1.guest_if, [bytes(spoof_mac("mac2")),
                                    bytes(spoof_ipv4(b1, b2, "ip4"))], repeat=3)
    code, out, err = finish(env, mon)
    evs = events_of(out)
    check(code == 0 and len(evs) == 3 and all(e["reason"] == "spoof_ipv4" and
                                              e["context_id"] == bid for e in evs),
          f"--reason spoof_ipv4: 3 events, all spoof_ipv4 from b1 "
          f"({[(e['context_id'], e['reason']) for e in evs]})")

    # -- bad input
    r = env.d.ctl(["monitor", "--reason", "spoofed", "--count", "1"], check=False)
    check(r.returncode == 2 and "'spoofed' is not a drop reason" in r.stderr,
          f"unknown reason: exit 2 naming it (exit {r.returncode}: {r.stderr.strip()[:120]!r})")
    r = env.d.ctl(["monitor", "--count", "0"], check=False)
    check(r.returncode == 2 and "--count" in r.stderr, f"--count 0: exit 2 ({r.returncode})")
    r = env.d.ctl(["monitor", "--context", "novif0"], check=False)
    check(r.returncode == 2 and "novif0" in r.stderr,
          f"unknown interface for --context: exit 2 ({r.returncode})")

    # -- watchers bound
    held = [start_monitor(env, ["--duration", "30"]) for _ in range(MAX_WATCHERS)]
    check(wait_watchers(env, MAX_WATCHERS), f"{MAX_WATCHERS} monitors open")
    r = env.d.ctl(["monitor", "--count", "1", "--duration", "5"], check=False)
    check(r.returncode == 1 and "drop watchers" in r.stderr,
          f"a monitor beyond max_drop_watchers is refused: exit {r.returncode}, "
          f"{r.stderr.strip()[:120]!r}")
    check(metric(metrics(env), "vnet_drop_watchers_refused_total") >= 1,
          "vnet_drop_watchers_refused_total counted it")
    for p in held:
        t.stop(p)
    check(wait_watchers(env, 0), "the held monitors left")

    # -- rate limit under a flood
    before = monitor_state(env, bid)
    drops_before = env.stats()[bid]["drops"][fe.DIR_TX][fe.DROP_REASONS.index("spoof_mac")]
    mon = start_monitor(env, ["-o", "json", "--context", str(bid), "--duration", "8"])
    check(wait_watchers(env, 1), "the flood's monitor subscribed")
    t0 = time.monotonic()
    t.send_raw(b1.ns, b1.guest_if, [bytes(spoof_mac("flood"))], repeat=FLOOD, timeout=60)
    flood_s = time.monotonic() - t0
    code, out, err = finish(env, mon, timeout=30)
    evs = events_of(out)
    after = monitor_state(env, bid)
    drops = env.stats()[bid]["drops"][fe.DIR_TX][fe.DROP_REASONS.index("spoof_mac")] - \
        drops_before
    emitted = after["emitted"] - before["emitted"]
    suppressed = after["suppressed"] - before["suppressed"]
    ring_full = after["ring_full"] - before["ring_full"]
    flood_events = [e for e in evs if "VNETMON-flood" in frame_head(e).decode("latin-1")]
    windows = int(flood_s) + 2  # one-second windows the flood can touch
    bound = RATE * windows + os.cpu_count()
    note(f"flood: {FLOOD} frames in {flood_s:.2f} s ({FLOOD / flood_s:.0f}/s); "
         f"{len(flood_events)} events to the watcher, emitted {emitted}, suppressed "
         f"{suppressed}, ring full {ring_full}; bound {bound}")
    check(code == 0, f"flood monitor ended at --duration with exit 0 ({code}, {err.strip()!r})")
    check(drops == FLOOD, f"every flood frame was dropped and counted ({drops})")
    check(0 < len(flood_events) <= bound,
          f"the watcher got {len(flood_events)} events: some, at most {bound} "
          f"({RATE}/s over {windows} windows + one per CPU)")
    check(emitted + suppressed + ring_full == FLOOD,
          f"b1's emitted + suppressed + ring_full = {emitted + suppressed + ring_full} "
          f"accounts for all {FLOOD} drops")
    check(suppressed >= FLOOD - bound, f"the rest were suppressed ({suppressed})")
    text = metrics(env)
    check(metric(text, "vnet_drop_events_suppressed_total") >= suppressed,
          f"vnet_drop_events_suppressed_total {metric(text, 'vnet_drop_events_suppressed_total')}")
    check(metric(text, "vnet_drop_events_emitted_total") >= emitted,
          f"vnet_drop_events_emitted_total {metric(text, 'vnet_drop_events_emitted_total')}")

    # -- off again
    check(wait_watchers(env, 0) and not monitor_on(env),
          "the last watcher left: the switch is off again")
    if not evs:
        raise HarnessError("no events at all")


if __name__ == "__main__":
    fe.main("monitor", test, prefix="fm",
            vnetd_args=[f"--drop_events_per_second={RATE}", f"--max_drop_watchers={MAX_WATCHERS}"])
