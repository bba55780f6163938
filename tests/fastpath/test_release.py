#!/usr/bin/python3
"""fastpath.release: releasing a context stops its traffic and removes its traces; the other
contexts keep working.

b2 (VLAN 10) is released. Afterwards: b1 <-> b2 and b2 -> wire fail (both families); vnet's
guest program is gone from b2's interface (tcx link or cls_bpf filter) while an operator's
filter put there before (classic BPF, prio 9) and one on the uplink stay; b2's MAC is out of
vnet_fdb, its interface out of vnet_if_ctx, and it is no longer a member of VLAN 10 (a
broadcast from b1 no longer reaches it); b1 <-> wire (VLAN 10) and a1 <-> a2 (VLAN 1) still
answer every ping, counted by the fast path.
"""

import os

import fastpath_env as fe
from fastpath_env import check, note

from scapy.all import Ether, IP, UDP, Raw  # noqa: E402


def key_bytes(entry) -> bytes:
    k = entry["key"]
    return bytes(int(x, 16) for x in k) if isinstance(k, list) else b""


def test(env: fe.Env) -> None:
    t = env.t
    a1, a2, b1, b2, w = env.a1, env.a2, env.b1, env.b2, env.wire
    wire10 = env.wire_addr[10]
    env.assert_no_bridge()
    for addr in (b2.ipv4, b2.ipv6):
        check(t.wait_ping(b1.ns, addr, 5), f"before: b1 reaches b2 {addr}")
    check(t.wait_ping(b2.ns, wire10[0], 5), "before: b2 reaches the wire (VLAN 10)")
    check("vnet_guest_tc" in env.vnet_tc_programs(b2.host_if),
          "before: guest program on b2's port")
    # An operator's filters (never matching) on b2's port and on the uplink.
    for port in (b2.host_if, w.host_if):
        t.run(None, ["tc", "qdisc", "add", "dev", port, "clsact"], check=False)  # may exist
        t.run(None, ["tc", "filter", "add", "dev", port, "ingress", "prio", "9", "handle", "9",
                     "bpf", "bytecode", "1,6 0 0 0,"])
    b2mac = bytes.fromhex(b2.mac.replace(":", ""))
    b2ifindex = t.ifindex(b2.host_if)
    fdb = env.bpftool(["map", "dump", "pinned", env.map_path("vnet_fdb")]) or []
    check(any(b2mac in key_bytes(e) for e in fdb), "before: b2's MAC is in vnet_fdb")
    check(b2ifindex in env.interface_contexts(), "before: b2's interface is in vnet_if_ctx")

    env.d.release(env.domain_of["b2"], 0)
    ids = [c["interface_name"] for c in env.contexts()]
    check(b2.host_if not in ids and len(ids) == 4, f"context list no longer has b2 ({ids})")

    # Traces gone.
    check(env.vnet_tc_programs(b2.host_if) == [], "no vnet program left on b2's port ingress")
    for port in (b2.host_if, w.host_if):
        filters = env.tc_filters(port)
        check("handle 0x9" in filters, f"the operator's filter on {port} stays ({filters!r})")
    fdb = env.bpftool(["map", "dump", "pinned", env.map_path("vnet_fdb")]) or []
    check(not any(b2mac in key_bytes(e) for e in fdb), "b2's MAC is out of vnet_fdb")
    check(b2ifindex not in env.interface_contexts(), "b2's interface is out of vnet_if_ctx")
    note(f"fast path: {env.d.fast_path_status()}")

    # Traffic stops.
    for src, addr, what in ((b1, b2.ipv4, "b1 -> b2"), (b1, b2.ipv6, "b1 -> b2"),
                            (b2, b1.ipv4, "b2 -> b1"), (b2, b1.ipv6, "b2 -> b1"),
                            (b2, wire10[0], "b2 -> wire"), (b2, wire10[1], "b2 -> wire")):
        tx, rx = env.ping_stats(src.ns, addr, 5, interval=0.1, deadline=1)
        check(tx > 0 and rx == 0, f"after release: {what} {addr}: {rx}/{tx} answered")
    mark = f"VNETREL-{os.getpid()}".encode()
    bc = Ether(src=b1.mac, dst="ff:ff:ff:ff:ff:ff") / IP(src=b1.ipv4, dst="198.18.10.255") / \
        UDP(sport=40001, dport=40001) / Raw(mark)
    caps = {"b2": t.capture(b2.ns, b2.guest_if, max_seconds=10),
            "wire10": t.capture(w.ns, w.vlans[10], max_seconds=10)}
    t.send_raw(b1.ns, b1.guest_if, [bytes(bc)], repeat=5)
    seen = {n: sum(1 for f in c.stop(settle=0.4) if mark in f) for n, c in caps.items()}
    check(seen["b2"] == 0, f"b1's broadcast no longer reaches b2 ({seen['b2']})")
    check(seen["wire10"] == 5, f"... while it still reaches the wire's VLAN 10 ({seen['wire10']})")

    # The others keep working, through vnet.
    for src, addr, what in ((b1, wire10[0], "b1 -> wire"), (b1, wire10[1], "b1 -> wire"),
                            (a1, a2.ipv4, "a1 -> a2"), (a1, a2.ipv6, "a1 -> a2"),
                            (a2, w.ipv4, "a2 -> wire")):
        t.wait_ping(src.ns, addr, 3)
        before = env.stats()
        tx, rx = env.ping_stats(src.ns, addr, 20, interval=0.01)
        after = env.stats()
        sid = env.id_of[src.name]
        moved = after[sid]["tx_packets"] - before[sid]["tx_packets"]
        check(tx == 20 and rx == 20 and moved >= 20,
              f"after release: {what} {addr}: {rx}/{tx} answered, ctx {sid} tx +{moved}")


if __name__ == "__main__":
    fe.main("release", test, prefix="fr")
