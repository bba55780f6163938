#!/usr/bin/python3
"""Builds the man pages from their text sources (*.in here) and from what cannot drift:
the binaries' own --help, the DaemonConfig message of the proto, and vif-vnet's header.

    gen_man.py --vnetd BIN --vnetctl BIN --proto DAEMON_PROTO --vif-vnet SCRIPT \
               --version V --out DIR PAGE.in...

A source is roff with these lines replaced:
    @VNETCTL_COMMANDS@   every vnetctl command, recursively, from `vnetctl ... --help`
    @VNETCTL_GLOBAL@     vnetctl's global options
    @VNETD_FLAGS@        every vnetd flag from `vnetd --help`
    @CONFIG_FIELDS@      every DaemonConfig field with its comment (proto)
    @VIF_VNET_HEADER@    the usage comment at the top of xen-hooks/vif-vnet
and @VERSION@ anywhere. Exit 1 with a message when a source cannot be filled.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys


def esc(text: str) -> str:
    """Roff-escape one line of plain text."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def run_help(argv: list[str]) -> str:
    r = subprocess.run(argv + ["--help"], capture_output=True, text=True, timeout=20)
    out = r.stdout or r.stderr
    if not out.strip():
        raise SystemExit(f"gen_man: {' '.join(argv)} --help printed nothing")
    return out


def sections(help_text: str) -> dict[str, list[str]]:
    """'Heading:' blocks of a vnetctl help text, with the lines under each."""
    out: dict[str, list[str]] = {"": []}
    cur = ""
    for line in help_text.splitlines():
        m = re.match(r"^([A-Z][A-Za-z ]+):$", line)
        if m:
            cur = m.group(1)
            out[cur] = []
        else:
            out.setdefault(cur, []).append(line)
    return out


def option_items(lines: list[str]) -> list[str]:
    """'  --flag ARG   text' lines as .TP items."""
    roff = []
    for line in lines:
        m = re.match(r"^\s+(\S.*?)\s{2,}(\S.*)$", line)
        if m:
            roff += [".TP", f".B {esc(m.group(1))}", esc(m.group(2))]
        elif line.startswith(" ") and line.strip():
            roff.append(esc(line.strip()))  # a wrapped description
    return roff


def vnetctl_commands(vnetctl: str, path: list[str]) -> list[str]:
    text = run_help([vnetctl] + path)
    sec = sections(text)
    roff: list[str] = []
    if path:
        usage = next((l for l in sec[""] if l.startswith("Usage:")), "")
        summary = next((l.strip() for l in sec[""][1:] if l.strip()), "")
        if "Commands" not in sec:  # a leaf: its usage, summary and options
            roff += [".SS " + esc(" ".join(path)), ".PP", esc(summary), ".PP",
                     ".B " + esc(usage.replace("Usage:", "").strip())]
            if "Options" in sec:
                roff += option_items(sec["Options"])
            return roff
        roff += [".SS " + esc(" ".join(path)), ".PP", esc(summary)]
    for line in sec.get("Commands", []):
        m = re.match(r"^\s+(\S+)\s{2,}", line)
        if m:
            roff += vnetctl_commands(vnetctl, path + [m.group(1)])
    return roff


def vnetd_flags(vnetd: str) -> list[str]:
    text = run_help([vnetd])
    # absl prints "--name (description); default: value;" wrapped over several lines.
    joined = re.sub(r"\n[ \t]+(?=[^\s-])", " ", text)
    roff = []
    for m in re.finditer(r"^\s+--(\w+) \((.*)\); default: (.*?);$", joined, re.M):
        roff += [".TP", f".B \\-\\-{esc(m.group(1))}", esc(m.group(2))]
    if not roff:
        raise SystemExit("gen_man: no flags found in vnetd --help")
    return roff


def config_fields(proto: str) -> list[str]:
    text = open(proto).read()
    m = re.search(r"message DaemonConfig \{(.*?)\n\}", text, re.S)
    if not m:
        raise SystemExit(f"gen_man: no DaemonConfig in {proto}")
    roff, pending = [], []
    for line in m.group(1).splitlines():
        s = line.strip()
        if s.startswith("//"):
            pending.append(s[2:].strip())
            continue
        f = re.match(r"^(optional\s+)?(\w+)\s+(\w+)\s*=\s*\d+;\s*(//\s*(.*))?$", s)
        if f:
            doc = " ".join(pending + ([f.group(5)] if f.group(5) else []))
            roff += [".TP", f".B {esc(f.group(3))}", f"({esc(f.group(2))}) {esc(doc)}"]
        pending = []
    if not roff:
        raise SystemExit("gen_man: DaemonConfig has no fields")
    return roff


def vif_vnet_header(script: str) -> list[str]:
    roff = [".nf"]
    for line in open(script).read().splitlines()[1:]:
        if not line.startswith("#"):
            break
        roff.append(esc(line[2:] if line.startswith("# ") else line[1:]))
    roff.append(".fi")
    return roff


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--vnetd", required=True)
    p.add_argument("--vnetctl", required=True)
    p.add_argument("--proto", required=True)
    p.add_argument("--vif-vnet", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("sources", nargs="+")
    a = p.parse_args()
    fill = {
        "@VNETCTL_COMMANDS@": lambda: vnetctl_commands(a.vnetctl, []),
        "@VNETCTL_GLOBAL@": lambda: option_items(
            sections(run_help([a.vnetctl]))["Global options"]),
        "@VNETD_FLAGS@": lambda: vnetd_flags(a.vnetd),
        "@CONFIG_FIELDS@": lambda: config_fields(a.proto),
        "@VIF_VNET_HEADER@": lambda: vif_vnet_header(a.vif_vnet),
    }
    os.makedirs(a.out, exist_ok=True)
    for src in a.sources:
        lines = []
        for line in open(src).read().splitlines():
            key = line.strip()
            lines += fill[key]() if key in fill else [line.replace("@VERSION@", a.version)]
        name = os.path.basename(src)[:-len(".in")]
        with open(os.path.join(a.out, name), "w") as f:
            f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
