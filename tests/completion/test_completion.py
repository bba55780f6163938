#!/usr/bin/python3
"""completion.bash: deploy/bash-completion/vnetctl in a real bash against a real vnetd
(--fast_path=none: contexts are bookkeeping, no root needed for this part).

    test_completion.py BUILD_DIR SOURCE_DIR
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import time


def check(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)
    print(f"  ok: {what}", flush=True)


def main() -> int:
    build, src = sys.argv[1], sys.argv[2]
    vnetd = os.path.join(build, "daemon", "vnetd")
    vnetctl = os.path.join(build, "cli", "vnetctl")
    script = os.path.join(src, "deploy", "bash-completion", "vnetctl")
    with tempfile.TemporaryDirectory(prefix="vnet-compl-") as d:
        sock = os.path.join(d, "vnetd.sock")
        log = open(os.path.join(d, "vnetd.log"), "w")
        p = subprocess.Popen([vnetd, "--fast_path=none", f"--unix_socket={sock}",
                              f"--state_dir={d}/state", "--metrics_address=off",
                              "--xenstore=off"], stdout=log, stderr=subprocess.STDOUT)
        try:
            end = time.monotonic() + 15
            while not os.path.exists(sock) and time.monotonic() < end:
                time.sleep(0.05)
            check(os.path.exists(sock), "vnetd listens")
            for n, name in ((3, "vifc3.0"), (4, "vifc4.0")):
                subprocess.run([vnetctl, "--socket", sock, "context", "assign", "--domain",
                                str(n), "--device", "0", "--interface", name, "--mac",
                                f"02:00:00:00:00:0{n}"], check=True, capture_output=True)

            def complete(*words: str) -> list:
                """COMPREPLY for the command line `vnetctl WORDS...` (last word: the cursor)."""
                line = " ".join(shlex.quote(w) for w in (vnetctl,) + words)
                prog = (f"source {shlex.quote(script)}\n"
                        f"COMP_WORDS=({line})\nCOMP_CWORD={len(words)}\n"
                        "_vnetctl\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
                r = subprocess.run(["bash", "--norc", "--noprofile", "-c", prog],
                                   capture_output=True, text=True, timeout=20)
                if r.returncode != 0:
                    raise AssertionError(f"bash failed: {r.stderr}")
                return [w for w in r.stdout.splitlines() if w]

            top = complete("")
            check({"context", "region", "status", "stats", "top", "uplink"} <= set(top),
                  f"top-level commands: {top}")
            check(complete("con") == ["context"], "a prefix completes to its command")
            check(set(complete("context", "")) == {"assign", "release", "get", "list",
                                                   "update"}, "context's subcommands")
            opts = complete("context", "assign", "--i")
            check(set(opts) == {"--interface", "--ip"}, f"assign's options: {opts}")
            check(complete("-o", "j") == ["json"], "-o values")
            ids = complete("--socket", sock, "context", "get", "")
            check(sorted(ids) == ["1", "2"], f"context ids from the running daemon: {ids}")
            names = complete("--socket", sock, "context", "update", "--interface", "vifc")
            check(sorted(names) == ["vifc3.0", "vifc4.0"], f"interfaces from the daemon: {names}")
            check(set(complete("--socket", sock, "stats", "")) == {"1", "2"},
                  "stats completes context ids")
            offl = complete("context", "assign", "--offloads", "rx-t")
            check(set(offl) == {"rx-tso4", "rx-tso6"}, f"offload names: {offl}")
            reasons = complete("monitor", "--reason", "spoof_")
            check(set(reasons) == {"spoof_mac", "spoof_ipv4", "spoof_ipv6", "spoof_arp",
                                   "spoof_nd"}, f"monitor's drop reasons: {reasons}")
            ctxs = complete("--socket", sock, "monitor", "--context", "")
            check(set(ctxs) == {"1", "2", "vifc3.0", "vifc4.0"},
                  f"monitor --context: ids and interfaces from the daemon: {ctxs}")
            check(set(complete("monitor", "--c")) == {"--context", "--count"},
                  "monitor's options")
            t0 = time.monotonic()
            dead = complete("--socket", os.path.join(d, "none.sock"), "context", "get", "")
            check(dead == [] and time.monotonic() - t0 < 5,
                  "no daemon: nothing offered, quickly")
        finally:
            p.terminate()
            p.wait(timeout=10)
    print("PASS")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print(f"FAIL: {e}")
        sys.exit(1)
