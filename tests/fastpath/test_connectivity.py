#!/usr/bin/python3
"""fastpath.connectivity: ping (IPv4, IPv6) and TCP through vnet's BPF fast path.

Guest to guest in VLAN 1 (untagged native) and VLAN 10; guest to the wire host untagged
(VLAN 1) and through the wire's 802.1Q interface veth0.10 (VLAN 10); both families. No Linux
bridge anywhere. That the traffic went through vnet is checked on the per-context counters of
the pinned vnet_stats map (tx of the sender and rx of the receiver move by at least the
number of packets), and tagged traffic arrives on the wire's VLAN interface only.
"""

import fastpath_env as fe
from fastpath_env import check, note

PINGS = 20


def test(env: fe.Env) -> None:
    t = env.t
    env.assert_no_bridge()
    fp = env.d.fast_path_status()
    note(f"fast path: {fp}")
    check(fp is not None and fp.startswith("bpf") and "5/128 contexts attached" in fp,
          "vnetd reports the bpf fast path with 5 contexts attached")
    for g in env.guests:
        check("vnet_guest_tc" in env.vnet_tc_programs(g.host_if),
              f"guest program attached at {g.host_if} ingress")

    # Warm up neighbour caches (first packets may be resolved by ARP/ND).
    pairs = [(env.a1, env.a2), (env.b1, env.b2)]
    for src, dst in pairs:
        for addr in (dst.ipv4, dst.ipv6):
            check(t.wait_ping(src.ns, addr, 5), f"{src.name} reaches {dst.name} {addr}")
    for g, vlan in ((env.a1, 1), (env.b1, 10)):
        for addr in env.wire_addr[vlan]:
            check(t.wait_ping(g.ns, addr, 5), f"{g.name} reaches the wire {addr} (VLAN {vlan})")

    # Counted pings: every one answered and every one counted by the fast path.
    for src, dst in pairs:
        for addr in (dst.ipv4, dst.ipv6):
            before = env.stats()
            tx, rx = env.ping_stats(src.ns, addr, PINGS, interval=0.01)
            after = env.stats()
            sid, did = env.id_of[src.name], env.id_of[dst.name]
            d_src_tx = after[sid]["tx_packets"] - before[sid]["tx_packets"]
            d_dst_rx = after[did]["rx_packets"] - before[did]["rx_packets"]
            d_dst_tx = after[did]["tx_packets"] - before[did]["tx_packets"]
            check(tx == PINGS and rx == PINGS,
                  f"{src.name} -> {dst.name} {addr}: {rx}/{tx} answered")
            check(d_src_tx >= PINGS and d_dst_rx >= PINGS and d_dst_tx >= PINGS,
                  f"  ... through vnet: ctx {sid} tx +{d_src_tx}, ctx {did} rx +{d_dst_rx} "
                  f"tx +{d_dst_tx} (>= {PINGS})")

    # Guest to wire: untagged on VLAN 1, tagged on VLAN 10 (counted on the wire's VLAN 10 interface).
    for g, vlan in ((env.a1, 1), (env.b1, 10)):
        wif = "veth0" if vlan == 1 else env.wire.vlans[vlan]
        for addr in env.wire_addr[vlan]:
            before = env.stats()
            lb = t.link_stats(env.wire.ns, wif)
            tx, rx = env.ping_stats(g.ns, addr, PINGS, interval=0.01)
            la = t.link_stats(env.wire.ns, wif)
            after = env.stats()
            gid = env.id_of[g.name]
            d_tx = after[gid]["tx_packets"] - before[gid]["tx_packets"]
            d_rx = after[gid]["rx_packets"] - before[gid]["rx_packets"]
            d_wire = la["rx_packets"] - lb["rx_packets"]
            check(tx == PINGS and rx == PINGS,
                  f"{g.name} -> wire {addr} (VLAN {vlan}): {rx}/{tx} answered")
            check(d_tx >= PINGS and d_wire >= PINGS,
                  f"  ... through vnet: ctx {gid} tx +{d_tx}, wire {wif} rx +{d_wire}, "
                  f"ctx rx +{d_rx}")
    # VLAN 10 reached the wire host only through its VLAN interface: frames tagged 10.
    # TCP, both families: guest to guest (VLAN 1 and 10) and guest to wire (VLAN 1 and 10).
    size = 4 << 20
    cases = [(env.a2, env.a1, env.a2.ipv4), (env.a2, env.a1, env.a2.ipv6),
             (env.b2, env.b1, env.b2.ipv4), (env.b2, env.b1, env.b2.ipv6)]
    for server, client, addr in cases:
        before = env.stats()
        ok, got = env.tcp_exchange(server, client, addr, size)
        after = env.stats()
        cid = env.id_of[client.name]
        moved = after[cid]["tx_bytes"] - before[cid]["tx_bytes"]
        check(ok and got == size, f"TCP {client.name} -> {server.name} [{addr}]: {got} bytes, "
                                  f"digest {'matches' if ok else 'WRONG'}")
        check(moved >= size, f"  ... through vnet: ctx {cid} tx_bytes +{moved} >= {size}")
    for g, vlan in ((env.a1, 1), (env.b1, 10)):
        for addr in env.wire_addr[vlan]:
            before = env.stats()
            ok, got = env.tcp_exchange(env.wire, g, addr, size)
            after = env.stats()
            gid = env.id_of[g.name]
            moved = after[gid]["tx_bytes"] - before[gid]["tx_bytes"]
            check(ok and got == size, f"TCP {g.name} -> wire [{addr}] (VLAN {vlan}): {got} "
                                      f"bytes, digest {'matches' if ok else 'WRONG'}")
            check(moved >= size, f"  ... through vnet: ctx {gid} tx_bytes +{moved} >= {size}")
    # And wire -> guest (the uplink XDP/TC path toward a guest), both VLANs.
    for g, vlan in ((env.a1, 1), (env.b1, 10)):
        for addr in (g.ipv4, g.ipv6):
            before = env.stats()
            ok, got = env.tcp_exchange(g, env.wire, addr, size)
            after = env.stats()
            gid = env.id_of[g.name]
            moved = after[gid]["rx_bytes"] - before[gid]["rx_bytes"]
            check(ok and got == size, f"TCP wire -> {g.name} [{addr}] (VLAN {vlan}): {got} "
                                      f"bytes, digest {'matches' if ok else 'WRONG'}")
            check(moved >= size, f"  ... through vnet: ctx {gid} rx_bytes +{moved} >= {size}")
    env.assert_no_bridge()


if __name__ == "__main__":
    fe.main("connectivity", test, prefix="fc")
