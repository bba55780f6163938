#!/usr/bin/python3
"""vnet's per-packet cost in real traffic, by difference: CPU time per packet through vnet
against the same devices with a bare redirect (the floor) and against a direct veth pair.

Neither clock of the other probes is used: bpf_stats reads the clock twice per run (kvm's
pvclock here, tens of ns each) and perf's sampling slowed this VM's flow several-fold. Here
one trafgen flow per network (64-byte UDP guest→guest, as run_bench.py's trafgen row) runs
the whole time, all but one stopped (SIGSTOP); the script lets each run for a short window
in turn, rotating the order every round, so a phase of this VM's speed falls on all
networks alike. Per window it reads the packets the receiving namespace took in and the CPU
time the machine spent (/proc/stat: user, nice, system, irq, softirq; idle and steal not
counted). Per round, the difference between two networks' ns per packet is what one costs
above the other:

  * vnet - floor: vnet_guest_tc against a program that only calls bpf_redirect_peer, on the
    same kind of devices attached the same way: the program's cost with its cache misses,
    and whatever it makes the rest of the path pay;
  * floor - pair: the extra device of vnet's test-bed shape (host-side veth, its hook);
  * with --control, floor2 - floor: a second floor network, identical to the first, whose
    difference should be nothing: what the method itself reads as a cost.

Two views of the same windows: "CPU" (busy CPU time / packets; valid at any load) and
"rate" (1 s / packets per second; what a saturated sender CPU says). Not a test: run by
hand as root, under the shared benchmark lock:

    flock /tmp/vnet-bench.lock /usr/bin/python3 tests/bench/fastpath/cost_diff.py BUILD_DIR
"""

import argparse
import os
import statistics
import sys
from typing import Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(HERE, "..", "..", "netns"))
sys.path.insert(0, HERE)
from topology import Topology, VnetDaemon, leftovers  # noqa: E402
from bpf_cost import STATS_SYSCTL  # noqa: E402
from redirect_floor import attach_floor  # noqa: E402
from paused_flow import PausedFlow, take_turns  # noqa: E402
from run_bench import UDP_PORT, trafgen_conf  # noqa: E402

NETWORKS = ["pair", "floor", "vnet"]
CONTROL = "floor2"  # with --control: a second floor, the method's own zero


def trafgen_conf6(src_mac: str, dst_mac: str, src_ip: str, dst_ip: str) -> str:
    """run_bench.trafgen_conf's frame over IPv6: 14 + 40 + 8 + 2 = 64 bytes (trafgen
    completes the UDP checksum over the IPv6 pseudo-header)."""
    return ("{ eth(da=%s, sa=%s, type=0x86dd), ipv6(sa=%s, da=%s, hl=64), "
            "udp(sp=40000, dp=%d), fill(0x00, 2) }\n" % (dst_mac, src_mac, src_ip, dst_ip, UDP_PORT))


def per_packet(w: Dict[str, float]) -> Dict[str, float]:
    """A window's figures per packet received."""
    pkts = max(w["rx"], 1)
    return {"pps": w["rx"] / w["seconds"], "cpu_ns": sum(w["busy_ns"]) / pkts,
            "rate_ns": w["seconds"] * 1e9 / pkts,
            "max_cpu_share": max(w["busy_ns"]) / (w["seconds"] * 1e9)}


def build(t: Topology, build_dir: str, attach: str, pin_dir: str,
          host_gro: bool, control: bool) -> Dict[str, tuple]:
    """The three networks, each a sending guest a and a receiving guest b (GRO on, as
    vnetd's guests run). host_gro: GRO on the host-side veths too (veth then receives
    through NAPI instead of the CPU's backlog)."""
    nets: Dict[str, tuple] = {}
    nets["pair"] = t.add_direct_pair("da", "db", gro=True)
    fa, fb = t.add_guest("fa", gro=True), t.add_guest("fb", gro=True)
    attach_floor(t, fa.host_if, fb.host_if, attach)
    attach_floor(t, fb.host_if, fa.host_if, attach)
    nets["floor"] = (fa, fb)
    if control:
        ca, cb = t.add_guest("ca", gro=True), t.add_guest("cb", gro=True)
        attach_floor(t, ca.host_if, cb.host_if, attach)
        attach_floor(t, cb.host_if, ca.host_if, attach)
        nets[CONTROL] = (ca, cb)
    na, nb = t.add_guest("na", gro=True), t.add_guest("nb", gro=True)
    nw = t.add_wire("nw")
    d = VnetDaemon(t, build_dir, nw.host_if, pin_dir=pin_dir,
                   extra_args=[f"--tc_attach={attach}"])
    d.start()
    d.assign(na, domain=1, device=0, vlan=1)
    d.assign(nb, domain=2, device=0, vlan=1)
    nets["vnet"] = (na, nb)
    if host_gro:
        for g in [g for n, pair in nets.items() if n != "pair" for g in pair]:
            t.set_gro(None, g.host_if)
    return nets


def spread(xs: List[float]) -> str:
    q = statistics.quantiles(xs, n=4) if len(xs) > 1 else [xs[0]] * 3
    return f"median {q[1]:.0f} (quartiles {q[0]:.0f} to {q[2]:.0f})"


def report(res: Dict[str, List[Dict[str, float]]], rounds: int) -> List[str]:
    networks = list(res)
    out = ["| network | received kpps | CPU ns/packet (all CPUs) | 1 s / rate, ns/packet | "
           "busiest CPU |", "|---|---:|---:|---:|---:|"]
    for n in networks:
        w = res[n]
        out.append(f"| {n} | {statistics.median(x['pps'] for x in w) / 1000:.0f} | "
                   f"{statistics.median(x['cpu_ns'] for x in w):.0f} | "
                   f"{statistics.median(x['rate_ns'] for x in w):.0f} | "
                   f"{100 * statistics.median(x['max_cpu_share'] for x in w):.0f}% |")
    out.append("")
    out.append(f"Differences per round ({rounds} rounds), ns per packet:")
    for hi, lo, what in (("vnet", "floor", "vnet's program above a bare redirect"),
                         ("floor", "pair", "the test bed's extra device"),
                         ("vnet", "pair", "vnet's shape in all"),
                         (CONTROL, "floor", "the method's zero: two identical floors")):
        if hi not in res:
            continue
        for key, view in (("cpu_ns", "CPU"), ("rate_ns", "rate")):
            d = [x[key] - y[key] for x, y in zip(res[hi], res[lo])]
            out.append(f"  {hi} - {lo} ({what}), by {view}: {spread(d)}; "
                       f"rounds: {', '.join(f'{v:.0f}' for v in d)}")
    if CONTROL in res and rounds > 1:
        # What this sitting can tell apart: on a fast, quiet VM the zero's quartiles were
        # within +-11 ns; in a slow phase 200-400 ns apart, and a 20-ns cost reads as noise.
        zero = [x["rate_ns"] - y["rate_ns"] for x, y in zip(res[CONTROL], res["floor"])]
        q = statistics.quantiles(zero, n=4)
        out.append(f"Resolution of this sitting: the zero's quartiles (by rate) span "
                   f"{q[2] - q[0]:.0f} ns; a difference smaller than that is not read from it.")
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("build_dir", nargs="?", default="/work/main/build")
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--window", type=float, default=1.0, help="seconds measured per window")
    p.add_argument("--settle", type=float, default=0.2,
                   help="seconds a flow runs before its window starts")
    p.add_argument("--attach", choices=["auto", "cls_bpf", "tcx"], default="auto",
                   help="how vnetd and the floors attach their TC programs (auto: tcx links "
                        "on Linux 6.6+, as vnetd's default)")
    p.add_argument("--host-gro", action="store_true",
                   help="GRO (veth NAPI) on the floor's and vnet's host-side veths")
    p.add_argument("--control", action="store_true",
                   help=f"add {CONTROL}, a second floor: the method's own zero")
    p.add_argument("--family", type=int, choices=[4, 6], default=4,
                   help="the frames' IP version (64-byte UDP either way)")
    p.add_argument("--smoke", action="store_true",
                   help="a check of the harness (ctest): fail unless every network delivered "
                        "in every window")
    args = p.parse_args()
    if os.geteuid() != 0:
        print("cost_diff.py needs root", file=sys.stderr)
        return 1
    pin_dir = f"/sys/fs/bpf/vnet-costdiff-{os.getpid()}"
    with open(STATS_SYSCTL) as f:
        saved_stats = f.read().strip()
    load0 = os.getloadavg()
    networks = NETWORKS + ([CONTROL] if args.control else [])
    bound = int(args.rounds * len(networks) * (args.window + args.settle + 0.5) + 30)
    res: Dict[str, List[Dict[str, float]]] = {n: [] for n in networks}
    flows: List[PausedFlow] = []
    try:
        with open(STATS_SYSCTL, "w") as f:
            f.write("0")  # no per-run clock reads in any program
        with Topology(prefix="vd") as t:
            tag = t.tag
            nets = build(t, os.path.abspath(args.build_dir), args.attach, pin_dir,
                         args.host_gro, args.control)
            try:
                for n in networks:
                    a, b = nets[n]
                    conf = (trafgen_conf(a.mac, b.mac, a.ipv4, b.ipv4) if args.family == 4
                            else trafgen_conf6(a.mac, b.mac, a.ipv6, b.ipv6))
                    flows.append(PausedFlow(t, n, a.ns, a.guest_if, b.ns, conf, bound,
                                               args.family))
                # One unmeasured window each first: caches, GRO state, ARP.
                take_turns(flows, 1, args.settle, args.window)
                for n, ws in take_turns(flows, args.rounds, args.settle, args.window).items():
                    res[n] = [per_packet(w) for w in ws]
            finally:
                for f in flows:
                    f.close(t)
    finally:
        with open(STATS_SYSCTL, "w") as f:
            f.write(saved_stats)
    load1 = os.getloadavg()
    print(f"guest→guest trafgen 64 B UDP over IPv{args.family}, {args.rounds} rounds x "
          f"{len(networks)} networks, "
          f"{args.window:g} s windows, vnetd and floors --tc_attach={args.attach}, host-side GRO "
          f"{'on' if args.host_gro else 'off'}, kernel "
          f"{os.uname().release}, {os.cpu_count()} CPUs, load {load0[0]:.2f} -> {load1[0]:.2f}")
    print("\n".join(report(res, args.rounds)))
    left = leftovers(tag, [pin_dir])
    if left:
        print("left behind: " + ", ".join(left), file=sys.stderr)
        return 3
    # A network that delivers nothing would still give a figure (CPU time / 1 packet).
    dry = [n for n in networks if min(w["pps"] for w in res[n]) < 1000]
    if args.smoke and dry:
        print(f"smoke: no flow through {', '.join(dry)} in some window", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
