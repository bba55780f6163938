#!/usr/bin/python3
"""Ping RTT of vnet against a direct veth pair, by the state of the guests' veths.

One sitting, variants interleaved round by round so that the machine's load hits all of
them alike: a direct veth pair (the limit); vnet between two guest namespaces with GRO on
or off on the guests' veth0 (GRO puts a veth in NAPI mode: frames sent into it go through
its ring and a NAPI poll instead of the CPU's backlog queue); and the same shape of two
guests behind host-side veths joined by redirect_floor.bpf.c, a TC program that only calls
bpf_redirect_peer (the floor of a switch hop: what the kernel's hop costs without vnet).
Each round runs `--count` pings per variant at `--interval` and at a short interval (warm
caches), after `--warmup` discarded ones, starting at another variant each round.
Prints one table: avg and p50 RTT per variant, the ratio to the pair, load average.

Not a test: run by hand as root, under the shared benchmark lock:

    flock /tmp/vnet-bench.lock /usr/bin/python3 tests/bench/fastpath/ping_path.py BUILD_DIR
"""

import argparse
import os
import re
import statistics
import sys
from typing import Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(HERE, "..", "..", "netns"))
from topology import HarnessError, Topology, VnetDaemon, leftovers  # noqa: E402

sys.path.insert(0, HERE)
from redirect_floor import attach_floor  # noqa: E402


def rtts_us(t: Topology, ns: str, dst: str, count: int, interval: float) -> List[float]:
    deadline = int(count * interval + 5)
    r = t.run(ns, ["ping", "-n", "-c", str(count), "-i", str(interval), "-W", "1", "-w",
                   str(deadline), dst], check=False, timeout=deadline + 5)
    rtts = [float(x) * 1000 for x in re.findall(r"time=([\d.]+) ms", r.stdout)]
    if len(rtts) < count * 0.9:
        raise HarnessError(f"ping {ns} -> {dst}: {len(rtts)} of {count} answered")
    return rtts


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("build_dir", nargs="?", default="/work/main/build")
    p.add_argument("--count", type=int, default=200, help="pings per variant and round")
    p.add_argument("--interval", type=float, default=0.005, help="seconds (run_bench's 5 ms)")
    p.add_argument("--warm-interval", type=float, default=0.0002,
                   help="the short interval of the warm-cache rows (0: skip them)")
    p.add_argument("--rounds", type=int, default=4, help="rounds (each starts at another variant)")
    p.add_argument("--warmup", type=int, default=20, help="pings discarded per variant and round")
    args = p.parse_args()
    if os.geteuid() != 0:
        print("ping_path.py needs root (network namespaces)", file=sys.stderr)
        return 1
    pin_dir = f"/sys/fs/bpf/vnet-pingpath-{os.getpid()}"
    load0 = os.getloadavg()
    intervals = [args.interval] + ([args.warm_interval] if args.warm_interval else [])
    res: Dict[str, List[float]] = {}
    with Topology(prefix="vp") as t:
        tag = t.tag
        da, db = t.add_direct_pair("da", "db")
        na = t.add_guest("na", gro=True)
        nb = t.add_guest("nb", gro=True)
        fa = t.add_guest("fa", subnet=2)
        fb = t.add_guest("fb", subnet=2)
        attach_floor(t, fa.host_if, fb.host_if)
        attach_floor(t, fb.host_if, fa.host_if)
        nw = t.add_wire("nw")
        d = VnetDaemon(t, os.path.abspath(args.build_dir), nw.host_if, pin_dir=pin_dir)
        d.start()
        d.assign(na, domain=1)
        d.assign(nb, domain=2)
        for ns, addr in ((da.ns, db.ipv4), (na.ns, nb.ipv4), (fa.ns, fb.ipv4)):
            if not t.wait_ping(ns, addr, deadline=3):
                raise HarnessError(f"no ping {ns} -> {addr}")

        def vnet_gro(on: bool):
            for g in (na, nb):
                t.set_gro(g.ns, g.guest_if, on)

        variants = [
            ("veth pair", lambda: None, da.ns, db.ipv4),
            ("vnet, guest GRO on (run_bench)", lambda: vnet_gro(True), na.ns, nb.ipv4),
            ("vnet, guest GRO off", lambda: vnet_gro(False), na.ns, nb.ipv4),
            ("floor: redirect_peer only, GRO off", lambda: None, fa.ns, fb.ipv4),
        ]
        for rnd in range(args.rounds):
            # Each round starts at another variant, and each variant's first pings after a
            # switch are discarded: a path's first packets pay its cold caches, which at a
            # short interval would show as the order of the variants, not as their cost.
            k = rnd % len(variants)
            for name, prepare, ns, dst in variants[k:] + variants[:k]:
                prepare()
                rtts_us(t, ns, dst, args.warmup, args.warm_interval or args.interval)
                for iv in intervals:
                    res.setdefault(f"{name} @ {iv * 1000:g} ms", []).extend(
                        rtts_us(t, ns, dst, args.count, iv))
        d.stop()
    load1 = os.getloadavg()
    print(f"ping RTT, {args.rounds} rounds x {args.count} pings per row, kernel "
          f"{os.uname().release}, load {load0[0]:.2f} -> {load1[0]:.2f}")
    print("| variant @ interval | avg µs | p50 µs | avg / pair | p50 / pair |")
    print("|---|---:|---:|---:|---:|")
    for iv in intervals:
        base = res[f"veth pair @ {iv * 1000:g} ms"]
        for name, *_ in variants:
            r = res[f"{name} @ {iv * 1000:g} ms"]
            print(f"| {name} @ {iv * 1000:g} ms | {statistics.fmean(r):.1f} | "
                  f"{statistics.median(r):.1f} | "
                  f"{statistics.fmean(r) / statistics.fmean(base):.2f} | "
                  f"{statistics.median(r) / statistics.median(base):.2f} |")
    left = leftovers(tag, [pin_dir])
    if left:
        print("left behind: " + ", ".join(left), file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
