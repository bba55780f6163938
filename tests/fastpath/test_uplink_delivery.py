#!/usr/bin/python3
"""vnetd --uplink_delivery: the hook that delivers wire-to-guest frames is the one chosen.

For each of tc, xdp and auto, a wire and a guest of their own (GRO on, so its veth takes
XDP redirects) and a vnetd with that setting: the guest answers pings from the wire, and
the kernel's BPF run counts show which program carried them. With tc no XDP program is on
the uplink and the uplink's TC program runs once per echo request; with xdp the uplink's
XDP program runs for them and the TC program does not (the devmap redirect bypasses it);
auto on a veth uplink is tc (measured faster, docs/benchmarks.md). `vnetctl status` and
/metrics (vnet_uplink_delivery) say which is in effect. A value other than auto, xdp or tc
is refused at start, before anything is attached.
"""

import argparse
import os
import subprocess
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "netns"))
sys.path.insert(0, os.path.join(HERE, "..", "bench", "fastpath"))
from topology import Topology, VnetDaemon, check_clean, free_tcp_port  # noqa: E402
from bpf_cost import BpfCost, run_stats  # noqa: E402

PINGS = 50


def fail(message):
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


def has_xdp(ifname):
    return " xdp" in subprocess.run(["ip", "-d", "link", "show", ifname], capture_output=True,
                                    text=True).stdout


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def check_delivery(topo, build_dir, wanted, expect):
    wire = topo.add_wire(f"w{wanted[0]}")
    guest = topo.add_guest(f"g{wanted[0]}", gro=True)
    port = free_tcp_port()
    d = VnetDaemon(topo, build_dir, wire.host_if, pin_dir=f"/sys/fs/bpf/vnet-{topo.tag}-{wanted}",
                   extra_args=[f"--uplink_delivery={wanted}", f"--metrics_address=127.0.0.1:{port}"])
    d.start()
    d.assign(guest, domain=1)
    status = d.fast_path_status() or ""
    if f"delivery {expect}" not in status:
        fail(f"--uplink_delivery={wanted}: status says '{status}', expected delivery {expect}")
    if has_xdp(wire.host_if) != (expect == "xdp"):
        fail(f"--uplink_delivery={wanted}: XDP on the uplink is {has_xdp(wire.host_if)}")
    lines = [ln for ln in metrics(port).splitlines() if ln.startswith("vnet_uplink_delivery{")]
    if not any(f'delivery="{expect}"' in ln and f'interface="{wire.host_if}"' in ln
               and ln.endswith(" 1") for ln in lines):
        fail(f"--uplink_delivery={wanted}: /metrics says {lines}, expected delivery {expect}")
    if not topo.wait_ping(wire.ns, guest.ipv4, deadline=5):
        fail(f"--uplink_delivery={wanted}: the guest does not answer the wire")
    cost = BpfCost(d.pin_dir, wire.host_if)  # its snapshots only; run_stats() turns them on
    with run_stats():
        before = cost.snapshot()
        r = topo.run(wire.ns, ["ping", "-n", "-q", "-c", str(PINGS), "-i", "0.01", "-w", "10",
                               guest.ipv4], check=False, timeout=20)
        runs = {k: v["runs"] for k, v in BpfCost.per_packet(before, cost.snapshot()).items()}
    if r.returncode != 0:
        fail(f"--uplink_delivery={wanted}: pings from the wire lost: {r.stdout.strip()}")
    xdp, tc = runs.get("uplink_xdp", 0), runs.get("vnet_uplink_tc", 0)
    print(f"--uplink_delivery={wanted}: delivery {expect}; {PINGS} echo requests from the "
          f"wire: uplink XDP ran {xdp} times, uplink TC {tc} times")
    if expect == "tc" and (xdp != 0 or tc < PINGS):
        fail(f"TC delivery: expected uplink TC to run >= {PINGS} times and no XDP: {runs}")
    if expect == "xdp" and (xdp < PINGS or tc >= PINGS // 2):
        fail(f"XDP delivery: expected XDP >= {PINGS} runs and TC only for the odd broadcast: "
             f"{runs}")
    d.stop()


def check_refused(topo, build_dir):
    wire = topo.add_wire("wbad")
    vnetd = os.path.join(build_dir, "daemon", "vnetd")
    r = subprocess.run([vnetd, "--fast_path=bpf", f"--uplink={wire.host_if}",
                        "--uplink_delivery=fastest", f"--unix_socket={topo.tmpdir}/bad.sock",
                        f"--state_dir={topo.tmpdir}/bad-state",
                        f"--bpf_pin_dir=/sys/fs/bpf/vnet-{topo.tag}-bad", "--metrics_address=off"],
                       capture_output=True, text=True, timeout=20)
    if r.returncode != 2 or "uplink_delivery: 'fastest' is not auto, xdp or tc" not in r.stderr:
        fail(f"--uplink_delivery=fastest not refused: rc={r.returncode} {r.stderr.strip()}")
    if has_xdp(wire.host_if) or os.path.exists(f"/sys/fs/bpf/vnet-{topo.tag}-bad"):
        fail("a refused --uplink_delivery attached or pinned something")
    print("--uplink_delivery=fastest: refused at start, nothing attached")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True)
    args = parser.parse_args()
    if os.geteuid() != 0:
        fail("needs root (BPF programs, namespaces)")
    with Topology(prefix="vd") as topo:
        check_refused(topo, args.build_dir)
        for wanted, expect in (("tc", "tc"), ("xdp", "xdp"), ("auto", "tc")):
            check_delivery(topo, args.build_dir, wanted, expect)
    check_clean(topo.tag)
    print("PASS")


if __name__ == "__main__":
    main()
