#!/usr/bin/python3
"""Self-test of the netns harness (ctest label "netns"; needs root, fails without it).

1. Two guests on a direct veth pair ping each other over IPv4 and IPv6.
2. A wire namespace behind an uplink veth and a guest, both on a bridge of the run, ping
   each other over both families (the uplink's host end stays in the root namespace).
3. A wire cabled straight into a guest pings it over both families.
4. The root namespace gets no address or route for the test ranges from us.
5. Close leaves nothing with the run's tag; so does a child killed with SIGTERM while its
   topology is up.
"""

import os
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import topology  # noqa: E402
from topology import HarnessError, Topology, check_clean, leftovers  # noqa: E402

FAILURES = []


def expect(cond: bool, what: str) -> None:
    print(("ok    " if cond else "FAIL  ") + what, flush=True)
    if not cond:
        FAILURES.append(what)


def child() -> None:
    """Build a topology, say READY, and wait to be killed."""
    with Topology(prefix="vs") as t:
        a, b = t.add_direct_pair("a", "b")
        br = t.add_bridge()
        t.add_guest("g", bridge=br)
        t.add_wire(bridge=br)
        print(f"READY {t.tag}", flush=True)
        time.sleep(60)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child()
        return 0
    if os.geteuid() != 0:
        print("FAIL  the netns harness self-test needs root (network namespaces, veth pairs)")
        return 1

    tag = None
    try:
        with Topology(prefix="vs") as t:
            tag = t.tag
            a, b = t.add_direct_pair("a", "b")
            expect(t.ping(a.ns, b.ipv4), f"direct pair: {a.ipv4} -> {b.ipv4}")
            expect(t.ping(b.ns, a.ipv6), f"direct pair: {b.ipv6} -> {a.ipv6}")

            cap = t.capture(b.ns, b.guest_if)
            frame = (bytes.fromhex(b.mac.replace(":", "")) + bytes.fromhex(a.mac.replace(":", ""))
                     + b"\x88\xb5" + b"vnet-selftest".ljust(46, b"\0"))
            t.send_raw(a.ns, a.guest_if, [frame], repeat=2)
            got = [f for f in cap.stop() if f == frame]
            expect(len(got) == 2, f"send_raw/capture: {len(got)} of 2 crafted frames seen")

            br = t.add_bridge()
            g = t.add_guest("g", bridge=br)
            w = t.add_wire(bridge=br)
            expect(w.host_if is not None and os.path.exists(f"/sys/class/net/{w.host_if}"),
                   f"uplink {w.host_if} in the root namespace")
            expect(t.ping(g.ns, w.ipv4), f"bridge: guest {g.ipv4} -> wire {w.ipv4}")
            expect(t.ping(w.ns, g.ipv6), f"bridge: wire {w.ipv6} -> guest {g.ipv6}")

            dw = t.add_wire("dw", direct_to=a)
            expect(t.ping(dw.ns, dw.peer_ipv4), f"direct wire -> guest {dw.peer_ipv4}")
            expect(t.ping(dw.ns, dw.peer_ipv6), f"direct wire -> guest {dw.peer_ipv6}")

            names = [t.ifname("br"), g.host_if, w.host_if]
            expect(all(len(n) <= 15 for n in names), f"interface names <= 15 chars: {names}")
            mine = [r for r in topology.root_test_routes()
                    if any(f"dev {n}" in r for n in names)]
            expect(not mine, f"no test-range route in the root namespace via our links {mine}")
            addrs = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True,
                                   text=True).stdout
            expect(not any(n in addrs for n in names),
                   "no address on our root-namespace links")
            for bad, what in ((lambda: topology._check_ifname("eth0"), "eth0"),
                              (lambda: topology._check_ifname("ifb0"), "ifb0"),
                              (lambda: t.enslave("eth0", br), "enslaving eth0"),
                              (lambda: topology._check_addr("10.0.0.1"), "10.0.0.1"),
                              (lambda: topology._check_addr("2001:db9::1"), "2001:db9::1")):
                try:
                    bad()
                    expect(False, f"refuses {what}")
                except HarnessError:
                    expect(True, f"refuses {what}")
            expect(bool(leftovers(tag)), "leftovers() sees a live topology")
    except HarnessError as e:
        expect(False, f"harness error: {e}")
    if tag:
        left = leftovers(tag)
        expect(not left, f"nothing left after close: {left}")

    # SIGTERM while a topology is up in another process.
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child"],
                         stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline().strip()
        expect(line.startswith("READY "), f"child built its topology ({line})")
        child_tag = line.split()[1] if line.startswith("READY ") else None
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=30)
        expect(rc != 0, f"child exited on SIGTERM (status {rc})")
        if child_tag:
            left = leftovers(child_tag)
            expect(not left, f"nothing left after SIGTERM: {left}")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()

    print(f"{'FAILED' if FAILURES else 'PASSED'}: {len(FAILURES)} failure(s)")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
