#!/usr/bin/python3
"""man.pages: the built man pages are well-formed roff and cannot drift from their sources.

    test_man.py BUILD_DIR SOURCE_DIR

- groff renders each page with every warning on and prints none;
- regenerating them from the built binaries gives the same text (the build is current);
- every vnetctl command (walked through `--help`) and every option of each has its entry,
  every vnetd flag is in vnetd(8), every DaemonConfig field in vnetd.conf(5);
- the .gz files the package installs are the same pages.
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
import tempfile


def fail(msg: str) -> None:
    raise AssertionError(msg)


def helptext(argv):
    r = subprocess.run(argv + ["--help"], capture_output=True, text=True, timeout=20)
    return r.stdout or r.stderr


def commands(vnetctl, path=()):
    """Every command path of vnetctl, with its own options."""
    text = helptext([vnetctl, *path])
    block = re.search(r"^Commands:\n((?:  .*\n)+)", text, re.M)
    opts = re.findall(r"^  (--[a-z][a-z-]*)", text.split("Global options:")[0], re.M)
    out = [(path, opts)] if path else []
    for name in re.findall(r"^  ([a-z][a-z-]*)  ", block.group(1), re.M) if block else []:
        out += commands(vnetctl, (*path, name))
    return out


def main() -> int:
    build, src = sys.argv[1], sys.argv[2]
    man = os.path.join(build, "man")
    pages = ["vnetd.8", "vnetctl.8", "vif-vnet.8", "vnetd.conf.5"]
    text = {}
    for p in pages:
        path = os.path.join(man, p)
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", path], capture_output=True,
                           text=True, timeout=30)
        if r.returncode != 0 or r.stderr.strip():
            fail(f"groff warns about {p}: {r.stderr.strip()[:500]}")
        rendered = subprocess.run(["groff", "-man", "-Tascii", "-P", "-cbou", path],
                                  capture_output=True, text=True, timeout=30).stdout
        text[p] = re.sub(r"\s+", " ", rendered)
        with gzip.open(path + ".gz", "rt") as f, open(path) as g:
            if f.read() != g.read():
                fail(f"{p}.gz is not {p}")
        print(f"  ok: {p} renders without warnings ({len(rendered)} chars)")

    vnetd = os.path.join(build, "daemon", "vnetd")
    vnetctl = os.path.join(build, "cli", "vnetctl")
    with tempfile.TemporaryDirectory() as out:
        sources = [os.path.join(src, "docs", "man", p + ".in") for p in pages]
        subprocess.run(["/usr/bin/python3", os.path.join(src, "docs", "man", "gen_man.py"),
                        "--vnetd", vnetd, "--vnetctl", vnetctl,
                        "--proto", os.path.join(src, "proto", "vnet", "v1", "daemon.proto"),
                        "--vif-vnet", os.path.join(src, "xen-hooks", "vif-vnet"),
                        "--version", "x", "--out", out, *sources], check=True, timeout=60)
        for p in pages:
            fresh = open(os.path.join(out, p)).read().replace('"vnet x"', "")
            built = re.sub(r'"vnet [^"]*"', "", open(os.path.join(man, p)).read())
            if fresh != built:
                fail(f"{p} is stale: regenerate (build the vnet_man target)")
    print("  ok: the pages match the current binaries, proto and script")

    cmds = commands(vnetctl)
    if len(cmds) < 10:
        fail(f"too few vnetctl commands found: {cmds}")
    for path, opts in cmds:
        if " ".join(path) not in text["vnetctl.8"]:
            fail(f"vnetctl.8 lacks the command '{' '.join(path)}'")
        for o in opts:
            if o not in text["vnetctl.8"]:
                fail(f"vnetctl.8 lacks {o} of '{' '.join(path)}'")
    print(f"  ok: vnetctl.8 covers {len(cmds)} commands and their options")

    flags = re.findall(r"^\s+--(\w+) \(", helptext([vnetd]), re.M)
    for f in flags:
        if f"--{f}" not in text["vnetd.8"]:
            fail(f"vnetd.8 lacks --{f}")
    print(f"  ok: vnetd.8 covers {len(flags)} flags")

    proto = open(os.path.join(src, "proto", "vnet", "v1", "daemon.proto")).read()
    body = re.search(r"message DaemonConfig \{(.*?)\n\}", proto, re.S).group(1)
    fields = re.findall(r"^\s*(?:optional\s+)?\w+\s+(\w+)\s*=\s*\d+;", body, re.M)
    for f in fields:
        if not re.search(rf"\b{f}\b", text["vnetd.conf.5"]):
            fail(f"vnetd.conf.5 lacks the field {f}")
    print(f"  ok: vnetd.conf.5 covers {len(fields)} fields")
    if "online|offline" not in text["vif-vnet.8"]:
        fail("vif-vnet.8 lacks the script's usage")
    print("PASS")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print(f"FAIL: {e}")
        sys.exit(1)
