#!/usr/bin/python3
"""Rate limits under real traffic: what one TCP stream gets of a limit, whether a UDP flood
is cut to the limit, whether two limited guests share fairly, and whether a limited
flooding neighbour leaves a victim's TCP stream alone. A program, not a test: it prints a
table and asserts nothing (the criteria are printed beside the numbers). Run as root from
a build tree:

    tests/bench/ratelimit/run_ratelimit_bench.py --build-dir build [-t 5] [-r 3]
    tests/bench/ratelimit/run_ratelimit_bench.py --build-dir build --smoke   # every row, fast

The network is tests/fastpath/fastpath_env.py's (guests a1, a2 and the wire host on VLAN 1,
a real vnetd, limits set through vnetctl) without its VLAN 10/20 wire hosts (RateEnv),
removed at exit. Rows (median of -r runs):

  tcp tx R     one TCP stream a1 -> wire, a1's transmit limit R, default burst
  tcp rx R     one TCP stream wire -> a2, a2's receive limit R, default burst
  udp tx 10x   UDP a1 -> a2 at 10x a1's transmit limit: a2's received frame bytes / limit
  fair udp     a1 and a2, 100 Mbit/s each, UDP at 5x into the same wire host: each / limit,
               and the smaller share / the larger
  fair tcp     the same with one TCP stream each
  victim ...   a2's TCP stream to the wire host while a1 floods at full speed (unicast UDP
               to the wire host or to a2, or broadcast), the stream with / without the
               flood; flooder limited (100 Mbit/s, 1000 broadcasts/s) or not, on vnet and
               on a Linux bridge network built in the same run; flooder and victim pinned to
               a CPU each, or not (victim.py). A second table says where CPU time went.
"""

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "fastpath"))
import fastpath_env as fe  # noqa: E402
from topology import Topology, HarnessError, check_clean  # noqa: E402
from flows import Flow, run_flows  # noqa: E402
from victim import FLOODS, BridgeNet, VictimRows, VnetNet  # noqa: E402

M = 1_000_000
FAIR_LIMIT = 100 * M
VICTIM_LIMIT = 200 * M

class RateEnv(fe.Env):
    """fastpath_env's network without the wire's VLAN 10/20 hosts, which no row uses. On a
    kernel without 802.1Q devices (this one) those need a user-space tagger reading every
    frame of the wire's interface and TSO off on the uplink: costs that are the harness's,
    not vnet's, and would weigh on the victim rows (a Linux bridge network has neither)."""

    def _add_wire_vlans(self, vids) -> None:
        pass


class Bench:
    def __init__(self, env: RateEnv, secs: int, reps: int):
        self.env, self.t, self.secs, self.reps = env, env.t, secs, reps
        self.omit = 1 if secs >= 3 else 0
        self.ids = env.id_of
        self.rows = []  # (name, limit text, measured text, ratio, criterion, met)
        self.missing = []  # rows without a measurement (a harness failure, not a result)

    def ctl(self, guest: str, *args: str) -> None:
        self.env.d.ctl(["context", "update", str(self.ids[guest])] + list(args))

    def unlimit(self) -> None:
        for g in ("a1", "a2"):
            self.ctl(g, "--rate", "0", "--rx-rate", "0", "--storm-broadcast", "0")

    def flows(self, specs, during=None) -> list:
        """run_flows in the vnet network; specs: (client ns, server ns, addr, udp, rate)."""
        return run_flows(self.t, self.secs, self.omit, [Flow(*f) for f in specs], during)

    def median(self, fn) -> list:
        runs = [fn() for _ in range(self.reps)]
        return [statistics.median(r[i] for r in runs) for i in range(len(runs[0]))]

    def add(self, name, limit, measured, ratio, criterion, met, values) -> None:
        """One table row; `values` are the raw measurements, each must be a number > 0."""
        if not all(v > 0 for v in values):
            self.missing.append(name)
        self.rows.append((name, limit, measured, ratio, criterion, "yes" if met else "NO"))
        print(f"  {name:28s} {limit:>10s} {measured:>22s} {ratio:>7.3f}  {criterion}",
              flush=True)

    # ---- rows --------------------------------------------------------------------------
    def tcp_single(self, direction: str, limit: int, burst_ms: int = 0) -> None:
        """burst_ms 0: the default burst; else an explicit burst of that much of the rate."""
        e = self.env
        burst = ["--burst" if direction == "tx" else "--rx-burst",
                 str(limit // 8 * burst_ms // 1000)] if burst_ms else []
        if direction == "tx":
            self.ctl("a1", "--rate", str(limit), *burst)
            spec = (e.a1.ns, e.wire.ns, e.wire.ipv4, False, 0)
        else:
            self.ctl("a2", "--rx-rate", str(limit), *burst)
            spec = (e.wire.ns, e.a2.ns, e.a2.ipv4, False, 0)
        (bps,) = self.median(lambda: self.flows([spec]))
        self.unlimit()
        name = f"tcp {direction} {limit // M}M" + (f" burst {burst_ms} ms" if burst_ms else "")
        self.add(name, f"{limit / M:.0f} Mbit/s",
                 f"{bps / M:.1f} Mbit/s", bps / limit, ">= 0.90", bps >= 0.9 * limit, [bps])

    def udp_flood(self, limit: int) -> None:
        """a2's received frame bytes (vnet's counter: what the bucket let through, whatever
        a2's socket then drops under load) between 1 s into the flood and shortly before
        its end, over that time."""
        e = self.env
        self.ctl("a1", "--rate", str(limit))
        a2 = self.ids["a2"]

        def sample():
            t0 = time.monotonic()
            time.sleep(self.omit + 0.5)
            b1, t1 = e.stats()[a2]["rx_bytes"], time.monotonic()
            time.sleep(max(t0 + self.secs - 0.3 - t1, 0.2))
            b2, t2 = e.stats()[a2]["rx_bytes"], time.monotonic()
            return (b2 - b1) * 8 / (t2 - t1)

        (_, bps) = self.median(lambda: self.flows([(e.a1.ns, e.a2.ns, e.a2.ipv4, True,
                                                      10 * limit)], sample))
        self.unlimit()
        self.add(f"udp tx 10x {limit // M}M", f"{limit / M:.0f} Mbit/s",
                 f"{bps / M:.1f} Mbit/s", bps / limit, "within 0.05 of 1",
                 abs(bps / limit - 1) <= 0.05, [bps])

    def fair(self, udp: bool) -> None:
        e = self.env
        for g in ("a1", "a2"):
            self.ctl(g, "--rate", str(FAIR_LIMIT))
        specs = [(g.ns, e.wire.ns, e.wire.ipv4, udp, 5 * FAIR_LIMIT) for g in (e.a1, e.a2)]
        a, b = self.median(lambda: self.flows(specs))
        self.unlimit()
        kind = "udp 5x" if udp else "tcp"
        ratio = min(a, b) / max(a, b, 1.0)
        self.add(f"fair {kind} (min/max)", f"{FAIR_LIMIT / M:.0f} Mbit/s x2",
                 f"{a / M:.1f} / {b / M:.1f} Mbit/s", ratio, ">= 0.90", ratio >= 0.9, [a, b])


def git_commit() -> str:
    r = subprocess.run(["git", "-C", HERE, "describe", "--always", "--dirty"],
                       capture_output=True, text=True)
    return r.stdout.strip() or "unknown"


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--build-dir", default=os.path.join(HERE, "..", "..", "..", "build"))
    p.add_argument("-t", type=int, default=5, help="seconds per run")
    p.add_argument("-r", type=int, default=3, help="repetitions (median shown)")
    p.add_argument("--smoke", action="store_true",
                   help="2 s, 1 rep: checks that every row is produced, not the numbers")
    p.add_argument("--only", default="", help="comma-separated row groups: tcp,udp,fair,victim "
                   "(victim-pinned and victim-unpinned: half of it each)")
    p.add_argument("--nice", type=int, default=0,
                   help="victim rows: niceness of the flooder's and victim's processes alike")
    p.add_argument("--burst-ms", default="",
                   help="comma-separated explicit bursts (ms of the rate) for extra tcp rows")
    a = p.parse_args()
    if os.geteuid() != 0:
        print("needs root")
        return 2
    if a.smoke:
        a.t, a.r = 2, 1
    groups = set(a.only.split(",")) if a.only else {"tcp", "udp", "fair", "victim"}
    unknown = groups - {"tcp", "udp", "fair", "victim", "victim-pinned", "victim-unpinned"}
    if unknown:
        p.error(f"--only: unknown row group(s) {', '.join(sorted(unknown))}")
    load0 = os.getloadavg()
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    t = Topology(prefix="vrb")
    bench = victims = None
    with t:
        env = RateEnv(t, os.path.abspath(a.build_dir))
        for addr in (env.a2.ipv4, env.wire.ipv4):
            if not t.wait_ping(env.a1.ns, addr, 5):
                raise HarnessError(f"a1 does not reach {addr}")
        bench = Bench(env, a.t, a.r)
        if "tcp" in groups:
            for direction in ("tx", "rx"):
                for limit in (200 * M, 20 * M):
                    bench.tcp_single(direction, limit)
                    for ms in filter(None, a.burst_ms.split(",")):
                        bench.tcp_single(direction, limit, int(ms))
        if "udp" in groups:
            bench.udp_flood(20 * M)
            bench.udp_flood(200 * M)
        if "fair" in groups:
            bench.fair(True)
            bench.fair(False)
        pinned, unpinned = ({"victim", f"victim-{p}"} & groups for p in ("pinned", "unpinned"))
        if pinned or unpinned:
            victims = VictimRows(bench, a.t, a.r, bench.omit, a.nice)
            bridge_t = Topology(prefix="vrk")
            with bridge_t:
                nets = [VnetNet(env), BridgeNet(bridge_t), VnetNet(env, watch=True)]
                for flood in FLOODS if pinned else ():  # vnet limited, vnet only, bridge
                    victims.row(nets[0], flood, True, True)
                    victims.row(nets[0], flood, False, True)
                    victims.row(nets[1], flood, False, True)
                    if flood != "unicast->victim":  # every drop reported to a watcher
                        victims.row(nets[2], flood, True, True)
                for flood in ("unicast->wire", "broadcast") if unpinned else ():
                    for victim_limit in (0, VICTIM_LIMIT):
                        victims.row(nets[0], flood, True, False, victim_limit)
            check_clean(bridge_t.tag)
            if pinned:
                print(f"monitor rows: {nets[2].events} drop events streamed")
        env.d.stop()
    load1 = os.getloadavg()
    print(f"\n{started}, commit {git_commit()}, kernel {platform.release()}, "
          f"{os.cpu_count()} CPUs, load average {load0[0]:.2f} -> {load1[0]:.2f}, "
          f"{a.r} rep(s) x {a.t} s (median)\n")
    print("| row | limit | measured | ratio | criterion | met |")
    print("|---|---|---|---|---|---|")
    for name, limit, measured, ratio, criterion, met in bench.rows:
        print(f"| {name} | {limit} | {measured} | {ratio:.3f} | {criterion} | {met} |")
    if victims:
        victims.print_cpu_table()
    # The table first: the leftovers check lists every route on the host, which can take
    # seconds on a machine shared with other tests, and its failure must not hide results.
    check_clean(t.tag)
    # Criteria unmet are results, printed above; a row without numbers is a broken harness.
    if bench.missing:
        print(f"FAIL: no measurement for {', '.join(bench.missing)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
