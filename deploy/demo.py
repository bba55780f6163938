#!/usr/bin/python3
"""vnet demo: vnetd on its embedded defaults, a few guests, their contexts and traffic.

Guests are network namespaces behind veth pairs that this script creates and deletes;
a "wire" namespace sits behind the uplink veth. Addresses come from 198.18.0.0/15 and
2001:db8::/32 only. Ctrl-C (or --once) tears it all down: contexts released, daemon
stopped, namespaces and links deleted.
"""

import argparse
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "netns"))
from topology import Topology, check_clean  # noqa: E402

DEFAULT_SOCKET = "/run/vnet/vnetd.sock"


def banner(text):
    print(f"\n=== {text}", flush=True)


class Demo:
    def __init__(self, topo, build_dir):
        self.topo = topo
        self.vnetd = os.path.join(build_dir, "daemon", "vnetd")
        self.vnetctl = os.path.join(build_dir, "cli", "vnetctl")
        self.daemon = None
        self.assigned = []

    def ctl(self, *args, check=True):
        r = subprocess.run([self.vnetctl, *args], capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise SystemExit(f"vnetctl {' '.join(args)} failed: {r.stderr.strip()}")
        return r.stdout

    def start_daemon(self, uplink):
        # Embedded defaults: /run/vnet/vnetd.sock, /var/lib/vnet, /sys/fs/bpf/vnet.
        self.daemon = subprocess.Popen([self.vnetd, f"--uplink={uplink}"])
        self.topo.add_cleanup(self.stop_daemon)
        for _ in range(100):
            if self.daemon.poll() is not None:
                raise SystemExit(f"vnetd exited with {self.daemon.returncode}")
            if subprocess.run([self.vnetctl, "status"], capture_output=True).returncode == 0:
                return
            time.sleep(0.1)
        raise SystemExit("vnetd did not come up")

    def assign(self, guest, domain, vlan):
        self.ctl("context", "assign", "--domain", str(domain), "--device", "0", "--interface",
                 guest.host_if, "--mac", guest.mac, "--ip", guest.ipv4, "--ip", guest.ipv6,
                 "--vlan", str(vlan))
        self.assigned.append(domain)

    def stop_daemon(self):
        for domain in self.assigned:
            self.ctl("context", "release", "--domain", str(domain), "--device", "0",
                     "--allow-missing", check=False)
        self.assigned = []
        if self.daemon and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            self.daemon.wait(timeout=15)
        # A stopped vnetd keeps the fast path forwarding; the demo leaves nothing behind.
        subprocess.run([self.vnetd, "--remove_fast_path"], check=False)


def show_traffic(topo, guests, wire):
    """Ping and a short iperf3 through the fast path: no Linux bridge anywhere."""
    g1, g2, g3 = guests
    banner("ping through vnet (guest to guest, guest to wire; IPv4 and IPv6)")
    for src, dst, what in ((g1, g2.ipv4, "g1 -> g2"), (g1, g2.ipv6, "g1 -> g2"),
                           (g3, wire.ipv4, "g3 -> wire"), (g3, wire.ipv6, "g3 -> wire")):
        ok = topo.wait_ping(src.ns, dst, deadline=5)
        print(f"  {what:11} {dst:24} {'ok' if ok else 'NO ANSWER'}")
    banner("iperf3 g1 -> g2, 3 seconds")
    server = topo.popen(g2.ns, ["iperf3", "-s", "-1", "-B", g2.ipv4])
    time.sleep(0.5)
    r = topo.run(g1.ns, ["iperf3", "-c", g2.ipv4, "-t", "3", "-f", "g"], check=False, timeout=30)
    lines = [line for line in r.stdout.splitlines() if "sender" in line or "receiver" in line]
    print("\n".join(lines) if lines else r.stdout + r.stderr)
    topo.stop(server)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build-dir", default=os.path.join(HERE, "..", "build"))
    parser.add_argument("--once", action="store_true", help="tear down after the show")
    args = parser.parse_args()

    with Topology(prefix="vd") as topo:
        wire = topo.add_wire()
        guests = [topo.add_guest(f"g{i}", subnet=0) for i in (1, 2, 3)]
        demo = Demo(topo, args.build_dir)
        demo.start_daemon(wire.host_if)
        for domain, guest in enumerate(guests, start=1):
            demo.assign(guest, domain, vlan=1)
        banner("vnetctl status")
        print(demo.ctl("status"), end="")
        banner("vnetctl context list")
        print(demo.ctl("context", "list"), end="")
        show_traffic(topo, guests, wire)
        banner("vnetctl stats (per-guest counters, read from the fast path's maps)")
        print(demo.ctl("stats"), end="")
        print("\n/metrics: curl -s http://127.0.0.1:9464/metrics | grep ^vnet_context_rx")
        if not args.once:
            banner("running; Ctrl-C tears everything down")
            try:
                signal.pause()
            except KeyboardInterrupt:
                pass
    check_clean(topo.tag)
    print("\ndemo torn down: no namespace, link, pin or process left")


if __name__ == "__main__":
    main()
