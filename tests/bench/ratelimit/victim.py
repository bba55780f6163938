"""Victim rows of the rate-limit bench: a2's TCP stream to the wire host alone and while a1
floods at full speed, on vnet (flooder limited, or not: a flood vnet only forwards) and on
a plain Linux bridge network built in the same run. Two placements: "pinned" puts the
flooder's processes (its sender and the flood's receiver) on one CPU and the victim's iperf3
client and server on the other, the same for "alone" and "with flood", so the ratio
measures the network's isolation rather than a share of CPU; "unpinned" leaves both to the
scheduler. Each run also records where CPU time went (cpu_window.py): on which CPU the
flood's softirq work ran, and what vnetd spent."""

import os
import time
from typing import List, Optional

from cpu_window import CpuWindow, describe, mean
from flows import Flow, on_cpu, run_flows
from topology import SYSTEM_PYTHON

M = 1_000_000
FLOOD_RATE = 100 * M  # the flooder's transmit limit when limited
STORM_PPS = 1000  # and its broadcast storm limit
FLOODER_CPU, VICTIM_CPU = 0, 1
FLOODS = ("unicast->wire", "unicast->victim", "broadcast")

# Broadcast frames from `ifname` as fast as one process sends them, for `seconds` at most;
# prints how many were sent.
BCAST_FLOOD = r"""
import socket, struct, sys, time
ifname, mac, ip, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
udp = struct.pack("!HHHH", 40000, 9, 8 + 18, 0) + b"x" * 18
iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                  socket.inet_aton(ip), b"\xff" * 4)
frame = b"\xff" * 6 + bytes.fromhex(mac.replace(":", "")) + b"\x08\x00" + iph + udp
n, end = 0, time.monotonic() + seconds
while time.monotonic() < end:
    for _ in range(256):
        try:
            s.send(frame)
            n += 1
        except OSError:
            pass
print(n)
"""


def victim_pids(net) -> List[int]:
    """The victim flow's iperf3 client (in the victim's namespace) and server (the wire's):
    the processes there with port 5301 on their command line."""
    out = []
    for ns in (net.victim.ns, net.wire.ns):
        r = net.t.run(None, ["ip", "netns", "pids", ns], check=False)
        for pid in r.stdout.split():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if argv[0].endswith(b"iperf3") and b"5301" in argv:
                out.append(int(pid))
    return out


class VnetNet:
    """fastpath_env's network: flooder a1, victim a2, the wire host; limits via vnetctl.
    watch: a `vnetctl monitor` runs through each row, so the programs emit drop events for
    the flood's drops (the monitor path on every drop) and vnetd streams them."""

    def __init__(self, env, watch: bool = False):
        self.env, self.t, self.watch = env, env.t, watch
        self.name = "vnet, monitor on" if watch else "vnet"
        self.flooder, self.victim, self.wire = env.a1, env.a2, env.wire
        self.pids = [env.d.proc.pid]
        self.monitor = None
        self.events = 0  # drop events the monitor printed, over every row

    def begin(self) -> None:
        if self.watch:
            self.out = open(os.path.join(self.t.tmpdir, "monitor.json"), "w+")
            self.monitor = self.t.popen(None, [self.env.d.vnetctl, "--socket",
                                               self.env.d.socket, "monitor", "-o", "json"],
                                        stdout=self.out)
            time.sleep(0.5)  # subscribed

    def end(self) -> None:
        if self.monitor:
            self.t.stop(self.monitor)
            self.monitor = None
            self.out.seek(0)
            self.events += sum(1 for line in self.out if line.strip())
            self.out.close()

    def _ctl(self, guest, *args: str) -> None:
        self.env.d.ctl(["context", "update", str(self.env.id_of[guest.name])] + list(args))

    def limit(self, flood_limited: bool, victim_limit: int) -> None:
        on = flood_limited
        self._ctl(self.flooder, "--rate", str(FLOOD_RATE if on else 0),
                  "--storm-broadcast", str(STORM_PPS if on else 0))
        self._ctl(self.victim, "--rate", str(victim_limit))


class BridgeNet:
    """The same three hosts as ports of a Linux bridge in the root namespace (like Xen's
    xenbr0): no vnet, no limits. Built in its own Topology t (removed with it)."""
    name = "bridge"

    def __init__(self, t):
        self.t = t
        br = t.add_bridge()
        self.wire = t.add_wire(bridge=br)
        self.flooder = t.add_guest("a1", bridge=br)
        self.victim = t.add_guest("a2", bridge=br)
        self.pids: List[int] = []
        for src, dst in ((self.flooder, self.wire), (self.victim, self.wire),
                         (self.flooder, self.victim)):
            if not t.wait_ping(src.ns, dst.ipv4, 5):
                raise RuntimeError(f"bridge network: {src.name} does not reach {dst.name}")

    def limit(self, flood_limited: bool, victim_limit: int) -> None:
        if flood_limited or victim_limit:
            raise ValueError("the bridge network has no limits")

    def begin(self) -> None:
        pass

    def end(self) -> None:
        pass


class VictimRows:
    def __init__(self, bench, secs: int, reps: int, omit: int, nice: int = 0):
        """nice: the niceness of the flooder's and the victim's processes alike (a negative
        one keeps other work on a shared machine from deciding the victim's share)."""
        self.bench, self.secs, self.reps, self.omit, self.nice = bench, secs, reps, omit, nice
        # (row, load, phase, where the CPU time went, flood rate, victim bits per its CPU
        # with / without the flood)
        self.cpu_rows = []

    def _window(self, net):
        """A CpuWindow over the flows' steady part (after -O, before the end): vnetd's CPU
        and the victim's iperf3 client and server's (flow 0, port 5301)."""
        def during():
            t0 = time.monotonic()
            time.sleep(self.omit + 0.5)
            w = CpuWindow({"vnetd": net.pids, "victim": victim_pids(net)})
            time.sleep(max(t0 + self.secs - 0.3 - time.monotonic(), 0.2))
            return w.stop()
        return during

    def _flood_once(self, net, flood: str, victim: Flow, cpu: Optional[int]):
        """(victim bit/s, flood text, cpu window) of one run with the flood."""
        if flood == "broadcast":
            f = net.flooder
            gen = net.t.popen(f.ns, on_cpu(cpu, [SYSTEM_PYTHON, "-c", BCAST_FLOOD, f.guest_if,
                                                  f.mac, f.ipv4, str(self.secs + 1)], self.nice))
            try:
                bps, w = run_flows(net.t, self.secs, self.omit, [victim],
                                   self._window(net))
            finally:
                out, _ = gen.communicate(timeout=self.secs + 20)
            sent = int(out.strip() or 0) / (self.secs + 1)
            return bps, sent, f"{sent / 1000:.0f}k frames/s sent", w
        target = net.wire if flood == "unicast->wire" else net.victim
        spec = Flow(net.flooder.ns, target.ns, target.ipv4, True, 0, cpu, self.nice)
        bps, fbps, w = run_flows(net.t, self.secs, self.omit, [victim, spec],
                                 self._window(net))
        return bps, fbps, f"{fbps / M:.0f} Mbit/s received", w

    def row(self, net, flood: str, flood_limited: bool, pinned: bool,
            victim_limit: int = 0) -> None:
        fcpu, vcpu = (FLOODER_CPU, VICTIM_CPU) if pinned else (None, None)
        load = os.getloadavg()[0]
        net.limit(flood_limited, victim_limit)
        net.begin()
        victim = Flow(net.victim.ns, net.wire.ns, net.wire.ipv4, cpu=vcpu, nice=self.nice)
        alone, flooded, w_alone, w_flood, rates, texts = [], [], [], [], [], []
        try:
            for _ in range(self.reps):  # alone and with the flood in turn: same drift
                bps, w = run_flows(net.t, self.secs, self.omit, [victim],
                                   self._window(net))
                alone.append(bps)
                w_alone.append(w)
                bps, rate, text, w = self._flood_once(net, flood, victim, fcpu)
                flooded.append(bps)
                rates.append(rate)
                texts.append(text)
                w_flood.append(w)
        finally:
            net.end()
            net.limit(False, 0)
        # The upper median (the higher middle run when reps is even).
        a, f = sorted(alone)[len(alone) // 2], sorted(flooded)[len(flooded) // 2]
        ratio = f / max(a, 1.0)
        what = "unlimited" if not victim_limit else f"{victim_limit // M}M"
        name = f"victim {what}, {'pinned' if pinned else 'unpinned'}, {net.name}, {flood}"
        limit = f"{FLOOD_RATE // M}M + {STORM_PPS}/s" if flood_limited else "none"
        self.bench.add(name, limit, f"{f / M:.0f} / {a / M:.0f} Mbit/s", ratio, ">= 0.90",
                       ratio >= 0.9, [f, a] + ([min(rates)] if rates else []))
        mid = sorted(range(len(rates)), key=lambda i: rates[i])[len(rates) // 2]
        m_alone, m_flood = mean(w_alone), mean(w_flood)
        # Bits per CPU-second of the victim's own processes, with / without the flood: what
        # the flood changed in the victim's cost, whatever CPU share other work left it.
        per_cpu = [sum(b) / max(sum(w["procs"]["victim"] for w in ws), 1e-3)
                   for b, ws in ((flooded, w_flood), (alone, w_alone))]
        self.cpu_rows.append((name, load, "alone", describe(m_alone), "", ""))
        self.cpu_rows.append((name, load, "flood", describe(m_flood), texts[mid],
                              f"{per_cpu[0] / max(per_cpu[1], 1e-9):.2f}"))

    def print_cpu_table(self) -> None:
        print("\nWhere CPU time went (mean over runs, steady part): per CPU user/system/softirq "
              "%, NET_RX softirqs per s; vnetd's and the victim's iperf3s' CPU %"
              + (f"; flooder and victim at nice {self.nice}" if self.nice else ""))
        print("| row | load | phase | CPUs | flood | victim bits/CPU flood/alone |")
        print("|---|---|---|---|---|---|")
        for name, load, phase, cpus, flood, per_cpu in self.cpu_rows:
            print(f"| {name} | {load:.2f} | {phase} | {cpus} | {flood} | {per_cpu} |")
