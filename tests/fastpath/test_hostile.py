#!/usr/bin/python3
"""fastpath.hostile: the guards hold against a hostile guest and a hostile wire.

Phase 1, from inside b1 (VLAN 10), COPIES of each (a marker in every frame):
    ra_behind_chain     RA behind hop-by-hop, destination options and routing headers
    ra_atomic_fragment  RA inside an atomic fragment (RFC 6980 / 7113)
    redirect_fragment   ICMPv6 redirect inside a first fragment behind destination options
    na_atomic_fragment  NA for b1's own address inside an atomic fragment
    dhcp6_behind_chain  DHCPv6 advertise 547 -> 546 behind a destination-options header
    dhcp4_to_client     UDP to port 68 from an ordinary port (a server by destination)
    dhcp6_to_client     UDP to port 546 from an ordinary port
    na_fourth_option    NA for b1's own address whose fourth option is a target link-layer
                        address of b2's MAC
    chain_too_long      UDP behind nine destination-options headers
Each is counted in b1's context under its reason (tx), exactly, and seen by no capture (b2,
c1, a1, a2, the wire). Control: an ICMPv6 echo behind hop-by-hop + destination options from
b1 reaches b2.

Phase 1b, from a1 through trafgen's TX ring (only the Ethernet header linear, the rest in a
page fragment): an NA whose 13th option names a2's MAC is dropped as spoof_nd and seen
nowhere; the same NA with a1's MAC is forwarded to a2 (not dropped as malformed).

Phase 2, from the wire (tagged VLAN 10 and untagged, native VLAN 1):
    lldp / stp / lldp_native   IEEE 802.1D reserved group addresses
    impostor_unicast           b2's MAC as source, to b1
    loop_to_owner              b1's MAC as source, to b1
    impostor_broadcast         b1's MAC as source, ARP broadcast
Reserved groups are counted unattributed (context slot 0, rx) as reserved_group; the others
as local_source_mac against the guest whose MAC was used (rx). No guest capture sees any.
Control: a broadcast from the wire in VLAN 10 reaches b1 and b2.

Phase 3, link-local addresses through vnetctl: `context update --link-local` gives b1 a
stable-privacy link-local; UDP from it reaches b2, UDP from b1's EUI-64 link-local is now
dropped as spoof_ipv6; `--link-local default` restores the EUI-64 one.
"""

import os

import fastpath_env as fe
from fastpath_env import check, note

from scapy.all import (ARP, Dot1Q, Ether, ICMPv6EchoRequest, ICMPv6ND_NA,  # noqa: E402
                       ICMPv6ND_RA, ICMPv6ND_Redirect, ICMPv6NDOptDstLLAddr, ICMPv6NDOptMTU,
                       ICMPv6NDOptSrcLLAddr, ICMPv6NDOptUnknown, IP, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
                       IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, Raw, UDP)
from scapy.layers.dhcp6 import DHCP6_Advertise  # noqa: E402

COPIES = 4
BCAST = "ff:ff:ff:ff:ff:ff"
ALL_NODES_MAC = "33:33:00:00:00:01"


def eui64_link_local(mac: str) -> str:
    b = bytes.fromhex(mac.replace(":", ""))
    iid = bytes([b[0] ^ 2, b[1], b[2], 0xff, 0xfe, b[3], b[4], b[5]])
    return "fe80::" + ":".join(iid[i:i + 2].hex() for i in range(0, 8, 2))


PAGED_COUNT = 20


def trafgen_frames(env: fe.Env, g, frame: bytes, n: int) -> None:
    """Sends `frame` n times from g through trafgen's TX ring (headers in a page fragment).
    Bounded by --num and a timeout."""
    conf = os.path.join(env.t.tmpdir, f"hostile-{g.name}.cfg")
    with open(conf, "w") as f:
        f.write("{ " + ", ".join(f"0x{b:02x}" for b in frame) + " }\n")
    env.t.run(g.ns, ["timeout", "-s", "INT", "-k", "2", "20", "trafgen", "--dev", "veth0",
                     "--conf", conf, "--num", str(n), "--no-sock-mem", "--notouch-irq",
                     "--no-cpu-stats"], timeout=30)


def count(frames, mark: bytes) -> int:
    return sum(1 for f in frames if mark in f)


def run_phase(env: fe.Env, sender_ns: str, sender_if: str, frames: dict, where: dict,
              extra=None):
    """Sends COPIES of every frame (and of `extra`), returns (captured frames per port,
    counters before, counters after)."""
    t = env.t
    caps = {n: t.capture(ns, ifn, max_seconds=30) for n, (ns, ifn) in where.items()}
    before = env.stats()
    t.send_raw(sender_ns, sender_if, [bytes(f) for f in frames.values()], repeat=COPIES)
    if extra is not None:
        t.send_raw(sender_ns, sender_if, [bytes(extra)], repeat=COPIES)
    got = {n: c.stop(settle=0.5) for n, c in caps.items()}
    return got, before, env.stats()


def drops(before, after, ctx: int, direction: int) -> dict:
    b = before.get(ctx, {"drops": [[0] * len(fe.DROP_REASONS)] * 2})
    a = after.get(ctx, {"drops": [[0] * len(fe.DROP_REASONS)] * 2})
    return {r: a["drops"][direction][i] - b["drops"][direction][i]
            for i, r in enumerate(fe.DROP_REASONS)}


def test(env: fe.Env) -> None:
    t = env.t
    b1, b2, c1, a1, a2, w = env.b1, env.b2, env.c1, env.a1, env.a2, env.wire
    env.assert_no_bridge()
    check(t.wait_ping(b1.ns, b2.ipv4, 5) and t.wait_ping(b1.ns, env.wire_addr[10][0], 5),
          "b1 reaches b2 and the wire (VLAN 10) before the attack")
    pid = os.getpid()
    ll1 = eui64_link_local(b1.mac)

    def mk(name):
        return Raw(f"VNETHOSTILE-{name}-{pid}".encode())

    def v6(dst_mac, src, dst):
        return Ether(src=b1.mac, dst=dst_mac) / IPv6(src=src, dst=dst, hlim=255)

    many = IPv6ExtHdrDestOpt()
    for _ in range(8):
        many = many / IPv6ExtHdrDestOpt()
    # name -> (frame, reason it must be counted as)
    guest = {
        "ra_behind_chain": (v6(ALL_NODES_MAC, ll1, "ff02::1") / IPv6ExtHdrHopByHop() /
                            IPv6ExtHdrDestOpt() / IPv6ExtHdrRouting() /
                            ICMPv6ND_RA(routerlifetime=1800) /
                            ICMPv6NDOptSrcLLAddr(lladdr=b1.mac) / mk("ra1"), "router_advert"),
        "ra_atomic_fragment": (v6(ALL_NODES_MAC, ll1, "ff02::1") /
                               IPv6ExtHdrFragment(offset=0, m=0, id=pid) /
                               ICMPv6ND_RA(routerlifetime=1800) / mk("ra2"), "router_advert"),
        "redirect_fragment": (v6(b2.mac, ll1, b2.ipv6) / IPv6ExtHdrDestOpt() /
                              IPv6ExtHdrFragment(offset=0, m=1, id=pid + 1) /
                              ICMPv6ND_Redirect(tgt=ll1, dst="2001:db8:99::1") / mk("redir"),
                              "router_advert"),
        "na_atomic_fragment": (v6(ALL_NODES_MAC, b1.ipv6, "ff02::1") /
                               IPv6ExtHdrFragment(offset=0, m=0, id=pid + 2) /
                               ICMPv6ND_NA(tgt=b1.ipv6, R=0, S=0, O=1) /
                               ICMPv6NDOptDstLLAddr(lladdr=b1.mac) / mk("nafrag"),
                               "nd_fragment"),
        "dhcp6_behind_chain": (v6(b2.mac, ll1, b2.ipv6) / IPv6ExtHdrDestOpt() /
                               UDP(sport=547, dport=546) / DHCP6_Advertise() / mk("dhcp6"),
                               "dhcp_server"),
        "dhcp4_to_client": (Ether(src=b1.mac, dst=BCAST) /
                            IP(src=b1.ipv4, dst="255.255.255.255") /
                            UDP(sport=40000, dport=68) / mk("dhcp4c"), "dhcp_server"),
        "dhcp6_to_client": (v6(b2.mac, ll1, b2.ipv6) / UDP(sport=40000, dport=546) /
                            mk("dhcp6c"), "dhcp_server"),
        "na_fourth_option": (v6(ALL_NODES_MAC, b1.ipv6, "ff02::1") /
                             ICMPv6ND_NA(tgt=b1.ipv6, R=0, S=0, O=1) /
                             ICMPv6NDOptMTU() / ICMPv6NDOptMTU() / ICMPv6NDOptMTU() /
                             ICMPv6NDOptDstLLAddr(lladdr=b2.mac) / mk("naopt"), "spoof_nd"),
        "chain_too_long": (v6(b2.mac, b1.ipv6, b2.ipv6) / many /
                           UDP(sport=40000, dport=5001) / mk("chain"), "ext_header"),
    }
    legit = v6(b2.mac, b1.ipv6, b2.ipv6) / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / \
        ICMPv6EchoRequest(id=pid & 0xffff) / mk("legit")
    where = {"b2": (b2.ns, b2.guest_if), "c1": (c1.ns, c1.guest_if),
             "a1": (a1.ns, a1.guest_if), "a2": (a2.ns, a2.guest_if),
             "wire": (w.ns, "veth0")}
    got, before, after = run_phase(env, b1.ns, b1.guest_if,
                                   {k: f for k, (f, _) in guest.items()}, where, legit)
    bid = env.id_of["b1"]
    moved = drops(before, after, bid, fe.DIR_TX)
    note(f"b1 (ctx {bid}) tx drops moved: { {r: n for r, n in moved.items() if n} }")
    want = {}
    for _, reason in guest.values():
        want[reason] = want.get(reason, 0) + COPIES
    for reason, n in want.items():
        check(moved[reason] == n, f"b1 counted {moved[reason]} tx drops as {reason} "
                                  f"(sent {n})")
    stray = {r: n for r, n in moved.items() if n and r not in want}
    check(not stray, f"no b1 drop under any other reason: {stray}")
    for name, (frame, _) in guest.items():
        mark = bytes(frame[Raw].load)
        leaks = {n: count(fs, mark) for n, fs in got.items()}
        check(not any(leaks.values()), f"{name}: seen by no capture (b2, c1, a1, a2, wire): "
                                       f"{leaks}")
    seen = count(got["b2"], bytes(legit[Raw].load))
    check(seen == COPIES, f"control: echo behind hop-by-hop + dest options reached b2 "
                          f"({seen}/{COPIES})")

    # Phase 1b: the same ND walk over paged data. trafgen's TX ring builds skbs whose
    # linear part is the Ethernet header only: the options a guard must read all sit in a
    # page fragment. An NA for a1's own address whose 13th option (174 bytes in) names a2's MAC must be
    # dropped; the same NA with its own MAC in every option is forwarded.
    a1 = env.a1

    mtus = ICMPv6NDOptMTU()
    for _ in range(11):  # 12 options: the 13th starts 174 bytes in, past any small pull
        mtus = mtus / ICMPv6NDOptMTU()

    def na(last_mac, name):
        return Ether(src=a1.mac, dst=ALL_NODES_MAC) / IPv6(src=a1.ipv6, dst="ff02::1",
                                                           hlim=255) / \
            ICMPv6ND_NA(tgt=a1.ipv6, R=0, S=0, O=1) / mtus / \
            ICMPv6NDOptDstLLAddr(lladdr=last_mac) / \
            ICMPv6NDOptUnknown(type=200, len=2, data=f"VNET{name}{pid:08d}".encode()[:14])

    paged_bad, paged_ok = na(a2.mac, "pgbad"), na(a1.mac, "pgok")
    aid = env.id_of["a1"]
    where = {"a2": (a2.ns, a2.guest_if), "wire": (w.ns, "veth0")}
    for frame, name, dropped in ((paged_bad, "foreign option", True),
                                 (paged_ok, "own options", False)):
        caps = {n: t.capture(ns, ifn, max_seconds=30) for n, (ns, ifn) in where.items()}
        before = env.stats()
        trafgen_frames(env, a1, bytes(frame), PAGED_COUNT)
        got = {n: c.stop(settle=0.5) for n, c in caps.items()}
        moved = drops(before, env.stats(), aid, fe.DIR_TX)
        mark = bytes(frame)[-14:]
        seen = {n: count(fs, mark) for n, fs in got.items()}
        if dropped:
            check(moved["spoof_nd"] == PAGED_COUNT and not any(seen.values()),
                  f"paged NA with a {name} past the linear data: {moved['spoof_nd']} of "
                  f"{PAGED_COUNT} dropped as spoof_nd, seen {seen}")
        else:
            check(moved["malformed"] == 0 and moved["spoof_nd"] == 0 and
                  seen["a2"] == PAGED_COUNT,
                  f"paged NA with {name}: forwarded to a2 ({seen['a2']} of {PAGED_COUNT}), "
                  f"no drop (malformed +{moved['malformed']}, spoof_nd +{moved['spoof_nd']})")

    # Phase 2: from the wire.
    wm = w.mac

    def tagged(dst, src, vid=10):
        return Ether(src=src, dst=dst) / Dot1Q(vlan=vid)

    wire = {
        "lldp": (tagged("01:80:c2:00:00:0e", wm) / Raw(b"\x02\x07\x04" + bytes(40)) /
                 mk("lldp"), 0, "reserved_group"),
        "stp": (tagged("01:80:c2:00:00:00", wm) / Raw(b"\x42\x42\x03" + bytes(40)) /
                mk("stp"), 0, "reserved_group"),
        "lldp_native": (Ether(src=wm, dst="01:80:c2:00:00:0e", type=0x88cc) /
                        Raw(bytes(40)) / mk("lldpn"), 0, "reserved_group"),
        "impostor_unicast": (tagged(b1.mac, b2.mac) / IP(src=b2.ipv4, dst=b1.ipv4) /
                             UDP(sport=40000, dport=5001) / mk("imp"), env.id_of["b2"],
                             "local_source_mac"),
        "loop_to_owner": (tagged(b1.mac, b1.mac) / IP(src=b1.ipv4, dst=b1.ipv4) /
                          UDP(sport=40000, dport=5001) / mk("loop"), env.id_of["b1"],
                          "local_source_mac"),
        "impostor_broadcast": (tagged(BCAST, b1.mac) /
                               ARP(op=1, hwsrc=b1.mac, psrc=b1.ipv4, pdst=b2.ipv4) /
                               mk("impb"), env.id_of["b1"], "local_source_mac"),
    }
    wire_ctl = tagged(BCAST, wm) / IP(src=env.wire_addr[10][0], dst="198.18.10.255") / \
        UDP(sport=40000, dport=40000) / mk("wlegit")
    where = {g.name: (g.ns, g.guest_if) for g in env.guests}
    got, before, after = run_phase(env, w.ns, "veth0", {k: f for k, (f, _, _) in wire.items()},
                                   where, wire_ctl)
    want = {}
    for _, ctx, reason in wire.values():
        want[(ctx, reason)] = want.get((ctx, reason), 0) + COPIES
    for (ctx, reason), n in want.items():
        got_n = drops(before, after, ctx, fe.DIR_RX)[reason]
        check(got_n == n, f"context slot {ctx} counted {got_n} rx drops as {reason} (sent {n})")
    for name, (frame, _, _) in wire.items():
        mark = bytes(frame[Raw].load)
        leaks = {n: count(fs, mark) for n, fs in got.items()}
        check(not any(leaks.values()), f"{name} from the wire: seen by no guest: {leaks}")
    ctl_seen = {n: count(fs, bytes(wire_ctl[Raw].load)) for n, fs in got.items()}
    check(ctl_seen["b1"] == COPIES and ctl_seen["b2"] == COPIES and ctl_seen["c1"] == 0,
          f"control: a broadcast from the wire in VLAN 10 reached b1 and b2 only: {ctl_seen}")
    check(t.ping(b1.ns, b2.ipv4) and t.ping(b2.ns, b1.ipv6) and
          t.ping(b1.ns, env.wire_addr[10][0]),
          "b1, b2 and the wire still talk after the attacks")

    # Phase 3: link-locals through the API and the CLI.
    stable = "fe80::1:2:3:4"
    t.run(b1.ns, ["ip", "-6", "addr", "add", f"{stable}/64", "dev", b1.guest_if, "nodad"])
    env.d.ctl(["context", "update", "--interface", b1.host_if, "--link-local", stable])
    shown = env.d.ctl(["context", "get", "--interface", b1.host_if, "-o", "json"]).stdout
    check(stable in shown, "vnetctl context get shows the link-local address")

    def from_ll(src, name):
        return Ether(src=b1.mac, dst=b2.mac) / IPv6(src=src, dst=eui64_link_local(b2.mac)) / \
            UDP(sport=40000, dport=5001) / mk(name)

    ok_f, bad_f = from_ll(stable, "llok"), from_ll(ll1, "llbad")
    got, before, after = run_phase(env, b1.ns, b1.guest_if, {"ok": ok_f, "bad": bad_f},
                                   {"b2": (b2.ns, b2.guest_if)})
    moved = drops(before, after, bid, fe.DIR_TX)
    check(count(got["b2"], bytes(ok_f[Raw].load)) == COPIES,
          "UDP from the listed link-local reached b2")
    # At least: b1's own kernel may send from its EUI-64 address meanwhile (MLD, ND).
    check(count(got["b2"], bytes(bad_f[Raw].load)) == 0 and moved["spoof_ipv6"] >= COPIES,
          f"UDP from the EUI-64 link-local (not listed) dropped as spoof_ipv6 "
          f"(+{moved['spoof_ipv6']}, sent {COPIES})")
    r = env.d.ctl(["context", "update", "--interface", b1.host_if, "--link-local",
                   "2001:db8::77"], check=False)
    check(r.returncode == 1 and "link-local" in r.stderr,
          f"a global address as link-local is refused: {r.stderr.strip()}")
    env.d.ctl(["context", "update", "--interface", b1.host_if, "--link-local", "default"])
    got, before, after = run_phase(env, b1.ns, b1.guest_if, {"bad": bad_f},
                                   {"b2": (b2.ns, b2.guest_if)})
    check(count(got["b2"], bytes(bad_f[Raw].load)) == COPIES,
          "--link-local default: the EUI-64 link-local is b1's again")


if __name__ == "__main__":
    fe.main("hostile", test, prefix="fh")
