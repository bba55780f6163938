#!/usr/bin/python3
"""fastpath.vlan_isolation: a guest only reaches its own VLAN.

b1, b2 are in VLAN 10 and c1 in VLAN 20, all three in the same IP subnet (198.18.10.0/24):
only vnet's VLAN separation stands between them. Checks:
  * b1 cannot ping c1 (IPv4, IPv6) and c1 cannot ping b1, while b1 <-> b2 works;
  * a broadcast ARP from b1 reaches b2 and the wire's VLAN 10, never c1, the VLAN 1 guests
    or the wire's VLAN 20; one from c1 reaches the wire's VLAN 20 only (control: c1 is
    attached and forwarding);
  * from the wire: a VLAN 20 broadcast reaches c1 only, an untagged one a1/a2 only, and a
    frame tagged VLAN 10 for c1's MAC never reaches c1 (dropped as unknown unicast).
"""

import os

import fastpath_env as fe
from fastpath_env import check, note

from scapy.all import ARP, Ether, Dot1Q, Raw  # noqa: E402


def marker(tag: str) -> bytes:
    return f"VNETISO-{tag}-{os.getpid()}".encode()


def seen(frames, mark: bytes) -> int:
    return sum(1 for f in frames if mark in f)


def test(env: fe.Env) -> None:
    t = env.t
    b1, b2, c1, a1, a2 = env.b1, env.b2, env.c1, env.a1, env.a2
    w = env.wire
    env.assert_no_bridge()

    # Reachability within and across VLANs (same subnet).
    check(t.wait_ping(b1.ns, b2.ipv4, 5), "control: b1 -> b2 IPv4 (VLAN 10) answers")
    check(t.wait_ping(b1.ns, b2.ipv6, 5), "control: b1 -> b2 IPv6 (VLAN 10) answers")
    caps = {g.name: t.capture(g.ns, g.guest_if, max_seconds=30) for g in (b1, b2, c1)}
    for src, dst in ((b1, c1), (c1, b1), (b2, c1)):
        for addr in (dst.ipv4, dst.ipv6):
            tx, rx = env.ping_stats(src.ns, addr, 3, interval=0.1, deadline=1)
            check(tx > 0 and rx == 0, f"{src.name} -> {dst.name} {addr}: {rx}/{tx} answered "
                                      f"(other VLAN: none may be)")
    frames = {n: c.stop() for n, c in caps.items()}
    from_b = [f for f in frames["c1"] if f[6:12] in (bytes.fromhex(b1.mac.replace(":", "")),
                                                     bytes.fromhex(b2.mac.replace(":", "")))]
    from_c = [f for f in frames["b1"] + frames["b2"]
              if f[6:12] == bytes.fromhex(c1.mac.replace(":", ""))]
    check(not from_b, f"c1 received no frame from b1/b2 (got {len(from_b)})")
    check(not from_c, f"b1/b2 received no frame from c1 (got {len(from_c)})")
    check(len(frames["b2"]) > 0, f"control: b2 saw b1's ARP/ND while b1 tried c1 "
                                 f"({len(frames['b2'])} frames)")

    # Crafted broadcast ARP from b1 (VLAN 10) and from c1 (VLAN 20), with a marker trailer.
    m_b, m_c = marker("b1"), marker("c1")
    arp_b = bytes(Ether(src=b1.mac, dst="ff:ff:ff:ff:ff:ff") /
                  ARP(op=1, hwsrc=b1.mac, psrc=b1.ipv4, pdst=c1.ipv4) / Raw(m_b))
    arp_c = bytes(Ether(src=c1.mac, dst="ff:ff:ff:ff:ff:ff") /
                  ARP(op=1, hwsrc=c1.mac, psrc=c1.ipv4, pdst=b1.ipv4) / Raw(m_c))
    where = {"a1": (a1.ns, a1.guest_if), "a2": (a2.ns, a2.guest_if),
             "b2": (b2.ns, b2.guest_if), "c1": (c1.ns, c1.guest_if),
             "b1": (b1.ns, b1.guest_if),
             "wire10": (w.ns, w.vlans[10]), "wire20": (w.ns, w.vlans[20])}
    caps = {n: t.capture(ns, ifn, max_seconds=20) for n, (ns, ifn) in where.items()}
    before = env.stats()
    t.send_raw(b1.ns, b1.guest_if, [arp_b], repeat=5)
    t.send_raw(c1.ns, c1.guest_if, [arp_c], repeat=5)
    frames = {n: c.stop(settle=0.4) for n, c in caps.items()}
    after = env.stats()
    counts = {n: (seen(f, m_b), seen(f, m_c)) for n, f in frames.items()}
    note(f"broadcast ARP seen (from b1, from c1) per capture: {counts}")
    check(counts["b2"][0] == 5, "b1's broadcast ARP reached b2 (same VLAN) 5/5")
    check(counts["wire10"][0] == 5, "b1's broadcast ARP reached the wire's VLAN 10 5/5")
    check(counts["wire20"][1] == 5, "control: c1's broadcast ARP reached the wire's VLAN 20 5/5")
    for n in ("c1", "a1", "a2", "wire20"):
        check(counts[n][0] == 0, f"b1's broadcast ARP never seen in {n}")
    for n in ("b1", "b2", "a1", "a2", "wire10"):
        check(counts[n][1] == 0, f"c1's broadcast ARP never seen in {n}")
    bid, cid = env.id_of["b1"], env.id_of["c1"]
    check(after[bid]["tx_packets"] - before[bid]["tx_packets"] >= 5,
          "b1's frames were counted by the fast path")
    check(after[cid]["tx_packets"] - before[cid]["tx_packets"] >= 5,
          "c1's frames were counted by the fast path")

    # From the wire: tagged VLAN 20 broadcast, untagged broadcast, VLAN 10 unicast to c1.
    m_w20, m_w1, m_wu = marker("w20"), marker("w1"), marker("wu")
    bc20 = bytes(Ether(src=w.mac, dst="ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=20) /
                 ARP(op=1, hwsrc=w.mac, psrc="198.18.10.1", pdst=c1.ipv4) / Raw(m_w20))
    bc1 = bytes(Ether(src=w.mac, dst="ff:ff:ff:ff:ff:ff") /
                ARP(op=1, hwsrc=w.mac, psrc=w.ipv4, pdst=a1.ipv4) / Raw(m_w1))
    uc10_to_c1 = bytes(Ether(src=w.mac, dst=c1.mac) / Dot1Q(vlan=10) /
                       ARP(op=1, hwsrc=w.mac, psrc="198.18.10.1", pdst=c1.ipv4) / Raw(m_wu))
    gcaps = {g.name: t.capture(g.ns, g.guest_if, max_seconds=20) for g in env.guests}
    before = env.stats()
    t.send_raw(w.ns, "veth0", [bc20, bc1, uc10_to_c1], repeat=5)
    frames = {n: c.stop(settle=0.4) for n, c in gcaps.items()}
    after = env.stats()
    counts = {n: (seen(f, m_w20), seen(f, m_w1), seen(f, m_wu)) for n, f in frames.items()}
    note(f"wire frames seen (VLAN 20 bcast, untagged bcast, VLAN 10 ucast to c1): {counts}")
    check(counts["c1"][0] == 5, "wire VLAN 20 broadcast reached c1 5/5")
    check(all(counts[n][0] == 0 for n in ("a1", "a2", "b1", "b2")),
          "wire VLAN 20 broadcast reached no guest of VLAN 1 or 10")
    check(counts["a1"][1] == 5 and counts["a2"][1] == 5,
          "wire untagged broadcast reached a1 and a2 (VLAN 1) 5/5")
    check(all(counts[n][1] == 0 for n in ("b1", "b2", "c1")),
          "wire untagged broadcast reached no guest of VLAN 10 or 20")
    check(all(c[2] == 0 for c in counts.values()),
          "wire frame tagged VLAN 10 for c1's MAC reached no guest")
    uu = fe.DROP_REASONS.index("unknown_unicast")
    d_uu = after[0]["drops"][fe.DIR_RX][uu] - before[0]["drops"][fe.DIR_RX][uu]
    check(d_uu >= 5, f"... and was dropped as unknown_unicast (slot 0, rx): +{d_uu}")


if __name__ == "__main__":
    fe.main("vlan_isolation", test, prefix="fi")
