#!/usr/bin/python3
"""An example orchestrator on vnet's Python client (`vnet.client`, built into
BUILD/python and installed by the package): it makes vnetd hold exactly the guests of a
desired-state file, then streams per-guest rates.

    orchestrator.py [--target unix:/run/vnet/vnetd.sock] GUESTS.json [--watch N]

GUESTS.json: {"guests": [{"domain": 5, "device": 0, "interface": "vif5.0",
               "mac": "00:16:3e:00:00:05", "ips": ["198.18.0.5", "2001:db8::5"],
               "vlan": 10, "mtu": 1500}, ...]}

What it does, the way an orchestrator reconciles:
  - plugs in every listed guest that vnetd does not hold (AssignContext);
  - changes what differs for the ones it holds (UpdateContext with a field mask: MTU, VLAN,
    addresses);
  - unplugs every other context (this orchestrator owns vnetd's contexts);
  - with --watch N, prints each guest's packet and byte rates N times, a second apart.
Exit 0 when vnetd holds exactly the file's guests; 1 with vnetd's message otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys

import grpc

from vnet.client import DEFAULT_TARGET, Client


def plan(want: list, have: list):
    """(to_assign, to_update [(context, fields)], to_release) from desired and held."""
    held = {(c.domain_id, c.device_id): c for c in have}
    wanted = {(g["domain"], g["device"]): g for g in want}
    assign, update = [], []
    for key, g in wanted.items():
        c = held.get(key)
        if c is None:
            assign.append(g)
            continue
        fields = {}
        if g.get("mtu", 1500) != c.mtu:
            fields["mtu"] = g.get("mtu", 1500)
        if g.get("vlan", 1) != c.vlan:
            fields["vlan"] = g.get("vlan", 1)
        v4 = sorted(a for a in g.get("ips", []) if ":" not in a)
        v6 = sorted(a for a in g.get("ips", []) if ":" in a)
        if v4 != sorted(c.ipv4_addresses):
            fields["ipv4_addresses"] = v4
        if v6 != sorted(c.ipv6_addresses):
            fields["ipv6_addresses"] = v6
        if fields:
            update.append((c, fields))
    release = [c for key, c in held.items() if key not in wanted]
    return assign, update, release


def reconcile(vnet: Client, guests: list) -> None:
    assign, update, release = plan(guests, vnet.list())
    for g in assign:
        c = vnet.assign(domain=g["domain"], device=g["device"], interface=g["interface"],
                        mac=g["mac"], ips=g.get("ips", []), vlan=g.get("vlan", 0),
                        mtu=g.get("mtu", 0))
        print(f"plugged  {c.interface_name}: context {c.id} domain {c.domain_id}", flush=True)
    for c, fields in update:
        vnet.update(c.id, **fields)
        print(f"updated  {c.interface_name}: {', '.join(sorted(fields))}", flush=True)
    for c in release:
        vnet.release(c.id)
        print(f"unplugged {c.interface_name}: context {c.id}", flush=True)


def watch(vnet: Client, count: int) -> None:
    prev = None
    for reading in vnet.watch_stats(interval=1.0, count=count + 1):
        now = {s.context_id: s for s in reading.contexts}
        t = reading.read_time.ToNanoseconds() / 1e9
        if prev is not None:
            dt = max(t - prev[0], 1e-9)
            for cid, s in sorted(now.items()):
                p = prev[1].get(cid)
                if p is None:
                    continue
                print(f"context {cid} {s.interface_name}: "
                      f"tx {(s.tx_packets - p.tx_packets) / dt:.0f} pkt/s "
                      f"{(s.tx_bytes - p.tx_bytes) * 8 / dt:.0f} bit/s, "
                      f"rx {(s.rx_packets - p.rx_packets) / dt:.0f} pkt/s "
                      f"{(s.rx_bytes - p.rx_bytes) * 8 / dt:.0f} bit/s, "
                      f"drops {sum(d.packets for d in s.drops) - sum(d.packets for d in p.drops)}",
                      flush=True)
        prev = (t, now)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--target", default=DEFAULT_TARGET, help="gRPC target of vnetd")
    p.add_argument("--watch", type=int, default=0, metavar="N", help="print rates N times")
    p.add_argument("guests", help="desired-state JSON file")
    a = p.parse_args()
    with open(a.guests) as f:
        guests = json.load(f)["guests"]
    try:
        with Client(a.target) as vnet:
            reconcile(vnet, guests)
            if a.watch:
                watch(vnet, a.watch)
    except grpc.RpcError as e:
        print(f"orchestrator: vnetd: {e.code().name}: {e.details()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
