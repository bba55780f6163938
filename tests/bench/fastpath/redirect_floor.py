"""Builds redirect_floor.bpf.c (a TC program that only calls bpf_redirect_peer) for a target
interface, attaches it, and reads what it costs: the bare hop that run_bench.py,
ping_path.py, cost_probe.py and cost_diff.py compare vnet against.

It attaches the way vnetd does by default: a tcx link where the kernel has tcx (6.6+), else
a cls_bpf filter. A cls_bpf dispatch costs more per packet than a tcx one, so a floor
attached otherwise than vnet would be no like-for-like floor."""

import ctypes
import errno
import json
import os
import subprocess
from typing import Dict, List, Tuple

from bpf_cost import _prog_stats  # one reader of bpftool's run statistics for both

HERE = os.path.dirname(os.path.abspath(__file__))


def build_floor(out: str, target_ifindex: int) -> str:
    """Compiles the program for `target_ifindex` into the object file `out`; returns it."""
    subprocess.run(["clang", "-target", "bpf", "-O2", "-Wall", "-Werror",
                    "-I/usr/include/x86_64-linux-gnu", f"-DVNET_FLOOR_TARGET={target_ifindex}",
                    "-c", os.path.join(HERE, "redirect_floor.bpf.c"), "-o", out], check=True)
    return out


# What iproute2's `tc ... bpf obj` creates in bpffs for an object's pinned maps (the floor
# program has none): empty, and removed again when this run created them. /sys/fs/bpf/xdp
# itself stays: libxdp may be using it.
_IPROUTE_BPFFS = ["/sys/fs/bpf/ip", "/sys/fs/bpf/tc/globals", "/sys/fs/bpf/tc",
                  "/sys/fs/bpf/xdp/globals"]


def _remove_iproute_bpffs(existed: List[str]) -> None:
    for path in _IPROUTE_BPFFS:
        if path in existed:
            continue
        try:
            if os.path.islink(path):
                os.unlink(path)
            else:
                os.rmdir(path)
        except OSError:
            pass  # absent, or not empty: not this run's to remove


_BPF_TCX_INGRESS = 46  # enum bpf_attach_type; Debian 12's headers predate it


def _attach_tcx(t, obj: str, ingress_if: str) -> int:
    """The program in a tcx link on ingress_if, held by an fd of this process (closed by the
    topology's cleanup; the link goes with the process at the latest, so nothing outlives
    the run). Returns the program's id; raises OSError where the kernel has no tcx."""
    libbpf = ctypes.CDLL("libbpf.so.1", use_errno=True)
    pin = f"/sys/fs/bpf/{t.tag}-floor-{ingress_if}"
    subprocess.run(["bpftool", "prog", "load", obj, pin, "type", "tc"], check=True,
                   capture_output=True)
    try:
        info = json.loads(subprocess.run(["bpftool", "-j", "prog", "show", "pinned", pin],
                                         capture_output=True, text=True, check=True).stdout)
        prog_fd = libbpf.bpf_obj_get(pin.encode())
        if prog_fd < 0:
            raise OSError(-prog_fd, f"bpf_obj_get {pin}")
    finally:
        os.unlink(pin)
    try:
        link = libbpf.bpf_link_create(prog_fd, t.ifindex(ingress_if), _BPF_TCX_INGRESS, None)
    finally:
        os.close(prog_fd)
    if link < 0:
        raise OSError(-link, f"tcx attach on {ingress_if}: {os.strerror(-link)}")
    t.add_cleanup(lambda: os.close(link))
    return int(info["id"])


def attach_floor(t, ingress_if: str, target_if: str, how: str = "auto") -> int:
    """redirect_floor.bpf.c on ingress_if's TC ingress, sending every frame to the peer of
    target_if (a veth); returns the program's id. how: tcx, cls_bpf or auto (tcx where the
    kernel has it, as vnetd). t is a topology.Topology: both links are its own, and the
    clsact qdisc goes with ingress_if when the topology deletes it."""
    obj = build_floor(os.path.join(t.tmpdir, f"floor-{ingress_if}.o"), t.ifindex(target_if))
    if how != "cls_bpf":
        try:
            return _attach_tcx(t, obj, ingress_if)
        except OSError as e:
            # Only a kernel without tcx (an attach type it does not know) falls back: any
            # other failure would silently make the floor unlike vnet's attachment.
            if how == "tcx" or e.errno != errno.EINVAL:
                raise
    t.run(None, ["tc", "qdisc", "add", "dev", ingress_if, "clsact"])
    existed = [p for p in _IPROUTE_BPFFS if os.path.lexists(p)]
    try:
        t.run(None, ["tc", "filter", "add", "dev", ingress_if, "ingress", "bpf",
                     "direct-action", "obj", obj, "sec", "tc"])
    finally:
        _remove_iproute_bpffs(existed)
    shown = json.loads(t.run(None, ["tc", "-j", "filter", "show", "dev", ingress_if,
                                    "ingress"]).stdout)
    ids = [f["options"]["prog"]["id"] for f in shown if "prog" in f.get("options", {})]
    if len(ids) != 1:
        raise RuntimeError(f"{ingress_if}: expected one BPF filter on ingress, found {ids}")
    return int(ids[0])


class FloorStats:
    """Snapshots of the floor's programs for bpf_cost.BpfCost.per_packet, summed per group
    (e.g. "floor_guest_tc": the programs on the guests' host-side veths). The caller turns
    the kernel's BPF statistics on (BpfCost as a context manager)."""

    def __init__(self, groups: Dict[str, List[int]]):
        self.groups = groups

    def snapshot(self) -> Dict[str, Tuple[int, int]]:
        snap = {}
        for name, ids in self.groups.items():
            stats = [s for s in (_prog_stats(["id", str(i)]) for i in ids) if s]
            if stats:
                snap[name] = (sum(c for c, _ in stats), sum(ns for _, ns in stats))
        return snap
