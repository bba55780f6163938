#!/usr/bin/python3
"""fastpath.ratelimit: rate limits and storm control enforced by the fast path.

Guests a1, a2 (VLAN 1) and the wire host (VLAN 1), real vnetd, limits set through vnetctl:

  * transmit: a1 limited to LIMIT; a UDP flood from a1 to a2 at ~10x LIMIT delivers LIMIT
    within 20% (measured by a2's received frame bytes, the unit the bucket counts), and the
    excess is counted as rate_limit drops (tx) against a1; one TCP stream a1 -> wire with
    the default burst gets at least 60% of the limit (about 95% in the benchmark,
    tests/bench/ratelimit; 25% with the old 50 ms burst) and never more than it;
  * receive: a2's rx limit LIMIT; the same flood from an unlimited a1, and a flood from the
    wire, deliver LIMIT within 20%, the excess counted as rate_limit drops (rx) against a2;
  * storm control: a1 limited to STORM_PPS broadcast frames per second; a broadcast flood
    far above it reaches a2 at STORM_PPS within 20% plus the burst, the rest counted as
    storm_broadcast drops (tx) against a1; unicast is untouched by it.

Generators are bounded in time (iperf3 -t, a counted raw-socket loop). Assertions are about
correctness with wide margins, not speed.
"""

import json
import time

import fastpath_env as fe
from fastpath_env import check, note

LIMIT = 20_000_000  # bit/s
FLOOD = 10 * LIMIT
SECONDS = 3
STORM_PPS = 100
RATE_LIMIT = fe.DROP_REASONS.index("rate_limit")
STORM_BROADCAST = fe.DROP_REASONS.index("storm_broadcast")
BURST = 128 * 1024  # the smallest bucket (bytes), the burst of the UDP checks below
DEFAULT_BURST = LIMIT // 8 * 250 // 1000  # burst_bytes 0: 250 ms of the rate


def ctl(env: fe.Env, *args: str) -> None:
    env.d.ctl(["context", "update"] + list(args))


def rx_bytes(env: fe.Env, cid: int) -> int:
    return env.stats()[cid]["rx_bytes"]


def drops(env: fe.Env, cid: int, direction: int, reason: int) -> int:
    return env.stats()[cid]["drops"][direction][reason]


def iperf(env: fe.Env, client_ns: str, server_ns: str, addr: str, udp: bool,
          rate: int = 0) -> dict:
    """One bounded iperf3 run client -> server; the client's JSON result."""
    port = 5201  # the server has a namespace of its own
    server = env.t.popen(server_ns, ["iperf3", "-s", "-1", "-p", str(port)])
    try:
        time.sleep(0.5)  # iperf3 -s listening
        args = ["iperf3", "-c", addr, "-p", str(port), "-t", str(SECONDS), "-J"]
        if udp:
            args += ["-u", "-b", str(rate), "-l", "1400"]
        r = env.t.run(client_ns, args, check=False, timeout=SECONDS + 20)
        return json.loads(r.stdout or "{}")
    finally:
        try:
            server.wait(timeout=10)
        except Exception:  # noqa: BLE001 - a server that hangs is killed, the test goes on
            server.kill()
            server.wait()


def measure_rx(env: fe.Env, receiver_id: int, flood) -> float:
    """Bits per second the receiver got during `flood()` (its frame bytes over the run)."""
    before = rx_bytes(env, receiver_id)
    flood()
    return (rx_bytes(env, receiver_id) - before) * 8 / SECONDS


def within(measured: float, limit: int) -> bool:
    """The limit within 20%; the burst may come on top (at most one bucket over the run)."""
    return 0.8 * limit <= measured <= 1.2 * limit + BURST * 8 / SECONDS


BCAST_GEN = r"""
import socket, struct, sys, time
ifname, mac, ip, count, seconds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
src = bytes.fromhex(mac.replace(":", ""))
ip4 = socket.inet_aton(ip)
udp = struct.pack("!HHHH", 40000, 9, 8 + 18, 0) + b"x" * 18
iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, ip4, b"\xff" * 4)
frame = b"\xff" * 6 + src + b"\x08\x00" + iph + udp
gap, t0 = seconds / count, time.monotonic()
for i in range(count):
    s.send(frame)
    wait = t0 + (i + 1) * gap - time.monotonic()
    if wait > 0:
        time.sleep(wait)
print(count)
"""


def test(env: fe.Env) -> None:
    t, a1, a2, w = env.t, env.a1, env.a2, env.wire
    a1_id, a2_id = env.id_of["a1"], env.id_of["a2"]
    for addr in (a2.ipv4, w.ipv4):
        check(t.wait_ping(a1.ns, addr, 5), f"a1 reaches {addr}")

    # Transmit: UDP at 10x the limit (the smallest bucket: the burst hardly shows in 3 s).
    ctl(env, str(a1_id), "--rate", str(LIMIT), "--burst", str(BURST))
    d0 = drops(env, a1_id, fe.DIR_TX, RATE_LIMIT)
    got = measure_rx(env, a2_id, lambda: iperf(env, a1.ns, a2.ns, a2.ipv4, True, FLOOD))
    dropped = drops(env, a1_id, fe.DIR_TX, RATE_LIMIT) - d0
    note(f"tx limit {LIMIT / 1e6:.0f} Mbit/s, UDP flood {FLOOD / 1e6:.0f} Mbit/s: a2 got "
         f"{got / 1e6:.2f} Mbit/s ({got / LIMIT:.2f} of the limit), {dropped} dropped")
    check(within(got, LIMIT), "tx: UDP flood at 10x delivers the limit within 20%")
    check(dropped > 0, "tx: the excess is counted as rate_limit drops (tx) against a1")

    # Transmit: one TCP stream to the wire (GSO super-packets, counted by wire length) with
    # the default burst. A policer drop costs TCP its window's tail and a retransmission
    # timeout (200 ms or more); the default burst covers it. With 50 ms it got 25%.
    ctl(env, str(a1_id), "--rate", str(LIMIT), "--burst", "0")
    res = iperf(env, a1.ns, w.ns, w.ipv4, False)
    tcp = res.get("end", {}).get("sum_received", {}).get("bits_per_second", 0.0)
    note(f"tx limit {LIMIT / 1e6:.0f} Mbit/s, one TCP stream a1 -> wire: "
         f"{tcp / 1e6:.2f} Mbit/s ({tcp / LIMIT:.2f} of the limit)")
    check(0.6 * LIMIT <= tcp <= 1.1 * LIMIT + (DEFAULT_BURST + 65536) * 8 / SECONDS,
          "tx: one TCP stream with the default burst gets at least 60% of the limit and "
          "not more than it (plus the burst and one super-packet)")
    ctl(env, str(a1_id), "--rate", "0")

    # Receive: a2's limit, from a guest and from the wire.
    ctl(env, str(a2_id), "--rx-rate", str(LIMIT), "--rx-burst", str(BURST))
    d0 = drops(env, a2_id, fe.DIR_RX, RATE_LIMIT)
    got = measure_rx(env, a2_id, lambda: iperf(env, a1.ns, a2.ns, a2.ipv4, True, FLOOD))
    note(f"rx limit {LIMIT / 1e6:.0f} Mbit/s, UDP flood from a1: a2 got {got / 1e6:.2f} Mbit/s "
         f"({got / LIMIT:.2f} of the limit)")
    check(within(got, LIMIT), "rx: flood from a guest delivers the limit within 20%")
    got = measure_rx(env, a2_id, lambda: iperf(env, w.ns, a2.ns, a2.ipv4, True, FLOOD))
    note(f"rx limit {LIMIT / 1e6:.0f} Mbit/s, UDP flood from the wire: a2 got "
         f"{got / 1e6:.2f} Mbit/s ({got / LIMIT:.2f} of the limit)")
    check(within(got, LIMIT), "rx: flood from the wire delivers the limit within 20%")
    check(drops(env, a2_id, fe.DIR_RX, RATE_LIMIT) > d0,
          "rx: the excess is counted as rate_limit drops (rx) against a2")
    ctl(env, str(a2_id), "--rx-rate", "0")

    # Storm control: broadcast flood from a1 at 20x its limit.
    ctl(env, str(a1_id), "--storm-broadcast", str(STORM_PPS))
    count, seconds = 20 * STORM_PPS * SECONDS, float(SECONDS)
    before, d0 = env.stats()[a2_id]["rx_packets"], drops(env, a1_id, fe.DIR_TX, STORM_BROADCAST)
    t.run(a1.ns, [fe.SYSTEM_PYTHON, "-c", BCAST_GEN, a1.guest_if, a1.mac, a1.ipv4, str(count),
                  str(seconds)], timeout=SECONDS + 20)
    got = env.stats()[a2_id]["rx_packets"] - before
    dropped = drops(env, a1_id, fe.DIR_TX, STORM_BROADCAST) - d0
    want = STORM_PPS * SECONDS
    note(f"storm control {STORM_PPS} broadcast/s, {count} sent in {SECONDS} s: a2 got {got} "
         f"({got / want:.2f} of {want}), {dropped} dropped as storm_broadcast")
    check(0.8 * want <= got <= 1.2 * want + STORM_PPS / 10 + 20,
          "storm: the broadcast flood is cut to the limit within 20% (a2's other traffic "
          "and the burst on top)")
    check(dropped >= count - got - 20, "storm: the rest is counted as storm_broadcast (tx)")
    check(t.wait_ping(a1.ns, a2.ipv4, 5), "storm: unicast still flows")


if __name__ == "__main__":
    fe.main("ratelimit", test, prefix="vrl")
