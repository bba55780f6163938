#!/usr/bin/python3
"""fastpath.restart: kill -9 vnetd under a ping flood, start it again: nothing lost, tables
unchanged.

Three bounded floods run at once (ping -i 0.002 -c 3000, about 6 s each): a1 -> a2 IPv4
(VLAN 1), b1 -> b2 IPv6 (VLAN 10), a2 -> the wire host IPv4 (guest TC -> uplink -> wire,
and back through the uplink XDP/TC programs). After about 1.5 s vnetd gets SIGKILL; while it
is dead its pins and the guest filters must still be there; it is then started again with
the same state dir, pin dir and socket. Every flood must report 0% loss (transmitted ==
received == count), and the daemon's tables (every pinned map but the counters and the
trace, dumped with bpftool), the ids of the pinned maps (reused, not recreated), and
`vnetctl context list -o json` must be the same before and after.
"""

import json
import os
import signal
import time

import fastpath_env as fe
from fastpath_env import check, note

COUNT = 3000
INTERVAL = "0.002"


def snapshot(env: fe.Env) -> dict:
    return {"tables": env.dump_tables(), "map_ids": env.map_ids(),
            "contexts": json.loads(env.d.ctl(["context", "list", "-o", "json"]).stdout)}


def test(env: fe.Env) -> None:
    t = env.t
    a1, a2, b1, b2, w = env.a1, env.a2, env.b1, env.b2, env.wire
    env.assert_no_bridge()
    flows = [(a1, a2.ipv4, "a1 -> a2 IPv4 (VLAN 1)"), (b1, b2.ipv6, "b1 -> b2 IPv6 (VLAN 10)"),
             (a2, w.ipv4, "a2 -> wire IPv4 (VLAN 1)")]
    for src, addr, what in flows:
        check(t.wait_ping(src.ns, addr, 5), f"before: {what} answers")
    before = snapshot(env)
    note(f"tables before: " + ", ".join(f"{m}: {len(v)} entries"
                                        for m, v in before["tables"].items()))
    filters_before = {g.name: env.vnet_tc_programs(g.host_if) for g in env.guests}
    stats_before = env.stats()

    pings = []
    for src, addr, what in flows:
        # -w bounds a flood; on a loaded host ping sends late, and 3000 pings took over 20 s.
        cmd = ["ping", "-n", "-q", "-i", INTERVAL, "-c", str(COUNT), "-W", "1", "-w", "60"]
        if ":" in addr:
            cmd.insert(1, "-6")
        pings.append((what, t.popen(src.ns, cmd + [addr])))
    time.sleep(1.5)
    old_pid = env.d.proc.pid
    os.kill(old_pid, signal.SIGKILL)
    env.d.proc.wait(timeout=5)
    t_dead = time.monotonic()
    check(env.d.proc.returncode == -signal.SIGKILL, f"vnetd (pid {old_pid}) killed with SIGKILL")
    check(all(p.poll() is None for _, p in pings), "the floods are still running")
    check(os.path.isdir(env.d.pin_dir) and env.dump_tables() == before["tables"],
          "while vnetd is dead: pins and tables are there, unchanged")
    check(all("vnet_guest_tc" in env.vnet_tc_programs(g.host_if) for g in env.guests),
          "while vnetd is dead: guest programs stay attached")
    time.sleep(1.0)  # a second of forwarding with no daemon at all
    t0 = time.monotonic()
    env.d.start()
    note(f"vnetd restarted (pid {env.d.proc.pid}) in {time.monotonic() - t0:.2f}s, "
         f"dead for {time.monotonic() - t_dead:.2f}s")
    running_after = sum(1 for _, p in pings if p.poll() is None)
    note(f"floods still running when vnetd answered again: {running_after}/3")

    results = []
    for what, p in pings:
        try:
            out, err = p.communicate(timeout=70)
        except Exception:
            t.stop(p)
            out, err = "", "timed out"
        tx, rx = fe.parse_ping(out)
        results.append((what, tx, rx))
        note(f"{what}: {tx} transmitted, {rx} received, {tx - rx} lost")
    for what, tx, rx in results:
        check(tx == COUNT and rx == tx, f"flood {what}: 0% loss ({rx}/{tx} of {COUNT})")

    after = snapshot(env)
    for m in before["tables"]:
        check(after["tables"].get(m) == before["tables"][m],
              f"table {m} unchanged ({len(before['tables'][m])} entries)")
    check(after["map_ids"] == before["map_ids"],
          f"pinned maps reused, not recreated (ids {before['map_ids']} -> {after['map_ids']})")
    check(after["contexts"] == before["contexts"], "vnetctl context list -o json unchanged")
    filters_after = {g.name: env.vnet_tc_programs(g.host_if) for g in env.guests}
    same = filters_after == filters_before
    note(f"guest tc filters {'identical' if same else 'replaced'} after restart")
    check(all("vnet_guest_tc" in f for f in filters_after.values()),
          "guest programs attached after restart")
    stats_after = env.stats()
    aid = env.id_of["a1"]
    moved = stats_after[aid]["tx_packets"] - stats_before[aid]["tx_packets"]
    check(moved >= COUNT, f"a1's flood went through vnet: ctx {aid} tx +{moved} (>= {COUNT}); "
                          f"counters survived the restart")
    fp = env.d.fast_path_status()
    check(fp is not None and "5/128 contexts attached" in fp, f"after restart: {fp}")


if __name__ == "__main__":
    fe.main("restart", test, prefix="fk")
