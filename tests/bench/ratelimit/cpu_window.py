"""Where CPU time went over a window, per CPU: user, system, softirq (irq included) and
idle shares from /proc/stat, NET_RX/NET_TX softirqs raised from /proc/softirqs, and the CPU
share of chosen groups of processes (vnetd, the victim's iperf3s). Says on which CPU a
flood's kernel work ran."""

import os
import time
from typing import Dict, List

TICK = os.sysconf("SC_CLK_TCK")


def _cpu_ticks() -> Dict[int, List[int]]:
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            name, *fields = line.split()
            if name.startswith("cpu") and name != "cpu":
                out[int(name[3:])] = [int(x) for x in fields]
    return out


def _softirqs() -> Dict[str, List[int]]:
    with open("/proc/softirqs") as f:
        lines = f.read().splitlines()
    ncpu = len(lines[0].split())
    return {ln.split(":")[0].strip(): [int(x) for x in ln.split(":")[1].split()[:ncpu]]
            for ln in lines[1:] if ":" in ln}


def _pid_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime, stime (the whole thread group)


class CpuWindow:
    def __init__(self, groups: Dict[str, List[int]]):
        """groups: {label: pids}, each label's CPU time summed over its processes."""
        self.groups = groups
        self.t0, self.cpu0, self.si0 = time.monotonic(), _cpu_ticks(), _softirqs()
        self.ticks0 = self._group_ticks()

    def _group_ticks(self) -> Dict[str, int]:
        return {k: sum(_pid_ticks(p) for p in pids) for k, pids in self.groups.items()}

    def stop(self) -> dict:
        """{"cpus": {n: {"usr", "sys", "si", "idle"} in %}, "net_rx"/"net_tx": {n: per s},
        "procs": {label: % of one CPU}}"""
        secs = max(time.monotonic() - self.t0, 1e-3)
        cpu1, si1 = _cpu_ticks(), _softirqs()
        cpus = {}
        for n, now in cpu1.items():
            d = [b - a for a, b in zip(self.cpu0[n], now)]
            total = max(sum(d[:8]), 1)  # user nice system idle iowait irq softirq steal
            cpus[n] = {"usr": 100.0 * (d[0] + d[1]) / total, "sys": 100.0 * d[2] / total,
                       "si": 100.0 * (d[5] + d[6]) / total,
                       "idle": 100.0 * (d[3] + d[4]) / total}
        rates = {k: {n: (si1[k][n] - self.si0[k][n]) / secs for n in range(len(si1[k]))}
                 for k in ("NET_RX", "NET_TX")}
        procs = {k: 100.0 * (t - self.ticks0[k]) / TICK / secs
                 for k, t in self._group_ticks().items()}
        return {"cpus": cpus, "net_rx": rates["NET_RX"], "net_tx": rates["NET_TX"],
                "procs": procs}


def mean(windows: List[dict]) -> dict:
    """The field-by-field mean of several stop() results."""
    first = windows[0]
    n = len(windows)
    return {
        "cpus": {c: {k: sum(w["cpus"][c][k] for w in windows) / n for k in first["cpus"][c]}
                 for c in first["cpus"]},
        "net_rx": {c: sum(w["net_rx"][c] for w in windows) / n for c in first["net_rx"]},
        "net_tx": {c: sum(w["net_tx"][c] for w in windows) / n for c in first["net_tx"]},
        "procs": {k: sum(w["procs"][k] for w in windows) / n for k in first["procs"]},
    }


def describe(w: dict) -> str:
    """One line: per CPU usr/sys/si %, NET_RX per s; then each group's CPU %."""
    parts = [f"cpu{c} {v['usr']:.0f}/{v['sys']:.0f}/{v['si']:.0f} rx {w['net_rx'][c] / 1000:.1f}k"
             for c, v in sorted(w["cpus"].items())]
    return ", ".join(parts) + "".join(f", {k} {p:.0f}%" for k, p in w["procs"].items())
