#!/usr/bin/python3
"""Does vnet's per-packet cost stay flat with the number of contexts, and with traffic
spread over many guests? One sender guest sends 64-byte UDP (trafgen) round-robin to R
receiving guests on one flat VLAN, at three pool sizes in one run:

  A  2 contexts: the sender and one receiver (R = 1 only);
  B  the sender and the largest R's receivers (1 + max R contexts);
  C  B plus idle contexts up to --total (4096 by default).

Per row: packets per second received (all receivers together, by the receiving namespace's
Ip.InReceives), what the sender sent, and the guest program's ns per packet (bpf_stats, in
a pass of its own after the rates). Round-robin destinations defeat the per-CPU
destination hint, so R > 1 exercises the forwarding tables themselves.

A benchmark, not a test: prints Markdown and asserts nothing. Run as root from a build:

  tests/bench/fastpath/spread_bench.py [build] [--receivers 1,16,256] [--total 4096]
                                       [--window 2] [--reps 3] [--smoke]

Topology (tests/netns/topology.py, removed at exit): the sender in a namespace of its own;
receivers and idle guests are veth pairs with their guest ends in one shared namespace
(no addresses: IP counts each frame and drops it, the same work for every row). vnetd
starts from a state file per phase (restore, as after a restart), so no phase waits for
thousands of assigns; each phase starts a fresh vnetd on the same pins.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "netns"))
sys.path.insert(0, HERE)
from bpf_cost import BpfCost  # noqa: E402
from topology import HarnessError, Topology, VnetDaemon, check_clean  # noqa: E402

UDP_PORT = 9
VLAN = 1


def state_text(guests) -> str:
    """vnetd's state file holding one context per guest (ids from 1, in order)."""
    lines = ["format_version: 2"]
    for i, g in enumerate(guests, start=1):
        lines.append(
            f'contexts {{ id: {i} domain_id: {i} interface_name: "{g.host_if}" '
            f'mac: "{g.mac}" ipv4_addresses: "{g.ipv4}" vlan: {VLAN} mtu: 1500 '
            f'create_time {{ seconds: 1700000000 }} }}')
    return "\n".join(lines) + "\n"


def trafgen_conf(sender, receivers) -> str:
    # 64-byte frames (60 without the FCS), one per receiver; trafgen sends them in turn.
    return "".join(
        "{ eth(da=%s, sa=%s, type=0x0800), ipv4(sa=%s, da=%s, ttl=64, df), "
        "udp(sp=40000, dp=%d), fill(0x00, 18) }\n" % (r.mac, sender.mac, sender.ipv4, r.ipv4,
                                                      UDP_PORT) for r in receivers)


def start_vnetd(t, args, uplink, guests, phase) -> VnetDaemon:
    # One capacity for every phase: the pinned maps are sized by it, and the phases share them.
    d = VnetDaemon(t, args.build_dir, uplink, pin_dir=f"/sys/fs/bpf/vnet-{t.tag}",
                   extra_args=[f"--capacity={args.total + 16}"])
    os.makedirs(d.state_dir, exist_ok=True)
    with open(os.path.join(d.state_dir, "contexts.state"), "w") as f:
        f.write(state_text(guests))
    t0 = time.monotonic()
    d.start(timeout=600)  # vnetd answers once it has restored and attached every context
    print(f"  phase {phase}: vnetd restored {len(guests)} contexts in "
          f"{time.monotonic() - t0:.1f} s", flush=True)
    return d


def rates(t, sender, receivers, rx_ns, window) -> dict:
    conf = os.path.join(t.tmpdir, f"spread-{len(receivers)}.cfg")
    with open(conf, "w") as f:
        f.write(trafgen_conf(sender, receivers))
    warmup = 0.5
    bound = int(window + warmup + 3)
    cmd = ["timeout", "-s", "INT", "-k", "2", str(bound), "trafgen", "--dev", sender.guest_if,
           "--conf", conf, "--num", str(10_000_000 * bound), "--cpus", "1", "--no-sock-mem",
           "--notouch-irq", "--no-cpu-stats"]
    gen = t.popen(sender.ns, cmd, stdout=subprocess.DEVNULL)
    try:
        time.sleep(warmup)
        if gen.poll() is not None:
            raise HarnessError(f"trafgen exited early: {gen.stderr.read().strip()[-300:]}")
        rx0 = t.snmp(rx_ns)["Ip.InReceives"]
        tx0 = t.link_stats(sender.ns, sender.guest_if)["tx_packets"]
        t0 = time.monotonic()
        time.sleep(window)
        rx1 = t.snmp(rx_ns)["Ip.InReceives"]
        tx1 = t.link_stats(sender.ns, sender.guest_if)["tx_packets"]
        dt = time.monotonic() - t0
    finally:
        t.stop(gen, signal.SIGINT)
    return {"rx": (rx1 - rx0) / dt, "tx": (tx1 - tx0) / dt}


def measure(t, d, uplink, sender, receivers, rx_ns, args) -> dict:
    runs = [rates(t, sender, receivers, rx_ns, args.window) for _ in range(args.reps)]
    with BpfCost(d.pin_dir, uplink) as cost:
        before = cost.snapshot()
        rates(t, sender, receivers, rx_ns, args.window)
        per = BpfCost.per_packet(before, cost.snapshot()).get("vnet_guest_tc", {})
    return {"rx": statistics.median(r["rx"] for r in runs),
            "tx": statistics.median(r["tx"] for r in runs),
            "ns": per.get("ns", 0.0), "runs": per.get("runs", 0)}


def fmt(v, scale=1e-3, digits=0) -> str:
    return "–" if v is None else f"{v * scale:.{digits}f}"


def ratio(a, b) -> str:
    return "–" if not a or not b else f"{a / b:.2f}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("build_dir", nargs="?", default="build")
    p.add_argument("--receivers", default="1,16,256",
                   help="comma-separated receiver counts, each a row (1,16,256)")
    p.add_argument("--total", type=int, default=4096, help="contexts in phase C (4096)")
    p.add_argument("--window", type=float, default=2.0, help="seconds per rate window (2)")
    p.add_argument("--reps", type=int, default=3, help="rate windows per row; median (3)")
    p.add_argument("--smoke", action="store_true",
                   help="exit 1 unless every cell got a measurement (the suite's smoke run)")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args()
    counts = sorted({int(x) for x in args.receivers.split(",") if x.strip()})
    if not counts or counts[0] < 1 or 1 + counts[-1] >= args.total:
        p.error("receiver counts must be at least 1 and leave room under --total")
    if os.geteuid() != 0:
        print("spread_bench: needs root (namespaces, BPF)", file=sys.stderr)
        return 2
    biggest = counts[-1]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load0 = os.getloadavg()
    results = {}
    tag = None
    with Topology(prefix="sb", verbose=args.verbose) as t:
        tag = t.tag
        wire = t.add_wire("w")
        sender = t.add_guest("s")
        receivers = t.add_idle_ports(biggest)
        rx_ns = receivers[0].ns
        print(f"  {biggest} receivers in {rx_ns}; adding {args.total - 1 - biggest} idle guests",
              flush=True)
        idle = t.add_idle_ports(args.total - 1 - biggest)
        phases = [("A", [sender] + receivers[:1], [1]),
                  ("B", [sender] + receivers, counts),
                  ("C", [sender] + receivers + idle, counts)]
        for phase, guests, rows in phases:
            d = start_vnetd(t, args, wire.host_if, guests, phase)
            try:
                for r in rows:
                    results[(phase, r)] = measure(t, d, wire.host_if, sender, receivers[:r],
                                                  rx_ns, args)
                    m = results[(phase, r)]
                    print(f"  phase {phase}, {r} receivers: {m['rx'] / 1e3:.0f} kpps received, "
                          f"{m['ns']:.0f} ns/packet", flush=True)
            finally:
                d.stop()
    load1 = os.getloadavg()
    commit = subprocess.run(["git", "-C", HERE, "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip()
    print(f"\n{started}, commit {commit}, kernel {os.uname().release}, {os.cpu_count()} CPUs, "
          f"load average {load0[0]:.2f} at the start and {load1[0]:.2f} at the end; median of "
          f"{args.reps} windows of {args.window:g} s per rate, guest TC ns/packet from one more "
          f"window with bpf_stats on. Contexts: A = 2, B = {1 + biggest}, C = {args.total}.\n")
    print("| receivers | kpps A | kpps B | kpps C | C/A | C/B | ns/pkt A | ns/pkt B | ns/pkt C "
          "| C/A | C/B |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in counts:
        a, b, c = (results.get((ph, r)) for ph in "ABC")
        print(f"| {r} | {fmt(a and a['rx'])} | {fmt(b['rx'])} | {fmt(c['rx'])} | "
              f"{ratio(c['rx'], a and a['rx'])} | {ratio(c['rx'], b['rx'])} | "
              f"{fmt(a and a['ns'], 1)} | {fmt(b['ns'], 1)} | {fmt(c['ns'], 1)} | "
              f"{ratio(c['ns'], a and a['ns'])} | {ratio(c['ns'], b['ns'])} |")
    print("\nkpps: received by all receivers together; the sender's rate is in --verbose output."
          " ns/pkt: vnet_guest_tc's run_time_ns / run_cnt.")
    empty = [f"phase {ph}, {r} receivers" for (ph, r), m in results.items()
             if m["rx"] <= 0 or m["ns"] <= 0]
    if args.smoke and (empty or len(results) != 1 + 2 * len(counts)):
        print(f"spread_bench: cells without a measurement: {empty or 'rows missing'}",
              file=sys.stderr)
        return 1
    try:
        check_clean(tag)
    except HarnessError as e:
        print(f"spread_bench: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
