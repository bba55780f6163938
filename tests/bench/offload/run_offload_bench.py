#!/usr/bin/python3
"""The reference talk's experiment on vnet: guest transmit with a "smart" virtual NIC
(every offload on: TSO, checksum, SG) against a "dumb" one (none), and vnet smart against
the Linux bridge, to another guest and to the wire. One run, side by side; prints a table
of TCP throughput (iperf3) and CPU cost per byte (busy CPU time from /proc/stat over the
run, all CPUs, divided by bytes received) with ratios. A program, not a test: run as root
from a build tree:  tests/bench/offload/run_offload_bench.py --build-dir build [-t 5] [-r 3]

Topology (tests/netns/topology.py, removed at exit): vnet guests v1 -> v2 and v1 -> wire
(uplink with the kernel segmenting/checksumming, like a plain NIC); bridge guests b1 -> b2
and b1 -> wire on a Linux bridge. "dumb" sets the contexts' offloads to none and the guest
ends' tx/sg/tso off (what a frontend without offloads would use).
"""

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "netns"))
from topology import Topology, VnetDaemon, HarnessError, check_clean  # noqa: E402

PORT = 5301


def busy_jiffies() -> int:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4]  # all but idle and iowait


def iperf(t, src_ns, dst_ns, dst_ip, secs) -> tuple:
    """(Gbit/s received, CPU ns per byte) of one bounded iperf3 run."""
    srv = t.popen(dst_ns, ["iperf3", "-s", "-1", "-B", dst_ip, "-p", str(PORT)])
    try:
        time.sleep(0.3)
        j0 = busy_jiffies()
        r = t.run(src_ns, ["iperf3", "-c", dst_ip, "-p", str(PORT), "-t", str(secs), "-J",
                           "--connect-timeout", "3000"], check=False, timeout=secs + 20)
        j1 = busy_jiffies()
        data = json.loads(r.stdout or "{}")
        if "end" not in data:
            raise HarnessError(f"iperf3: {data.get('error', r.stderr.strip())}")
        nbytes = data["end"]["sum_received"]["bytes"]
        cpu_ns = (j1 - j0) * 1e9 / os.sysconf("SC_CLK_TCK")
        return data["end"]["sum_received"]["bits_per_second"] / 1e9, cpu_ns / max(nbytes, 1)
    finally:
        t.stop(srv)


def guest_offloads(t, g, on: bool) -> None:
    v = "on" if on else "off"
    t.run(g.ns, ["ethtool", "-K", g.guest_if, "tx", v, "sg", v, "tso", v], check=False)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--build-dir", default=os.path.join(HERE, "..", "..", "..", "build"))
    p.add_argument("-t", type=int, default=5, help="seconds per iperf3 run")
    p.add_argument("-r", type=int, default=3, help="repetitions (median shown)")
    a = p.parse_args()
    if os.geteuid() != 0:
        print("needs root")
        return 2
    res = {}
    t = Topology(prefix="bo")
    with t:
        br = t.add_bridge()
        b1, b2 = t.add_guest("b1", bridge=br), t.add_guest("b2", bridge=br)
        bw = t.add_wire(name="bw", bridge=br)
        v1, v2 = t.add_guest("v1", subnet=1), t.add_guest("v2", subnet=1)
        vw = t.add_wire(name="vw", subnet=1)
        for w in (bw, vw):  # the wire NIC: kernel segments and checksums, 1500 bytes
            t.run(None, ["ethtool", "-K", w.host_if, "tx", "off", "tso", "off", "gso", "off"])
        d = VnetDaemon(t, os.path.abspath(a.build_dir), vw.host_if)
        d.start()
        d.assign(v1, 1)
        d.assign(v2, 2)
        ids = {c["interface_name"]: c["id"] for c in
               json.loads(d.ctl(["context", "list", "-o", "json"]).stdout)["contexts"]}
        for src, dst in ((v1, v2.ipv4), (v1, vw.ipv4), (b1, b2.ipv4), (b1, bw.ipv4)):
            t.wait_ping(src.ns, dst, 5)

        def run(name, src, dst_ns, dst_ip):
            runs = [iperf(t, src.ns, dst_ns, dst_ip, a.t) for _ in range(a.r)]
            res[name] = (statistics.median(x[0] for x in runs),
                         statistics.median(x[1] for x in runs))
            print(f"  {name:28s} {res[name][0]:7.2f} Gbit/s {res[name][1]:7.3f} ns/B",
                  flush=True)

        run("vnet smart guest->guest", v1, v2.ns, v2.ipv4)
        run("vnet smart guest->wire", v1, vw.ns, vw.ipv4)
        run("bridge guest->guest", b1, b2.ns, b2.ipv4)
        run("bridge guest->wire", b1, bw.ns, bw.ipv4)
        for g in (v1, v2):
            d.ctl(["context", "update", str(ids[g.host_if]), "--offloads", "none"])
            guest_offloads(t, g, False)
        run("vnet dumb guest->guest", v1, v2.ns, v2.ipv4)
        run("vnet dumb guest->wire", v1, vw.ns, vw.ipv4)
        d.stop()
    check_clean(t.tag)

    print("\n| path | vnet smart Gbit/s | vnet dumb Gbit/s | smart/dumb | bridge Gbit/s | "
          "smart/bridge | CPU ns/B smart | dumb | bridge |")
    print("|---|---|---|---|---|---|---|---|---|")
    for path in ("guest->guest", "guest->wire"):
        s, du, b = (res[f"vnet smart {path}"], res[f"vnet dumb {path}"],
                    res[f"bridge {path}"])
        print(f"| {path} | {s[0]:.2f} | {du[0]:.2f} | {s[0] / du[0]:.2f}x | {b[0]:.2f} | "
              f"{s[0] / b[0]:.2f}x | {s[1]:.3f} | {du[1]:.3f} | {b[1]:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
