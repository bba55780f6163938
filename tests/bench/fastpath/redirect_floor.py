"""Builds redirect_floor.bpf.c (a TC program that only calls bpf_redirect_peer) for a target
interface: the bare hop that ping_path.py and cost_probe.py compare vnet against."""

import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def build_floor(out: str, target_ifindex: int) -> str:
    """Compiles the program for `target_ifindex` into the object file `out`; returns it."""
    subprocess.run(["clang", "-target", "bpf", "-O2", "-Wall", "-Werror",
                    "-I/usr/include/x86_64-linux-gnu", f"-DVNET_FLOOR_TARGET={target_ifindex}",
                    "-c", os.path.join(HERE, "redirect_floor.bpf.c"), "-o", out], check=True)
    return out
