#!/usr/bin/python3
"""client.orchestrator: the Python client (BUILD/python, stubs generated at build time)
and examples/orchestrator.py against a real vnetd with the BPF fast path, guests in
namespaces. Needs root; fails, never skips, without it.

    test_orchestrator.py BUILD_DIR
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "tests", "netns"))

from topology import Topology, VnetDaemon, check_clean  # noqa: E402

EXAMPLE = os.path.join(SRC, "examples", "orchestrator.py")


def check(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)
    print(f"  ok: {what}", flush=True)


def main() -> int:
    build = os.path.abspath(sys.argv[1])
    if os.geteuid() != 0:
        print("FAIL: needs root (BPF fast path, namespaces)")
        return 1
    sys.path.insert(0, os.path.join(build, "python"))
    import grpc  # noqa: E402  (Debian's python3-grpcio)
    from vnet.client import Client  # noqa: E402

    env = dict(os.environ, PYTHONPATH=os.path.join(build, "python"))
    with Topology(prefix="vo") as t:
        tag = t.tag
        wire = t.add_wire()
        g1 = t.add_guest("g1", subnet=0)
        g2 = t.add_guest("g2", subnet=0)
        d = VnetDaemon(t, build, uplink=wire.host_if)
        d.start()
        target = "unix:" + d.socket
        spec = os.path.join(t.tmpdir, "guests.json")

        def orchestrate(guests, *extra):
            with open(spec, "w") as f:
                json.dump({"guests": guests}, f)
            return subprocess.run(["/usr/bin/python3", EXAMPLE, "--target", target, *extra,
                                   spec], capture_output=True, text=True, env=env, timeout=60)

        def guest(g, dom, **kw):
            return {"domain": dom, "device": 0, "interface": g.host_if, "mac": g.mac,
                    "ips": [g.ipv4, g.ipv6], **kw}

        r = orchestrate([guest(g1, 11), guest(g2, 12, mtu=1500)])
        check(r.returncode == 0, f"orchestrator plugs two guests in: {r.stdout}{r.stderr}")
        check(r.stdout.count("plugged") == 2, "two contexts assigned")
        with Client(target) as vnet:
            held = {c.interface_name: c for c in vnet.list()}
            check(set(held) == {g1.host_if, g2.host_if}, "vnetd holds exactly the file's guests")
            check(sorted(held[g1.host_if].ipv4_addresses) == [g1.ipv4], "addresses as given")
        check(t.wait_ping(g1.ns, g2.ipv4, deadline=10), "guest to guest through the fast path")

        # A changed MTU and a guest gone: updated and unplugged, nothing else touched.
        r = orchestrate([guest(g2, 12, mtu=1400)])
        check(r.returncode == 0, f"second reconcile: {r.stdout}{r.stderr}")
        with Client(target) as vnet:
            held = {c.interface_name: c for c in vnet.list()}
            check(set(held) == {g2.host_if}, f"g1 unplugged: {sorted(held)}")
            check(held[g2.host_if].mtu == 1400, "g2's MTU updated to 1400")
            # The client's errors carry vnetd's status and message.
            try:
                vnet.get(999)
                check(False, "get of a missing context raises")
            except grpc.RpcError as e:
                check(e.code() == grpc.StatusCode.NOT_FOUND, f"NOT_FOUND: {e.details()}")

        # Refused input: exit 1 with vnetd's message, and nothing changes.
        r = orchestrate([guest(g2, 12, mtu=1400), {**guest(g1, 11), "mac": "01:00:5e:00:00:01"}])
        check(r.returncode == 1 and "INVALID_ARGUMENT" in r.stderr,
              f"a multicast MAC is refused with vnetd's status: {r.stderr.strip()}")
        with Client(target) as vnet:
            check([c.interface_name for c in vnet.list()] == [g2.host_if],
                  "nothing assigned by the refused file")

        # Rates while traffic flows: a bounded ping from the wire to g2.
        ping = t.popen(wire.ns, ["ping", "-q", "-i", "0.05", "-c", "80", g2.ipv4],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = orchestrate([guest(g2, 12, mtu=1400)], "--watch", "2")
        t.stop(ping)
        rates = [l for l in r.stdout.splitlines() if l.startswith("context ")]
        check(r.returncode == 0 and len(rates) == 2, f"two readings of rates: {r.stdout}")
        rx = [float(l.split("rx ")[1].split(" pkt/s")[0]) for l in rates]
        check(max(rx) > 0, f"g2 receives packets while the wire pings it: {rates}")
    check_clean(tag)
    print("PASS")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print(f"FAIL: {e}")
        sys.exit(1)
