#!/usr/bin/python3
"""The reference talk's experiment on vnet: guest transmit with a "smart" virtual NIC
(every offload on: TSO, checksum, SG) against a "dumb" one (none), with BIG TCP (super-
packets over 64 KiB, --big-tcp) and without, and vnet smart against the Linux bridge, to
another guest and to the wire. One run, side by side, the modes interleaved in every
repetition (so load changes hit them alike); prints per run and then a table of TCP
throughput (iperf3), CPU cost per byte (busy CPU time from /proc/stat over the run, all
CPUs, divided by bytes received), the sender's bytes per frame at vnet (its context
counters: how big the super-packets were) and TCP retransmissions (in brackets, how many of
them the receiver reported as duplicates with a D-SACK: not lost, only late, i.e. reordered
on the way), with medians and ratios
(the ratio's range over the repetitions too). A last pass per mode reads vnet_guest_tc's
cost per run from the kernel's BPF statistics (kernel.bpf_stats_enabled, on only then).
A program, not a test: run as root from a build tree:
  tests/bench/offload/run_offload_bench.py --build-dir build [-t 5] [-r 3] [--big-tcp 0]

Topology (tests/netns/topology.py, removed at exit): vnet guests v1 -> v2 and v1 -> wire
(uplink with the kernel segmenting/checksumming, like a plain NIC); bridge guests b1 -> b2
and b1 -> wire on a Linux bridge; a direct veth pair p1 -> p2 (no switch), smart and dumb:
the test bed's own smart/dumb ratio, which a switch that costs nothing would show. "dumb"
sets the contexts' offloads to none and the guest ends' tx/sg/tso off (what a frontend
without offloads would use); "big" is smart plus Offloads.big_tcp_max_size on the contexts
(vnetd raises the dom0 ends) and the same gso/gro max sizes on the guest ends (the guest's
own business, like its ethtool features).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "netns"))
sys.path.insert(0, os.path.join(HERE, "..", "fastpath"))
from topology import Topology, VnetDaemon, HarnessError, check_clean, parse_snmp  # noqa: E402
from bpf_cost import BpfCost  # noqa: E402

PORT = 5301
LINK_GSO = os.path.join(HERE, "..", "..", "netns", "link_gso.py")
PYTHON = "/usr/bin/python3"


def busy_jiffies() -> int:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4]  # all but idle and iowait


def load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def dsacked_segments(t, ns) -> int:
    """Segments the sender's peers reported as received twice (D-SACK), over the namespace's
    life: retransmissions that were not needed."""
    return parse_snmp(t.run(ns, ["cat", "/proc/net/netstat"]).stdout).get(
        "TcpExt.TCPDSACKRecvSegs", 0)


def iperf(t, src_ns, dst_ns, dst_ip, secs) -> dict:
    """Gbit/s received, CPU ns per byte, retransmissions (and how many of them were D-SACKed)
    of one bounded iperf3 run."""
    srv = t.popen(dst_ns, ["iperf3", "-s", "-1", "-B", dst_ip, "-p", str(PORT)])
    try:
        time.sleep(0.3)
        d0 = dsacked_segments(t, src_ns)
        j0, b0 = busy_jiffies(), backlog_drops()
        r = t.run(src_ns, ["iperf3", "-c", dst_ip, "-p", str(PORT), "-t", str(secs), "-J",
                           "--connect-timeout", "3000"], check=False, timeout=secs + 20)
        j1, b1 = busy_jiffies(), backlog_drops()
        d1 = dsacked_segments(t, src_ns)
        data = json.loads(r.stdout or "{}")
        if "end" not in data:
            raise HarnessError(f"iperf3: {data.get('error', r.stderr.strip())}")
        nbytes = data["end"]["sum_received"]["bytes"]
        cpu_ns = (j1 - j0) * 1e9 / os.sysconf("SC_CLK_TCK")
        return {"gbps": data["end"]["sum_received"]["bits_per_second"] / 1e9,
                "ns_per_byte": cpu_ns / max(nbytes, 1),
                "retrans": data["end"]["sum_sent"].get("retransmits", 0),
                "dsacked": d1 - d0,
                "backlog_drops": b1 - b0}
    finally:
        t.stop(srv)


def backlog_drops() -> int:
    """Packets the kernel dropped because a CPU's input backlog (netdev_max_backlog) was full:
    where a veth without NAPI queues what it receives (/proc/net/softnet_stat, column 2)."""
    with open("/proc/net/softnet_stat") as f:
        return sum(int(line.split()[1], 16) for line in f)


def guest_offloads(t, g, on: bool) -> None:
    v = "on" if on else "off"
    t.run(g.ns, ["ethtool", "-K", g.guest_if, "tx", v, "sg", v, "tso", v], check=False)


def read_gso_sizes(ifname: str) -> list:
    r = subprocess.run([PYTHON, LINK_GSO, ifname], capture_output=True, text=True, check=True)
    return [int(x) for x in r.stdout.split()]


def guest_gso_size(t, g, size: int) -> None:
    t.run(g.ns, [PYTHON, LINK_GSO, g.guest_if, str(size)])


def perf_top(t, src, dst, secs, lines=25) -> list:
    """Top symbols (self time) of the benchmark's own threads during one guest->guest run:
    the iperf3s and the softirq work they (or ksoftirqd) do; perf data in a temp dir."""
    with tempfile.TemporaryDirectory(prefix="bo-perf-") as tmp:
        data = os.path.join(tmp, "perf.data")
        rec = subprocess.Popen(["perf", "record", "-a", "-q", "-o", data, "--", "sleep",
                                str(secs)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            iperf(t, src.ns, dst.ns, dst.ipv4, secs)
        finally:
            rec.wait(timeout=secs + 30)
        rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                              "--comms", "iperf3,ksoftirqd/0,ksoftirqd/1", "--sort",
                              "sym", "--percentage", "relative", "--percent-limit", "0.7"],
                             capture_output=True, text=True, timeout=120)
        return [x for x in rep.stdout.splitlines() if x.strip() and not x.startswith("#")][:lines]


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--build-dir", default=os.path.join(HERE, "..", "..", "..", "build"))
    p.add_argument("-t", type=int, default=5, help="seconds per iperf3 run")
    p.add_argument("-r", type=int, default=3, help="repetitions (median shown)")
    p.add_argument("--big-tcp", type=int, default=196608,
                   help="BIG TCP gso/gro max size for the 'big' mode (0: no big mode)")
    p.add_argument("--no-bpf-stats", action="store_true", help="skip the bpf_stats pass")
    p.add_argument("--smoke", action="store_true",
                   help="1 s, 1 rep: check the harness produces every column (a test)")
    p.add_argument("--perf", action="store_true",
                   help="a last pass per mode under perf record -a: where guest->guest spends "
                        "its CPU (iperf3 and softirq threads), top symbols")
    a = p.parse_args()
    if os.geteuid() != 0:
        print("needs root")
        return 2
    if a.smoke:
        a.t, a.r = 1, 1
    if a.big_tcp and read_gso_sizes("lo")[2] == 0:
        print("this kernel has no gso_ipv4_max_size (Linux 6.3+): no BIG TCP mode")
        a.big_tcp = 0
    modes = ["smart"] + (["big"] if a.big_tcp else []) + ["dumb"]
    runs = {}  # (mode, path) -> [result per rep]
    cost = {}  # mode -> vnet_guest_tc's runs and ns per run, bytes per run
    print(f"load average at start: {load()}", flush=True)
    t = Topology(prefix="bo")
    with t:
        br = t.add_bridge()
        b1, b2 = t.add_guest("b1", bridge=br), t.add_guest("b2", bridge=br)
        bw = t.add_wire(name="bw", bridge=br)
        v1, v2 = t.add_guest("v1", subnet=1), t.add_guest("v2", subnet=1)
        vw = t.add_wire(name="vw", subnet=1)
        # The test bed without a switch: its own smart/dumb ratio, the most any switch shows.
        p1, p2 = t.add_direct_pair("p1", "p2", subnet=3)
        for w in (bw, vw):  # the wire NIC: kernel segments and checksums, 1500 bytes
            t.run(None, ["ethtool", "-K", w.host_if, "tx", "off", "tso", "off", "gso", "off"])
        d = VnetDaemon(t, os.path.abspath(a.build_dir), vw.host_if)
        d.start()
        d.assign(v1, 1)
        d.assign(v2, 2)
        ids = {c["interface_name"]: c["id"] for c in
               json.loads(d.ctl(["context", "list", "-o", "json"]).stdout)["contexts"]}
        for src, dst in ((v1, v2.ipv4), (v1, vw.ipv4), (b1, b2.ipv4), (b1, bw.ipv4),
                         (p1, p2.ipv4)):
            t.wait_ping(src.ns, dst, 5)

        def counters(g) -> dict:
            out = json.loads(d.ctl(["stats", str(ids[g.host_if]), "-o", "json"]).stdout)
            c = out["contexts"][0]
            return {k: int(c.get(k, 0)) for k in ("tx_packets", "tx_bytes", "tx_gso_packets")}

        def set_mode(mode: str) -> None:
            for g in (v1, v2):
                offloads = {"smart": "all", "big": f"all,big-tcp={a.big_tcp}", "dumb": "none"}
                d.ctl(["context", "update", str(ids[g.host_if]), "--offloads", offloads[mode]])
                guest_offloads(t, g, mode != "dumb")
                if a.big_tcp:
                    guest_gso_size(t, g, a.big_tcp if mode == "big" else 65536)

        def run(mode, path, src, dst_ns, dst_ip):
            c0 = counters(src) if mode in modes else None
            res = iperf(t, src.ns, dst_ns, dst_ip, a.t)
            if c0 is not None:
                c1 = counters(src)
                pkts = max(c1["tx_packets"] - c0["tx_packets"], 1)
                res["bytes_per_frame"] = (c1["tx_bytes"] - c0["tx_bytes"]) / pkts
            res["load"] = load()
            runs.setdefault((mode, path), []).append(res)
            print(f"  {mode:6s} {path:13s} {res['gbps']:7.2f} Gbit/s "
                  f"{res['ns_per_byte']:7.3f} ns/B retrans {res['retrans']:5d} "
                  f"(D-SACKed {res['dsacked']:5d}) "
                  f"backlog drops {res['backlog_drops']:6d} "
                  f"B/frame {res.get('bytes_per_frame', 0):7.0f}  load {res['load']}", flush=True)

        for rep in range(a.r):
            print(f"rep {rep + 1}/{a.r}", flush=True)
            run("bridge", "guest->guest", b1, b2.ns, b2.ipv4)
            run("bridge", "guest->wire", b1, bw.ns, bw.ipv4)
            for pmode in ("pair-smart", "pair-dumb"):
                for g in (p1, p2):
                    guest_offloads(t, g, pmode == "pair-smart")
                run(pmode, "guest->guest", p1, p2.ns, p2.ipv4)
            for mode in modes:
                set_mode(mode)
                run(mode, "guest->guest", v1, v2.ns, v2.ipv4)
                run(mode, "guest->wire", v1, vw.ns, vw.ipv4)
        if not a.no_bpf_stats:
            with BpfCost(d.pin_dir, vw.host_if) as bc:
                for mode in modes:
                    set_mode(mode)
                    c0, s0 = counters(v1), bc.snapshot()
                    r = iperf(t, v1.ns, v2.ns, v2.ipv4, a.t)
                    c1, per = counters(v1), BpfCost.per_packet(s0, bc.snapshot())
                    g = per.get("vnet_guest_tc", {"runs": 0, "ns": 0.0})
                    sent = c1["tx_bytes"] - c0["tx_bytes"]
                    cost[mode] = {"runs": g["runs"], "ns": g["ns"], "gbps": r["gbps"],
                                  "frames": c1["tx_packets"] - c0["tx_packets"],
                                  "bytes_per_frame": sent / max(c1["tx_packets"] -
                                                                c0["tx_packets"], 1)}
                    print(f"  bpf_stats {mode:6s} vnet_guest_tc {g['runs']:9d} runs "
                          f"{g['ns']:7.0f} ns/run; v1 sent {cost[mode]['frames']} frames, "
                          f"{cost[mode]['bytes_per_frame']:.0f} B/frame; load {load()}",
                          flush=True)
        if a.perf:
            for mode in modes:
                set_mode(mode)
                print(f"\nperf, {mode} guest->guest (load {load()}):", flush=True)
                for line in perf_top(t, v1, v2, a.t):
                    print("  " + line, flush=True)
        d.stop()
    check_clean(t.tag)

    if not runs:
        return 0

    def med(mode, path, key):
        return statistics.median(x.get(key, 0) for x in runs[(mode, path)])

    def ratio_range(m1, m2, path):
        rs = [x["gbps"] / y["gbps"] for x, y in zip(runs[(m1, path)], runs[(m2, path)])]
        return f"{med(m1, path, 'gbps') / med(m2, path, 'gbps'):.2f}x ({min(rs):.2f}-{max(rs):.2f})"

    print(f"\nload average at end: {load()}; {a.r} reps x {a.t} s, medians; ratio (range "
          "of the per-rep ratios)")
    cols = ["vnet smart", "vnet big", "vnet dumb"] if a.big_tcp else ["vnet smart", "vnet dumb"]
    print("| path | " + " | ".join(f"{c} Gbit/s" for c in cols) + " | bridge Gbit/s | smart/dumb"
          + (" | big/dumb | big/smart" if a.big_tcp else "") + " | smart/bridge | CPU ns/B "
          + " | ".join(c.split()[1] for c in cols) + " | bridge | B/frame "
          + " | ".join(c.split()[1] for c in cols) + " | retrans (D-SACKed) " + " | ".join(
              c.split()[1] for c in cols) + " | backlog drops " + " | ".join(
              c.split()[1] for c in cols) + " |")
    ncol = 1 + 3 * len(cols) + 1 + 1 + (2 if a.big_tcp else 0) + 1 + len(cols) + 1 + len(cols)
    print("|---" * ncol + "|")
    for path in ("guest->guest", "guest->wire"):
        row = [path] + [f"{med(m, path, 'gbps'):.2f}" for m in modes]
        row += [f"{med('bridge', path, 'gbps'):.2f}", ratio_range("smart", "dumb", path)]
        if a.big_tcp:
            row += [ratio_range("big", "dumb", path), ratio_range("big", "smart", path)]
        row += [ratio_range("smart", "bridge", path)]
        row += [f"{med(m, path, 'ns_per_byte'):.3f}" for m in modes]
        row += [f"{med('bridge', path, 'ns_per_byte'):.3f}"]
        row += [f"{med(m, path, 'bytes_per_frame'):.0f}" for m in modes]
        row += [f"{med(m, path, 'retrans'):.0f} ({med(m, path, 'dsacked'):.0f})" for m in modes]
        row += [f"{med(m, path, 'backlog_drops'):.0f}" for m in modes]
        print("| " + " | ".join(row) + " |")
    gg = "guest->guest"
    print("\nThe direct veth pair (no switch), guest->guest: the test bed's own smart/dumb")
    print("| pair smart Gbit/s | pair dumb Gbit/s | pair smart/dumb | vnet smart/dumb | "
          "vnet smart / pair smart | vnet dumb / pair dumb | pair retrans (D-SACKed) smart | "
          "dumb |")
    print("|---|---|---|---|---|---|---|---|")
    if runs.get(("pair-smart", gg)) and runs.get(("pair-dumb", gg)):
        retrans = [f"{med(m, gg, 'retrans'):.0f} ({med(m, gg, 'dsacked'):.0f})"
                   for m in ("pair-smart", "pair-dumb")]
        print(f"| {med('pair-smart', gg, 'gbps'):.2f} | {med('pair-dumb', gg, 'gbps'):.2f} | "
              f"{ratio_range('pair-smart', 'pair-dumb', gg)} | {ratio_range('smart', 'dumb', gg)} | "
              f"{ratio_range('smart', 'pair-smart', gg)} | {ratio_range('dumb', 'pair-dumb', gg)} | "
              f"{' | '.join(retrans)} |")
    missing = [f"{m} {p}" for m in modes + ["bridge"] for p in ("guest->guest", "guest->wire")
               if not runs.get((m, p)) or runs[(m, p)][0]["gbps"] <= 0]
    missing += [f"{m} {gg}" for m in ("pair-smart", "pair-dumb")
                if not runs.get((m, gg)) or runs[(m, gg)][0]["gbps"] <= 0]
    missing += [f"bpf_stats {m}" for m in modes if not a.no_bpf_stats and
                cost.get(m, {}).get("runs", 0) <= 0]
    if a.big_tcp and med("big", "guest->guest", "bytes_per_frame") <= 65536:
        missing.append("big mode sent no frames over 64 KiB")
    if a.smoke:
        print("smoke: " + ("every column produced" if not missing else f"missing {missing}"))
    if cost:
        print("\n| mode (guest->guest, bpf_stats on) | Gbit/s | vnet_guest_tc runs | ns/run | "
              "sender B/frame | ns per KB sent |")
        print("|---|---|---|---|---|---|")
        for mode, c in cost.items():
            per_kb = c["ns"] * c["runs"] / max(c["frames"] * c["bytes_per_frame"] / 1024, 1)
            print(f"| {mode} | {c['gbps']:.2f} | {c['runs']} | {c['ns']:.0f} | "
                  f"{c['bytes_per_frame']:.0f} | {per_kb:.1f} |")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
