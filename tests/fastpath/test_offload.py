#!/usr/bin/python3
"""fastpath.offload: the smart virtual NIC: offloads, super-packets, MTU.

Sender a1 and receiver a2 (VLAN 1) and the wire host (VLAN 1, behind the uplink, whose
TSO/checksum offloads are off so the kernel segments and checksums there, like a plain
1500-byte NIC). Each guest's own end of its veth gets the features its context offers (as a
Xen frontend follows what the backend advertises); vnetd sets the dom0 end.

  * smart (every offload on): TCP from a1 crosses as super-packets (a1's tx_gso counters,
    a2's rx_gso counters move; none segmented by the kernel); toward the wire every frame on
    the wire is <= 1514 bytes with valid IPv4 and TCP checksums (own verifier);
  * the offload matrix: every flag off in turn (and none at all) on the sender and on the
    receiver, guest to guest and guest to wire, IPv4 and IPv6 for the TSO flags: the
    transfer arrives intact; without TSO (or tx checksum, which TSO needs) the sender sends
    no super-packet; a receiver without rx checksum sees only complete, valid checksums and
    frames <= its MTU, and its checksums-completed / segmented counters move; the dom0 end
    of each guest carries the features of its context (ethtool -k);
  * MTU: frames larger than a context's MTU are dropped and counted (reason mtu) both ways;
    super-packets for a guest whose MTU is smaller than their segments are resegmented
    (rx_gso_resized) and it receives frames no larger than its MTU.
"""

import struct

import fastpath_env as fe
from fastpath_env import check, note

SIZE = 1 << 20
FLAGS = ["tx-csum", "tso4", "tso6", "sg", "rx-csum"]
MTU_DROP = fe.DROP_REASONS.index("mtu")


def csum16(b: bytes) -> int:
    if len(b) & 1:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def tcp_frames(frames, src_mac: str):
    """(frame, l3 offset, ip version) of TCP frames sent from src_mac."""
    mac = bytes.fromhex(src_mac.replace(":", ""))
    for f in frames:
        if len(f) < 54 or f[6:12] != mac:
            continue
        et = struct.unpack("!H", f[12:14])[0]
        if et == 0x0800 and f[23] == 6:
            yield f, 14, 4
        elif et == 0x86dd and f[20] == 6:
            yield f, 14, 6


def frame_ok(f: bytes, off: int, ver: int) -> bool:
    """IPv4 header and TCP checksums (over the pseudo header) both valid."""
    if ver == 4:
        ihl = (f[off] & 0xf) * 4
        tot = struct.unpack("!H", f[off + 2:off + 4])[0]
        if csum16(f[off:off + ihl]) != 0xffff:
            return False
        seg = f[off + ihl:off + tot]
        pseudo = f[off + 12:off + 20] + struct.pack("!BBH", 0, 6, len(seg))
    else:
        plen = struct.unpack("!H", f[off + 4:off + 6])[0]
        seg = f[off + 40:off + 40 + plen]
        pseudo = f[off + 8:off + 40] + struct.pack("!IxxxB", len(seg), 6)
    return csum16(pseudo + seg) == 0xffff


def set_offloads(env: fe.Env, g, flags) -> None:
    """Context offloads through vnetctl; the guest's own end of the veth follows them."""
    # A symmetric NIC: what the guest may send (sg, tso4, tso6) it also takes (rx-*).
    both_ways = flags + [f"rx-{f}" for f in flags if f in ("sg", "tso4", "tso6")]
    env.d.ctl(["context", "update", str(env.id_of[g.name]), "--offloads",
               ",".join(both_ways) or "none"])
    on = lambda f: "on" if f in flags else "off"  # noqa: E731
    env.t.run(g.ns, ["ethtool", "-K", g.guest_if, "tx", on("tx-csum"), "sg", on("sg"),
                     "tx-tcp-segmentation", on("tso4"), "tx-tcp6-segmentation", on("tso6")],
              check=False)  # the kernel refuses TSO without csum/SG: that is fine


def host_features(env: fe.Env, g) -> dict:
    out = env.t.run(None, ["ethtool", "-k", g.host_if]).stdout
    feats = {}
    for line in out.splitlines():
        k, _, v = line.strip().partition(":")
        feats[k] = v.strip().startswith("on")
    return feats


def delta(before, after, cid, key):
    return after[cid][key] - before[cid][key]


def transfer(env: fe.Env, src, dst, addr: str, cap_ns: str, cap_if: str):
    """TCP src -> dst[addr] with a capture where dst receives; returns (ok, frames, d stats)."""
    cap = env.t.capture(cap_ns, cap_if, max_seconds=30, max_frames=200000)
    before = env.stats()
    ok, got = env.tcp_exchange(dst, src, addr, SIZE)
    after = env.stats()
    frames = cap.stop()
    return ok and got == SIZE, list(tcp_frames(frames, src.mac)), before, after


def test(env: fe.Env) -> None:
    t, a1, a2, w = env.t, env.a1, env.a2, env.wire
    s_id, r_id = env.id_of["a1"], env.id_of["a2"]
    for addr in (a2.ipv4, a2.ipv6, w.ipv4, w.ipv6):
        check(t.wait_ping(a1.ns, addr, 5), f"a1 reaches {addr}")

    # Smart: super-packets cross whole, the wire sees valid MTU-sized segments.
    ok, frames, b, a = transfer(env, a1, a2, a2.ipv4, a2.ns, a2.guest_if)
    check(ok, "smart a1 -> a2: 1 MiB intact")
    n_gso, segs = delta(b, a, s_id, "tx_gso_packets"), delta(b, a, s_id, "tx_gso_segments")
    note(f"a1 sent {n_gso} super-packets standing for {segs} segments; a2 got "
         f"{delta(b, a, r_id, 'rx_gso_packets')} ({delta(b, a, r_id, 'rx_gso_segments')} segs)")
    check(n_gso > 0 and segs > n_gso, "smart: a1's super-packets counted (segments > packets)")
    check(delta(b, a, r_id, "rx_gso_packets") > 0, "smart: a2 received super-packets whole")
    check(delta(b, a, r_id, "rx_gso_segmented") == 0 and delta(b, a, r_id, "rx_csum_completed")
          == 0, "smart: nothing segmented or checksummed by the kernel for a2")
    check(max(len(f) for f, _, _ in frames) > 1514, "smart: a2 sees frames beyond the MTU "
                                                    "(super-packets)")
    for addr in (w.ipv4, w.ipv6):
        ok, frames, b, a = transfer(env, a1, w, addr, w.ns, w.wire_if)
        bad = [f for f, o, v in frames if len(f) > 1514 or not frame_ok(f, o, v)]
        check(ok and frames, f"smart a1 -> wire [{addr}]: intact, {len(frames)} frames on wire")
        check(delta(b, a, s_id, "tx_gso_packets") > 0, "  ... sent as super-packets")
        check(not bad, f"  ... every frame on the wire <= 1514 bytes with valid IP/TCP "
                       f"checksums ({len(bad)} bad)")

    # The matrix: sender flags, then receiver flags, one off at a time, and none.
    configs = [[f for f in FLAGS if f != off] for off in FLAGS] + [[]]
    for flags in configs:
        label = ",".join(flags) or "none"
        set_offloads(env, a1, flags)
        tso = "tso4" in flags and "tx-csum" in flags and "sg" in flags
        tso6 = "tso6" in flags and "tx-csum" in flags and "sg" in flags
        for dst, addr, cap_ns, cap_if, fam_tso in ((a2, a2.ipv4, a2.ns, a2.guest_if, tso),
                                                   (a2, a2.ipv6, a2.ns, a2.guest_if, tso6),
                                                   (w, w.ipv4, w.ns, w.wire_if, tso)):
            ok, frames, b, a = transfer(env, a1, dst, addr, cap_ns, cap_if)
            n = delta(b, a, s_id, "tx_gso_packets")
            drops = sum(a[s_id]["drops"][fe.DIR_TX]) - sum(b[s_id]["drops"][fe.DIR_TX])
            check(ok and drops == 0, f"sender [{label}] -> {dst.name} [{addr}]: intact {ok}, "
                                     f"{drops} drops (super-packets {n})")
            if not fam_tso:
                check(n == 0, "  ... TSO not offered: no super-packet")
            if dst is w:
                bad = [f for f, o, v in frames if len(f) > 1514 or not frame_ok(f, o, v)]
                check(frames and not bad, f"  ... wire: {len(frames)} frames, all valid")
    set_offloads(env, a1, FLAGS)
    for flags in configs:
        label = ",".join(flags) or "none"
        set_offloads(env, a2, flags)
        hf = host_features(env, a2)
        want_csum = "rx-csum" in flags
        # The kernel may also drop SG without a checksum feature: only "off" is a must.
        check(hf.get("tx-checksumming") == want_csum and (hf.get("scatter-gather") is False
                                                          or "sg" in flags), f"receiver [{label}]: dom0 end has tx-checksumming "
                               f"{want_csum}, sg {'sg' in flags} (ethtool: "
                               f"{hf.get('tx-checksumming')}, {hf.get('scatter-gather')})")
        check(hf.get("tx-tcp-segmentation") == ("tso4" in flags and want_csum and "sg" in flags),
              "  ... and TSO (v4) exactly when offered with checksum and SG")
        for addr in (a2.ipv4, a2.ipv6):
            ok, frames, b, a = transfer(env, a1, a2, addr, a2.ns, a2.guest_if)
            check(ok, f"a1 -> receiver [{label}] [{addr}]: intact")
            if not want_csum:
                bad = [f for f, o, v in frames if len(f) > 1514 or not frame_ok(f, o, v)]
                check(frames and not bad, f"  ... receiver sees {len(frames)} frames, all "
                                          "complete checksums and <= 1514 bytes")
                check(delta(b, a, r_id, "rx_csum_completed") > 0,
                      f"  ... checksums completed for it: "
                      f"{delta(b, a, r_id, 'rx_csum_completed')}")
            fam = "tso4" if ":" not in addr else "tso6"
            if fam not in flags or not want_csum or "sg" not in flags:
                check(delta(b, a, r_id, "rx_gso_segmented") == delta(b, a, r_id,
                                                                     "rx_gso_packets"),
                      f"  ... every super-packet for it segmented by the kernel "
                      f"({delta(b, a, r_id, 'rx_gso_segmented')})")
    set_offloads(env, a2, FLAGS)

    # MTU: a2's context says 1400 (its own end still 1500).
    env.d.ctl(["context", "update", str(r_id), "--mtu", "1400"])
    b = env.stats()
    tx, rx = env.ping_stats(a1.ns, a2.ipv4, 5, interval=0.05)  # small frames: still answered
    big = t.run(a1.ns, ["ping", "-n", "-q", "-c", "5", "-i", "0.05", "-W", "1", "-M", "do",
                        "-s", "1450", a2.ipv4], check=False).stdout
    big_back = t.run(a2.ns, ["ping", "-n", "-q", "-c", "5", "-i", "0.05", "-W", "1", "-M",
                             "do", "-s", "1450", a1.ipv4], check=False).stdout
    a = env.stats()
    rx_drops = a[r_id]["drops"][fe.DIR_RX][MTU_DROP] - b[r_id]["drops"][fe.DIR_RX][MTU_DROP]
    tx_drops = a[r_id]["drops"][fe.DIR_TX][MTU_DROP] - b[r_id]["drops"][fe.DIR_TX][MTU_DROP]
    check(tx == 5 and rx == 5, f"MTU 1400: small pings still answered ({rx}/{tx})")
    check(fe.parse_ping(big)[1] == 0 and rx_drops >= 5,
          f"MTU 1400: 1478-byte frames toward a2 dropped, counted mtu/rx: {rx_drops}")
    check(fe.parse_ping(big_back)[1] == 0 and tx_drops >= 5,
          f"MTU 1400: 1478-byte frames from a2 dropped, counted mtu/tx: {tx_drops}")
    # a1 still believes in 1500 bytes: its super-packets are resegmented for a2, but a
    # single full-size segment (a tail, a 1-segment cwnd opening, a retransmission) is an
    # over-MTU frame that the data path drops like any L2 switch would. A guest recovers
    # from such a black hole by PLPMTUD, as on any LAN with mixed MTUs; without it the
    # transfer stalls whenever TCP happens to send one.
    t.run(a1.ns, ["sysctl", "-q", "-w", "net.ipv4.tcp_mtu_probing=1"])
    for flags in (FLAGS, ["tx-csum", "sg"]):
        set_offloads(env, a2, flags)
        ok, frames, b, a = transfer(env, a1, a2, a2.ipv4, a2.ns, a2.guest_if)
        resized = delta(b, a, r_id, "rx_gso_resized")
        check(ok and resized > 0, f"MTU 1400, a2 [{','.join(flags)}]: intact, {resized} "
                                  "super-packets resegmented for it")
        if "tso4" not in flags:
            biggest = max(len(f) for f, _, _ in frames)
            check(biggest <= 1414, f"  ... a2 receives frames <= 1414 bytes (largest {biggest})")
    env.d.ctl(["context", "update", str(r_id), "--mtu", "1500"])
    set_offloads(env, a2, FLAGS)


if __name__ == "__main__":
    fe.main("offload", test, prefix="fo")
