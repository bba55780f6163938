#!/usr/bin/python3
"""fastpath.bigtcp: BIG TCP (TCP super-packets over 64 KiB) through the fast path.

Guests a1 and a2 (VLAN 1, veths in namespaces) and the wire host behind the uplink:

  * the API refuses a big_tcp_max_size out of range (and, on a kernel without the IPv4
    link attributes, any; then the case ends there, saying so);
  * with Offloads.big_tcp_max_size on both contexts, vnetd raises the dom0 ends' gso/gro
    max sizes (read back through rtnetlink) and Context.effective_offloads says so; the
    guest ends get the same (the guest's business, as its ethtool features are);
  * a1 -> a2 over IPv4 and IPv6: the transfer arrives intact and a2 receives super-packets
    over 64 KiB (lengths from a packet socket, MSG_TRUNC); the counters agree;
  * a1 -> wire: a1 sends super-packets over 64 KiB (seen on its dom0 end); the uplink (TSO
    turned on for this part) keeps gso_max_size 65536, so the kernel segments those before
    the device
    (gso_features_check): no frame handed to the uplink is over 64 KiB;
  * a2 without BIG TCP: a1's super-packets still arrive (intact) through the kernel's
    segmentation at a2's dom0 end, never over 64 KiB at a2 (rx_gso_segmented moves);
  * a1 without BIG TCP whose guest end still builds them: dropped and counted (offload).
"""

import os

import fastpath_env as fe
from fastpath_env import check, note

BIG = 196608
SIZE = 16 << 20
LINK_GSO = os.path.join(fe.HERE, "..", "netns", "link_gso.py")
OFFLOAD = fe.DROP_REASONS.index("offload")

# Lengths of the frames a packet socket sees on an interface (MSG_TRUNC: the real length,
# not what fits the buffer), incoming or outgoing; bounded in time and frames.
CAPTURE = ("import socket,sys,time,select\n"
           "s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW,socket.htons(3))\n"
           "s.bind((sys.argv[1],0)); out=sys.argv[2]=='out'\n"
           "end=time.monotonic()+float(sys.argv[3]); n=0; big=0; mx=0; b=bytearray(64)\n"
           "print('READY',flush=True)\n"
           "while n<200000 and time.monotonic()<end:\n"
           "    r,_,_=select.select([s,sys.stdin],[],[],0.05)\n"
           "    if sys.stdin in r: break\n"
           "    if s in r:\n"
           "        ln,a=s.recvfrom_into(b,64,socket.MSG_TRUNC)\n"
           "        if (a[2]==socket.PACKET_OUTGOING)!=out: continue\n"
           "        n+=1; mx=max(mx,ln); big+=ln>65536+14\n"
           "print(n,mx,big,flush=True)\n")


class Lengths:
    def __init__(self, env, ns, ifname, direction):
        self.t = env.t
        self.p = env.t.popen(ns, [fe.SYSTEM_PYTHON, "-c", CAPTURE, ifname, direction, "40"],
                             stdin=fe.subprocess.PIPE)
        if self.p.stdout.readline().strip() != "READY":
            raise fe.HarnessError(f"capture on {ifname}: {self.p.stderr.read()}")

    def stop(self):
        """(frames, largest length, frames over 64 KiB)."""
        out, err = self.p.communicate(input="x\n", timeout=15)
        if len(out.split()) < 3:
            raise fe.HarnessError(f"capture: {err.strip()}")
        n, mx, big = (int(x) for x in out.split()[-3:])
        return n, mx, big


def gso_sizes(env, ns, ifname, size=None):
    """[gso_max, gro_max, gso_ipv4_max, gro_ipv4_max, tso_max] of a link (set first)."""
    cmd = [fe.SYSTEM_PYTHON, LINK_GSO, ifname] + ([str(size)] if size else [])
    return [int(x) for x in env.t.run(ns, cmd).stdout.split()]


def set_big_tcp(env, g, size):
    """The context's request through vnetctl, and the guest's own end alike."""
    offloads = f"all,big-tcp={size}" if size else "all"
    env.d.ctl(["context", "update", str(env.id_of[g.name]), "--offloads", offloads])
    gso_sizes(env, g.ns, g.guest_if, size or 65536)


def effective(env, g):
    for c in env.contexts():
        if c["interface_name"] == g.host_if:
            return c.get("effective_offloads", {})
    return {}


def stream(env, src, dst, addr, cap_ns, cap_if, direction="in"):
    cap = Lengths(env, cap_ns, cap_if, direction)
    before = env.stats()
    ok, got = env.tcp_exchange(dst, src, addr, SIZE)
    after = env.stats()
    return ok, got, cap.stop(), before, after


def test(env: fe.Env) -> None:
    a1, a2, w = env.a1, env.a2, env.wire
    s_id, r_id = env.id_of["a1"], env.id_of["a2"]

    r = env.d.ctl(["context", "update", str(s_id), "--offloads", "all,big-tcp=600000"],
                  check=False)
    check(r.returncode != 0 and "big_tcp_max_size" in (r.stderr + r.stdout),
          f"big-tcp=600000 refused at the API: {(r.stderr or r.stdout).strip()}")
    r = env.d.ctl(["context", "update", str(s_id), "--offloads", "all,big-tcp=65536"],
                  check=False)
    check(r.returncode != 0, "big-tcp=65536 (the default, not BIG TCP) refused")
    if gso_sizes(env, None, "lo")[2] == 0:
        r = env.d.ctl(["context", "update", str(s_id), "--offloads", f"all,big-tcp={BIG}"],
                      check=False)
        check(r.returncode != 0 and "6.3" in (r.stderr + r.stdout),
              "this kernel has no BIG TCP for IPv4: the API refuses it")
        note("kernel without gso_ipv4_max_size: BIG TCP streams not tried (refusal checked)")
        return

    for g in (a1, a2):
        set_big_tcp(env, g, BIG)
    for g in (a1, a2):
        check(gso_sizes(env, None, g.host_if)[:4] == [BIG] * 4,
              f"vnetd raised {g.host_if}'s gso/gro max sizes (IPv4 and IPv6) to {BIG}")
        check(effective(env, g).get("big_tcp_max_size") == BIG,
              f"{g.name}'s effective offloads say big_tcp_max_size {BIG}")

    for fam, addr in (("IPv4", a2.ipv4), ("IPv6", a2.ipv6)):
        ok, got, (n, mx, big), b, a = stream(env, a1, a2, addr, a2.ns, a2.guest_if)
        check(ok and got == SIZE, f"{fam} a1 -> a2 with BIG TCP: {got} bytes arrive intact")
        check(big > 0, f"{fam}: a2 received super-packets over 64 KiB ({big} of {n}, "
              f"largest {mx} B)")
        segs = a[r_id]["rx_gso_segments"] - b[r_id]["rx_gso_segments"]
        pkts = a[r_id]["rx_gso_packets"] - b[r_id]["rx_gso_packets"]
        check(pkts > 0 and a[r_id]["rx_gso_segmented"] == b[r_id]["rx_gso_segmented"],
              f"{fam}: counted as super-packets ({segs / max(pkts, 1):.1f} segments each), "
              "none segmented")

    # With TSO on the uplink (a NIC with TSO), only its gso_max_size can make the kernel
    # segment there: a BIG TCP packet must not be handed to it whole.
    feats = env.t.run(None, ["ethtool", "-k", w.host_if]).stdout
    was = {f: f"{f}: on" in feats for f in ("tx-checksumming", "scatter-gather",
                                              "tcp-segmentation-offload")}
    env.t.run(None, ["ethtool", "-K", w.host_if, "tx", "on", "sg", "on", "tso", "on"])
    check("tcp-segmentation-offload: on" in env.t.run(None, ["ethtool", "-k", w.host_if]).stdout,
          "the uplink offers TSO for this part")
    # What a1 sent, seen where it enters dom0 (a packet socket's tap runs before TC).
    from_a1 = Lengths(env, None, a1.host_if, "in")
    ok, got, (n, mx, big), b, a = stream(env, a1, w, w.ipv4, None, w.host_if, "out")
    a1_n, a1_mx, a1_big = from_a1.stop()
    on = lambda f: "on" if was[f] else "off"  # noqa: E731
    env.t.run(None, ["ethtool", "-K", w.host_if, "tso", on("tcp-segmentation-offload"),
                     "sg", on("scatter-gather"), "tx", on("tx-checksumming")])
    check(ok and got == SIZE, f"a1 -> wire with BIG TCP: {got} bytes arrive intact")
    sent = (a[s_id]["tx_bytes"] - b[s_id]["tx_bytes"]) / max(
        a[s_id]["tx_packets"] - b[s_id]["tx_packets"], 1)
    # Frames over 64 KiB, not the average: TCP sizes its super-packets by its pacing rate
    # (about a millisecond's worth), so a slow moment lowers the average, not the premise.
    check(a1_big > 0, f"a1 sent BIG TCP toward the wire: {a1_big} of {a1_n} frames over 64 KiB, "
          f"largest {a1_mx} B ({sent:.0f} B per frame on average)")
    check(n > 0 and mx <= 65536 + 14 and big == 0,
          f"nothing over the uplink's gso_max_size {gso_sizes(env, None, w.host_if)[0]} "
          f"leaves it: {n} frames out, largest {mx} B (the kernel segments on the way)")

    set_big_tcp(env, a2, 0)
    check(gso_sizes(env, None, a2.host_if)[:4] == [65536] * 4,
          "a2 without BIG TCP: vnetd put its dom0 end back to 65536")
    ok, got, (n, mx, big), b, a = stream(env, a1, a2, a2.ipv4, a2.ns, a2.guest_if)
    check(ok and got == SIZE, f"a1 (BIG TCP) -> a2 (without): {got} bytes arrive intact")
    check(big == 0, f"a2 got nothing over 64 KiB (largest {mx} B of {n})")
    check(a[r_id]["rx_gso_segmented"] > b[r_id]["rx_gso_segmented"],
          "a2's super-packets went through the kernel's segmentation (rx_gso_segmented)")

    # a1's context loses BIG TCP but its guest end keeps building such packets: dropped.
    env.d.ctl(["context", "update", str(s_id), "--offloads", "all"])
    b = env.stats()
    env.tcp_exchange(a2, a1, a2.ipv4, 1 << 20)  # may stall: only the drops count here
    a = env.stats()
    drops = a[s_id]["drops"][fe.DIR_TX][OFFLOAD] - b[s_id]["drops"][fe.DIR_TX][OFFLOAD]
    check(drops > 0, f"BIG TCP packets from a1 without it: {drops} dropped (offload)")
    gso_sizes(env, a1.ns, a1.guest_if, 65536)


if __name__ == "__main__":
    fe.main("bigtcp", test, prefix="bt")
