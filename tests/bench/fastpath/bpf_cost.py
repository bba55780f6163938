"""Nanoseconds per packet of each vnet program, from the kernel's own BPF run statistics.

With the BPF statistics on (run_stats() below holds them on for a block) the kernel adds
every run of a program to its run_cnt and run_time_ns (bpftool prog show). The difference
of two snapshots around a measurement, divided, is what the program cost per packet on
that path. The statistics cost a clock read per run themselves, so the benchmark takes
them in a pass of their own, after the throughput repetitions that fill the table.

The figure includes the statistics' own clock: two sched_clock() reads per run. On a VM
whose sched_clock is kvm's pvclock that is not small: on the test machine they add 97 ns
to every run of an empty program, of which bpf_stats reports 52 ns/run as the program's,
and bpf_stats said 283-402 ns/run where sampling said 74-100 ns/packet in the guest program
over the same window (docs/benchmarks.md, "Real-traffic cost and ping"). Compare these
figures with each other, not with hot-loop or sampled ones; cost_probe.py measures both.

The XDP program runs inside libxdp's dispatcher as an extension, whose runs the kernel
accounts to the dispatcher: the uplink XDP figure is read from the program attached to the
uplink, dispatcher included.
"""

import contextlib
import ctypes
import json
import os
import platform
import subprocess
from typing import Dict, Iterator, Optional, Tuple

STATS_SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"
TC_PROGRAMS = ("vnet_guest_tc", "vnet_uplink_tc")
NR_BPF = {"x86_64": 321, "aarch64": 280}
BPF_ENABLE_STATS, BPF_STATS_RUN_TIME = 32, 0


@contextlib.contextmanager
def run_stats() -> Iterator[None]:
    """Run counts and times on for the block, held by a file descriptor (BPF_ENABLE_STATS).
    Unlike writing the kernel.bpf_stats_enabled sysctl and restoring it, nothing is left on
    when two runs overlap (each restoring what the other set) or one is killed: the kernel
    counts holders and turns the statistics off when the last descriptor closes."""
    libc = ctypes.CDLL(None, use_errno=True)
    attr = ctypes.create_string_buffer(16)  # union bpf_attr.enable_stats: __u32 type
    ctypes.c_uint32.from_buffer(attr).value = BPF_STATS_RUN_TIME
    fd = libc.syscall(NR_BPF[platform.machine()], BPF_ENABLE_STATS, attr, len(attr))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "BPF_ENABLE_STATS: " + os.strerror(ctypes.get_errno()))
    try:
        yield
    finally:
        os.close(fd)


def _prog_stats(args) -> Optional[Tuple[int, int]]:
    """(run_cnt, run_time_ns) of one program, None when it cannot be read."""
    r = subprocess.run(["bpftool", "-j", "prog", "show"] + args, capture_output=True, text=True)
    if r.returncode != 0:
        return None
    info = json.loads(r.stdout)
    return int(info.get("run_cnt", 0)), int(info.get("run_time_ns", 0))


def _xdp_prog_id(ifname: str) -> Optional[int]:
    r = subprocess.run(["ip", "-j", "-d", "link", "show", "dev", ifname], capture_output=True,
                       text=True)
    if r.returncode != 0:
        return None
    links = json.loads(r.stdout)
    xdp = links[0].get("xdp", {}) if links else {}
    prog = xdp.get("prog") or {}
    if "id" in prog:
        return int(prog["id"])
    for att in xdp.get("attached", []):
        if "prog" in att:
            return int(att["prog"]["id"])
    return None


class BpfCost:
    """Snapshots of vnet's programs (pinned under pin_dir/progs) and the uplink's XDP program."""

    def __init__(self, pin_dir: str, uplink: str):
        self.pin_dir, self.uplink = pin_dir, uplink
        self._stats = None

    def __enter__(self) -> "BpfCost":
        # A fresh holder per entry: one BpfCost may measure several blocks.
        self._stats = run_stats()
        self._stats.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._stats.__exit__(*exc)
        self._stats = None

    def snapshot(self) -> Dict[str, Tuple[int, int]]:
        snap = {}
        for name in TC_PROGRAMS:
            path = os.path.join(self.pin_dir, "progs", name)
            s = _prog_stats(["pinned", path]) if os.path.exists(path) else None
            if s:
                snap[name] = s
        xdp = _xdp_prog_id(self.uplink)
        if xdp is not None:
            s = _prog_stats(["id", str(xdp)])
            if s:
                snap["uplink_xdp"] = s
        return snap

    @staticmethod
    def per_packet(before: Dict[str, Tuple[int, int]],
                   after: Dict[str, Tuple[int, int]]) -> Dict[str, Dict[str, float]]:
        """Per program that ran in between: runs and ns per run."""
        out = {}
        for name, (cnt1, ns1) in after.items():
            cnt0, ns0 = before.get(name, (0, 0))
            runs = cnt1 - cnt0
            if runs > 0:
                out[name] = {"runs": runs, "ns": (ns1 - ns0) / runs}
        return out
