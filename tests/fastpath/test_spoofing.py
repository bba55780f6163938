#!/usr/bin/python3
"""fastpath.spoofing: hostile frames from a guest are dropped, counted, and go nowhere.

From inside b1 (VLAN 10), through an AF_PACKET socket, 5 copies each of (a marker in every
frame, so a capture can tell them apart):
    spoof_mac      another guest's (b2's) source MAC
    spoof_ipv4     b2's source IPv4
    spoof_ipv6     b2's source IPv6
    spoof_arp      gratuitous ARP reply claiming b2's IPv4 (sender MAC b1's own)
    spoof_nd       unsolicited neighbour advertisement for b2's IPv6 (from b1's own address)
    dhcp_server    DHCP offer, udp 67 -> 68 (from b1's own addresses)
    router_advert  router advertisement from b1's link-local address
    tagged         802.1Q frame tagged VLAN 20 (VLAN hopping attempt)
Each must be counted in b1's context under its reason (tx direction) in the pinned
vnet_stats map, exactly 5 times, with no other context's drops moving, and never seen by
captures in b2, c1, a1, a2 or on the wire. Controls, same run: a legitimate broadcast from b1
reaches b2 and the wire (the captures do see what vnet forwards), and a DHCP discover
(0.0.0.0:68 -> 255.255.255.255:67) from b2 after its IPv4 address is removed is let out to
the wire and b1, and not counted as a drop.
"""

import json
import os

import fastpath_env as fe
from fastpath_env import check, note

from scapy.all import (ARP, BOOTP, DHCP, Dot1Q, Ether, ICMPv6ND_NA, ICMPv6ND_RA,  # noqa: E402
                       ICMPv6NDOptDstLLAddr, ICMPv6NDOptPrefixInfo, ICMPv6NDOptSrcLLAddr,
                       IP, IPv6, Raw, UDP)

COPIES = 5
BCAST = "ff:ff:ff:ff:ff:ff"
ALL_NODES_MAC = "33:33:00:00:00:01"


def mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def link_local(env: fe.Env, g) -> str:
    r = env.t.run(g.ns, ["ip", "-j", "-6", "addr", "show", "dev", g.guest_if, "scope", "link"])
    for ifc in json.loads(r.stdout):
        for a in ifc.get("addr_info", []):
            if a.get("local", "").startswith("fe80:"):
                return a["local"]
    raise fe.TestFailure(f"{g.name} has no IPv6 link-local address")


def test(env: fe.Env) -> None:
    t = env.t
    b1, b2, c1, a1, a2, w = env.b1, env.b2, env.c1, env.a1, env.a2, env.wire
    env.assert_no_bridge()
    check(t.wait_ping(b1.ns, b2.ipv4, 5) and t.wait_ping(b1.ns, env.wire_addr[10][0], 5),
          "b1 reaches b2 and the wire (VLAN 10) before the attack")
    ll = link_local(env, b1)
    pid = os.getpid()

    def mk(name):
        return Raw(f"VNETSPOOF-{name}-{pid}".encode())

    hostile = {
        "spoof_mac": Ether(src=b2.mac, dst=BCAST) /
        IP(src=b1.ipv4, dst="198.18.10.255") / UDP(sport=40000, dport=40000) / mk("mac"),
        "spoof_ipv4": Ether(src=b1.mac, dst=BCAST) /
        IP(src=b2.ipv4, dst="198.18.10.255") / UDP(sport=40000, dport=40000) / mk("ipv4"),
        "spoof_ipv6": Ether(src=b1.mac, dst=ALL_NODES_MAC) /
        IPv6(src=b2.ipv6, dst="ff02::1") / UDP(sport=40000, dport=40000) / mk("ipv6"),
        "spoof_arp": Ether(src=b1.mac, dst=BCAST) /
        ARP(op=2, hwsrc=b1.mac, psrc=b2.ipv4, hwdst=BCAST, pdst=b2.ipv4) / mk("arp"),
        "spoof_nd": Ether(src=b1.mac, dst=ALL_NODES_MAC) /
        IPv6(src=b1.ipv6, dst="ff02::1", hlim=255) /
        ICMPv6ND_NA(tgt=b2.ipv6, R=0, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr=b1.mac) / mk("nd"),
        "dhcp_server": Ether(src=b1.mac, dst=BCAST) /
        IP(src=b1.ipv4, dst="255.255.255.255") / UDP(sport=67, dport=68) /
        BOOTP(op=2, yiaddr="198.18.10.99", siaddr=b1.ipv4, chaddr=mac_bytes(b2.mac)) /
        DHCP(options=[("message-type", "offer"), ("server_id", b1.ipv4), "end"]) / mk("dhcp"),
        "router_advert": Ether(src=b1.mac, dst=ALL_NODES_MAC) /
        IPv6(src=ll, dst="ff02::1", hlim=255) / ICMPv6ND_RA(routerlifetime=1800) /
        ICMPv6NDOptSrcLLAddr(lladdr=b1.mac) /
        ICMPv6NDOptPrefixInfo(prefix="2001:db8:0:99::", prefixlen=64) / mk("ra"),
        "tagged_from_guest": Ether(src=b1.mac, dst=BCAST) / Dot1Q(vlan=20) /
        IP(src=b1.ipv4, dst="198.18.10.255") / UDP(sport=40000, dport=40000) / mk("tagged"),
    }
    legit = Ether(src=b1.mac, dst=BCAST) / IP(src=b1.ipv4, dst="198.18.10.255") / \
        UDP(sport=40000, dport=40000) / mk("legit")
    markers = {k: bytes(v[Raw].load) for k, v in hostile.items()}
    m_legit = bytes(legit[Raw].load)

    where = {"b2": (b2.ns, b2.guest_if), "c1": (c1.ns, c1.guest_if),
             "a1": (a1.ns, a1.guest_if), "a2": (a2.ns, a2.guest_if),
             "wire": (w.ns, "veth0")}
    caps = {n: t.capture(ns, ifn, max_seconds=30) for n, (ns, ifn) in where.items()}
    before = env.stats()
    t.send_raw(b1.ns, b1.guest_if, [bytes(f) for f in hostile.values()], repeat=COPIES)
    t.send_raw(b1.ns, b1.guest_if, [bytes(legit)], repeat=COPIES)
    frames = {n: c.stop(settle=0.5) for n, c in caps.items()}
    after = env.stats()

    bid = env.id_of["b1"]
    drops = {r: after[bid]["drops"][fe.DIR_TX][i] - before[bid]["drops"][fe.DIR_TX][i]
             for i, r in enumerate(fe.DROP_REASONS)}
    note(f"b1 (ctx {bid}) tx drops moved: { {r: n for r, n in drops.items() if n} }")
    for reason, mark in markers.items():
        check(drops[reason] == COPIES, f"{reason}: b1's ctx counted {drops[reason]} "
                                       f"drops as {reason} (sent {COPIES})")
        leaks = {n: sum(1 for f in fs if mark in f) for n, fs in frames.items()}
        check(not any(leaks.values()), f"{reason}: seen by no capture "
                                       f"(b2, c1, a1, a2, wire): {leaks}")
    other = sum(n for r, n in drops.items() if r not in markers)
    check(other == 0, f"no b1 drop under any other reason (+{other})")
    for g in env.guests:
        if g is b1:
            continue
        gid = env.id_of[g.name]
        moved = sum(after[gid]["drops"][d][i] - before[gid]["drops"][d][i]
                    for d in (0, 1) for i in range(len(fe.DROP_REASONS)))
        check(moved == 0, f"no drop counted against {g.name} (ctx {gid}): +{moved}")
    legit_seen = {n: sum(1 for f in fs if m_legit in f) for n, fs in frames.items()}
    note(f"control broadcast from b1 seen: {legit_seen}")
    check(legit_seen["b2"] == COPIES and legit_seen["wire"] == COPIES,
          "control: b1's legitimate broadcast reached b2 and the wire (captures work)")
    check(legit_seen["c1"] == 0 and legit_seen["a1"] == 0 and legit_seen["a2"] == 0,
          "control: ... and no guest of another VLAN")
    check(t.ping(b1.ns, b2.ipv4) and t.ping(b2.ns, b1.ipv6),
          "b1 and b2 still talk after the attack (no neighbour cache poisoned)")

    # DHCP client before it has an address: b2 loses its IPv4 and sends a DHCP discover.
    t.run(b2.ns, ["ip", "-4", "addr", "flush", "dev", b2.guest_if])
    discover = Ether(src=b2.mac, dst=BCAST) / IP(src="0.0.0.0", dst="255.255.255.255") / \
        UDP(sport=68, dport=67) / BOOTP(op=1, chaddr=mac_bytes(b2.mac), xid=pid & 0xffffffff) / \
        DHCP(options=[("message-type", "discover"), "end"]) / mk("discover")
    m_disc = bytes(discover[Raw].load)
    where = {"b1": (b1.ns, b1.guest_if), "c1": (c1.ns, c1.guest_if),
             "a1": (a1.ns, a1.guest_if), "wire": (w.ns, "veth0"),
             "wire10": (w.ns, w.vlans[10])}
    caps = {n: t.capture(ns, ifn, max_seconds=20) for n, (ns, ifn) in where.items()}
    before = env.stats()
    t.send_raw(b2.ns, b2.guest_if, [bytes(discover)], repeat=COPIES)
    frames = {n: c.stop(settle=0.5) for n, c in caps.items()}
    after = env.stats()
    seen = {n: sum(1 for f in fs if m_disc in f) for n, fs in frames.items()}
    note(f"DHCP discover from b2 (no IPv4) seen: {seen}")
    b2id = env.id_of["b2"]
    moved = sum(after[b2id]["drops"][fe.DIR_TX]) - sum(before[b2id]["drops"][fe.DIR_TX])
    check(seen["wire"] == COPIES and seen["wire10"] == COPIES,
          "DHCP client discover from an address-less guest reached the wire tagged VLAN 10")
    check(seen["b1"] == COPIES, "... and the other guest of its VLAN")
    check(seen["c1"] == 0 and seen["a1"] == 0, "... and no guest of another VLAN")
    check(moved == 0, f"... and no drop was counted against b2 (+{moved})")


if __name__ == "__main__":
    fe.main("spoofing", test, prefix="fs")
