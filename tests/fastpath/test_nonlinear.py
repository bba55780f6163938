#!/usr/bin/python3
"""fastpath.nonlinear: frames whose headers sit in page fragments are forwarded.

trafgen sends from its TX ring (PACKET_TX_RING): the skb it builds holds only the Ethernet
header in its linear part, the IP and UDP headers in a page fragment (Xen netback builds
skbs the same way). vnet_guest_tc must pull the headers it checks instead of dropping such
frames as malformed. Bounded: trafgen sends COUNT frames and stops; a timeout backs it up.
Checked guest to guest (VLAN 1) and guest to wire: the receiver's IP counter moves by
(nearly) COUNT and the sender's context counts no malformed drop.
"""

import os
import shutil

import fastpath_env as fe
from fastpath_env import check, note

COUNT = 2000


def trafgen(env: fe.Env, src, dst_mac: str, dst_ip: str) -> None:
    conf = os.path.join(env.t.tmpdir, f"nl-{src.name}.cfg")
    with open(conf, "w") as f:
        f.write("{ eth(da=%s, sa=%s, type=0x0800), ipv4(sa=%s, da=%s, ttl=64, df), "
                "udp(sp=40000, dp=9), fill(0x00, 18) }\n" % (dst_mac, src.mac, src.ipv4,
                                                              dst_ip))
    env.t.run(src.ns, ["timeout", "-s", "INT", "-k", "2", "20", "trafgen", "--dev", "veth0",
                       "--conf", conf, "--num", str(COUNT),
                       "--no-sock-mem", "--notouch-irq", "--no-cpu-stats"], timeout=30)


def test(env: fe.Env) -> None:
    t = env.t
    check(shutil.which("trafgen") is not None, "trafgen (netsniff-ng) installed")
    a1, a2 = env.a1, env.a2
    sid = env.id_of[a1.name]
    wire_mac = t.run(env.wire.ns, ["cat", f"/sys/class/net/{env.wire.wire_if}/address"]
                     ).stdout.strip()
    for name, ns, mac, ip, rx_id in (("a2", a2.ns, a2.mac, a2.ipv4, env.id_of[a2.name]),
                                     ("wire", env.wire.ns, wire_mac, env.wire.ipv4, None)):
        before, snmp0 = env.stats(), t.snmp(ns)["Ip.InReceives"]
        trafgen(env, a1, mac, ip)
        after, snmp1 = env.stats(), t.snmp(ns)["Ip.InReceives"]
        malformed = (after[sid]["drops"][fe.DIR_TX][1] - before[sid]["drops"][fe.DIR_TX][1])
        got = snmp1 - snmp0
        note(f"a1 -> {name}: {got} of {COUNT} received, {malformed} dropped as malformed")
        check(malformed == 0, f"a1 -> {name}: no frame from the TX ring dropped as malformed")
        check(got >= COUNT * 0.95, f"a1 -> {name}: {got} >= 95% of {COUNT} trafgen frames "
                                   "delivered")
        if rx_id is not None:
            d = after[rx_id]["rx_packets"] - before[rx_id]["rx_packets"]
            check(d >= COUNT * 0.95, f"  ... through vnet: ctx {rx_id} rx +{d}")


if __name__ == "__main__":
    fe.main("nonlinear", test, prefix="fn")
