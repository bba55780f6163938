#!/usr/bin/python3
"""Where vnet_guest_tc's real-traffic time goes: bpf_stats against sampling, at several rates.

One guest-to-guest trafgen flow (64-byte UDP, as run_bench.py's trafgen row) through vnet,
measured three ways in one sitting:

  * received packets per second with kernel.bpf_stats_enabled off and on, alternated
    round by round (what the statistics' own clock reads cost the whole path);
  * bpf_stats run_time_ns / run_cnt at a full rate and at paced rates (trafgen --gap): how
    the per-run cost depends on what the kernel does between packets;
  * the statistics' own cost per run: a program that does nothing (redirect_floor.bpf.c)
    run 1,000,000 times by BPF_PROG_TEST_RUN (bpftool prog run), bpf_stats ns/run against
    the test run's own average, which reads the clock once per batch;
  * a `perf record -a -e cpu-clock` sample of the full-rate flow with bpf_stats off: the
    share of CPU time in the JIT'ed program itself, turned into ns per packet without any
    per-run clock read; plus the top kernel symbols (what else the CPU does per packet).

This machine has no hardware PMU (a VM): cache-miss and instruction counters are not
available, so the sampling is by software clock. Not a test: run by hand as root, under the
shared benchmark lock:

    flock /tmp/vnet-bench.lock /usr/bin/python3 tests/bench/fastpath/cost_probe.py BUILD_DIR
"""

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(HERE, "..", "..", "netns"))
sys.path.insert(0, HERE)
from topology import HarnessError, Topology, VnetDaemon, leftovers  # noqa: E402
from bpf_cost import STATS_SYSCTL, BpfCost  # noqa: E402
from redirect_floor import build_floor  # noqa: E402
from paused_flow import trafgen_command  # noqa: E402
from run_bench import trafgen_conf  # noqa: E402

PROG = "vnet_guest_tc"


def set_stats(on: bool) -> None:
    with open(STATS_SYSCTL, "w") as f:
        f.write("1" if on else "0")


def flow(t: Topology, a, b, window: float, gap: Optional[str] = None,
         around=None) -> Dict[str, float]:
    """trafgen a -> b for `window` seconds after a warm-up; `around(window)` runs in place of
    the plain sleep (a profiler). Returns rx pps and the packets received."""
    warmup, bound = 0.5, int(window + 4)
    cmd = trafgen_command(t, "probe", a.guest_if, trafgen_conf(a.mac, b.mac, a.ipv4, b.ipv4),
                          bound, gap)
    gen = t.popen(a.ns, cmd, stdout=subprocess.DEVNULL)
    try:
        time.sleep(warmup)
        if gen.poll() is not None:
            raise HarnessError(f"trafgen exited early: {gen.stderr.read().strip()[-300:]}")
        rx0 = t.snmp(b.ns)["Ip.InReceives"]
        t0 = time.monotonic()
        if around:
            around(window)
        else:
            time.sleep(window)
        rx1 = t.snmp(b.ns)["Ip.InReceives"]
        dt = time.monotonic() - t0
    finally:
        t.stop(gen, signal.SIGINT)
    return {"pps": (rx1 - rx0) / dt, "packets": rx1 - rx0}


def stats_floor(t: Topology, pin: str, repeat: int = 1_000_000) -> str:
    """What the statistics add to every run: a program that does nothing, run by
    BPF_PROG_TEST_RUN with bpf_stats off and on (the test run's per-run average, its clock
    read once per batch), and bpf_stats' own ns/run of it (the part inside the window)."""
    obj, pkt = os.path.join(t.tmpdir, "floor.o"), os.path.join(t.tmpdir, "pkt.bin")
    build_floor(obj, 1)  # never attached: only run by BPF_PROG_TEST_RUN
    with open(pkt, "wb") as f:
        f.write(bytes(64))
    subprocess.run(["bpftool", "prog", "load", obj, pin, "type", "tc"], check=True)
    avg = {}
    try:
        for on in (False, True):
            set_stats(on)
            before = _stats(pin)
            r = subprocess.run(["bpftool", "prog", "run", "pinned", pin, "data_in", pkt,
                                "repeat", str(repeat)], capture_output=True, text=True,
                               check=True)
            after = _stats(pin)
            m = re.search(r"duration \(average\): (\d+)ns", r.stdout + r.stderr)
            avg[on] = int(m.group(1)) if m else -1
    finally:
        os.unlink(pin)
    runs, ns = after[0] - before[0], after[1] - before[1]
    return (f"statistics' own cost, an empty program x {repeat} (BPF_PROG_TEST_RUN): "
            f"{avg[False]} ns/run with bpf_stats off, {avg[True]} ns/run on (+"
            f"{avg[True] - avg[False]} per run); bpf_stats itself reports "
            f"{ns / max(runs, 1):.1f} ns/run for it")


def _stats(pin: str):
    r = subprocess.run(["bpftool", "-j", "prog", "show", "pinned", pin], capture_output=True,
                       text=True, check=True)
    info = json.loads(r.stdout)
    return int(info.get("run_cnt", 0)), int(info.get("run_time_ns", 0))


def image_size(pin_dir: str) -> str:
    """The guest program's size as loaded: instructions after the verifier, and JIT bytes."""
    r = subprocess.run(["bpftool", "-j", "prog", "show", "pinned",
                        os.path.join(pin_dir, "progs", PROG)], capture_output=True, text=True)
    if r.returncode != 0:
        return f"{PROG} size: unreadable ({r.stderr.strip()[-200:]})"
    info = json.loads(r.stdout)
    xl = int(info.get("bytes_xlated", 0))
    return (f"{PROG} as loaded: xlated {xl} B ({xl // 8} instructions), "
            f"jited {info.get('bytes_jited', 0)} B")


def dump_image(pin_dir: str, out_path: str) -> List[str]:
    """Writes the guest program as loaded (`bpftool prog dump xlated`) to OUT_PATH: what the
    verifier made of it (lookups inlined, trace code removed), for reading the hot path.
    The JIT image is not dumped: this machine's bpftool has no libbfd."""
    pin = os.path.join(pin_dir, "progs", PROG)
    r = subprocess.run(["bpftool", "prog", "dump", "xlated", "pinned", pin], capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise HarnessError(f"bpftool prog dump xlated: {r.stderr.strip()[-200:]}")
    with open(out_path, "w") as f:
        f.write(r.stdout)
    return [f"{PROG} as loaded written to {out_path}"]


def steal_ticks() -> int:
    """The machine's steal time so far (USER_HZ ticks): CPU time the hypervisor took."""
    with open("/proc/stat") as f:
        return int(f.readline().split()[8])


def profile(t: Topology, a, b, window: float, period_ns: int, stats_on: bool,
            cost: BpfCost) -> List[str]:
    """perf cpu-clock samples over the flow: ns/packet in the program (no per-run clock
    read needed), bpf_stats' figure over the same window, top symbols of the sender."""
    data = os.path.join(t.tmpdir, "perf.data")

    def record(w: float) -> None:
        r = subprocess.run(["perf", "record", "-q", "-a", "-e", "cpu-clock", "-c",
                            str(period_ns), "-o", data, "--", "sleep", str(w)],
                           capture_output=True, text=True, timeout=w + 30)
        if r.returncode != 0:
            raise HarnessError(f"perf record: {r.stderr.strip()[-300:]}")

    s0, st0 = cost.snapshot(), steal_ticks()
    res = flow(t, a, b, window, around=record)
    stats = BpfCost.per_packet(s0, cost.snapshot()).get(PROG) if stats_on else None
    steal = (steal_ticks() - st0) / os.sysconf("SC_CLK_TCK")
    rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--sort", "sym",
                          "--comms", "trafgen", "--percent-limit", "0.7", "-q"],
                         capture_output=True, text=True, timeout=120)
    total = subprocess.run(["perf", "report", "-i", data, "--stdio", "--sort", "sym", "-q",
                            "--show-nr-samples"], capture_output=True, text=True, timeout=120)
    n_all = n_prog = n_clock = 0
    for line in total.stdout.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\d+)\s+\[.\]\s+(\S+)", line)
        if not m:
            continue
        n_all += int(m.group(2))
        if PROG in m.group(3):
            n_prog += int(m.group(2))
        if re.search(r"pvclock|sched_clock", m.group(3)):
            n_clock += int(m.group(2))
    out = res  # rx pps and packets of the profiled window
    lines = [f"perf cpu-clock every {period_ns / 1000:g} µs on all CPUs, {window:g} s, "
             f"{out['pps'] / 1000:.0f} kpps received, bpf_stats {'on' if stats_on else 'off'}"
             f", steal {steal:.2f} s of CPU:"]
    if stats:
        lines.append(f"  bpf_stats over the same window: {stats['ns']:.0f} ns/run, "
                     f"{stats['runs']} runs")
    lines += [
             f"  samples {n_all}, in {PROG} {n_prog} "
             f"({100.0 * n_prog / max(n_all, 1):.1f}%): "
             f"{n_prog * period_ns / max(out['packets'], 1):.0f} ns of CPU per packet in the "
             f"program; {n_all * period_ns / max(out['packets'], 1):.0f} ns of CPU per packet "
             f"in all (both CPUs, idle included)",
             f"  clock reads (pvclock/sched_clock): {n_clock} samples, "
             f"{n_clock * period_ns / max(out['packets'], 1):.0f} ns per packet",
             "  the sender's (trafgen's context, softirq included) top symbols, >= 0.7% of all:"]
    lines += ["    " + ln.strip() for ln in rep.stdout.splitlines() if ln.strip()][:12]
    os.unlink(data)
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("build_dir", nargs="?", default="/work/main/build")
    p.add_argument("--window", type=float, default=2.5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--gaps", default="20us,200us", help="paced rates (trafgen --gap)")
    p.add_argument("--period-ns", type=int, default=20000, help="perf sampling period")
    p.add_argument("--dump", metavar="FILE",
                   help="also write the loaded program (bpftool prog dump xlated) to FILE")
    args = p.parse_args()
    if os.geteuid() != 0:
        print("cost_probe.py needs root", file=sys.stderr)
        return 1
    pin_dir = f"/sys/fs/bpf/vnet-costprobe-{os.getpid()}"
    floor_pin = f"/sys/fs/bpf/vnet-costprobe-floor-{os.getpid()}"
    with open(STATS_SYSCTL) as f:
        saved = f.read().strip()
    load0 = os.getloadavg()
    report: List[str] = []
    try:
        with Topology(prefix="vc") as t:
            tag = t.tag
            a = t.add_guest("na", gro=True)
            b = t.add_guest("nb", gro=True)
            w = t.add_wire("nw")
            d = VnetDaemon(t, os.path.abspath(args.build_dir), w.host_if, pin_dir=pin_dir)
            d.start()
            d.assign(a, domain=1)
            d.assign(b, domain=2)
            cost = BpfCost(pin_dir, w.host_if)
            report.append(image_size(pin_dir))
            if args.dump:
                report += dump_image(pin_dir, args.dump)
            pps = {False: [], True: []}
            per_run: Dict[str, List[float]] = {}
            rates: Dict[str, List[float]] = {"full rate": pps[True]}
            for _ in range(args.rounds):
                for on in (False, True):
                    set_stats(on)
                    s0 = cost.snapshot()
                    r = flow(t, a, b, args.window)
                    pps[on].append(r["pps"])
                    if on:
                        c = BpfCost.per_packet(s0, cost.snapshot()).get(PROG)
                        if c:
                            per_run.setdefault("full rate", []).append(c["ns"])
            set_stats(True)
            for gap in [g for g in args.gaps.split(",") if g]:
                for _ in range(args.rounds):
                    s0 = cost.snapshot()
                    r = flow(t, a, b, args.window, gap=gap)
                    c = BpfCost.per_packet(s0, cost.snapshot()).get(PROG)
                    if c:
                        per_run.setdefault(f"gap {gap}", []).append(c["ns"])
                        rates.setdefault(f"gap {gap}", []).append(r["pps"])
            for on in (False, True):
                set_stats(on)
                report += profile(t, a, b, args.window, args.period_ns, on, cost)
            set_stats(True)
            report.append(stats_floor(t, floor_pin))
            d.stop()
    finally:
        with open(STATS_SYSCTL, "w") as f:
            f.write(saved)
    load1 = os.getloadavg()
    off, on = statistics.median(pps[False]), statistics.median(pps[True])
    print(f"guest→guest trafgen 64 B through vnet, kernel {os.uname().release}, "
          f"{args.rounds} rounds, load {load0[0]:.2f} -> {load1[0]:.2f}")
    print(f"received kpps, median: bpf_stats off {off / 1000:.0f}, on {on / 1000:.0f} "
          f"(on/off {on / off:.3f}); each round off/on: "
          + ", ".join(f"{x / 1000:.0f}/{y / 1000:.0f}" for x, y in zip(pps[False], pps[True])))
    for k, v in per_run.items():
        print(f"{PROG} ns/run (bpf_stats) at {k} ({statistics.median(rates[k]) / 1000:.0f} "
              f"kpps): median {statistics.median(v):.0f} ({', '.join(f'{x:.0f}' for x in v)})")
    print("\n".join(report))
    left = leftovers(tag, [pin_dir, floor_pin])
    if left:
        print("left behind: " + ", ".join(left), file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
