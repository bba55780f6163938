#!/usr/bin/python3
"""An example orchestrator on vnet's Python client (`vnet.client`, built into
BUILD/python and installed by the package): it makes vnetd hold exactly the guests of a
desired-state file, limits included, then streams per-guest rates and drop events.

    orchestrator.py [--target unix:/run/vnet/vnetd.sock]
                    [--tls-ca CA.pem --tls-cert CLIENT.pem --tls-key CLIENT.key]
                    GUESTS.json [--watch N] [--drops N [--drops-timeout S]]

GUESTS.json: {"guests": [{"domain": 5, "device": 0, "interface": "vif5.0",
               "mac": "00:16:3e:00:00:05", "ips": ["198.18.0.5", "2001:db8::5"],
               "vlan": 10, "mtu": 1500,
               "rate_limit": {"bits_per_second": 100000000, "burst_bytes": 262144},
               "rx_rate_limit": {"bits_per_second": 50000000},
               "storm_control": {"broadcast_pps": 200, "multicast_pps": 1000,
                                 "unknown_unicast_pps": 1000}}, ...]}
(the limits are vnet.v1.RateLimit and StormControl, docs/api.md; absent means unlimited)

What it does, the way an orchestrator reconciles:
  - plugs in every listed guest that vnetd does not hold (AssignContext), limits included;
  - changes what differs for the ones it holds (UpdateContext with a field mask: MTU, VLAN,
    addresses, rate_limit, rx_rate_limit, storm_control);
  - unplugs every other context (this orchestrator owns vnetd's contexts);
  - with --watch N, prints each guest's packet and byte rates N times, a second apart;
  - with --drops N, prints the frames the fast path drops for its guests as they happen
    (MonitorService.WatchDrops), until N events or --drops-timeout seconds (default 60).
--target HOST:PORT with --tls-ca/--tls-cert/--tls-key talks mutual TLS to vnetd's TCP
address; the certificate's OU is the role (reconciling needs operator, watching reader).
Exit 0 when vnetd holds exactly the file's guests; 1 with vnetd's message otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys

import grpc
from google.protobuf import json_format

from vnet.client import DEFAULT_TARGET, Client, mtls_credentials
from vnet.v1 import context_pb2

# The limits of a guest: its file's key (a Context field) and the message it holds.
LIMITS = (("rate_limit", context_pb2.RateLimit), ("rx_rate_limit", context_pb2.RateLimit),
          ("storm_control", context_pb2.StormControl))


def limits_of(g: dict) -> dict:
    """The guest's limits as messages (absent: the empty message, i.e. unlimited)."""
    out = {}
    for field, cls in LIMITS:
        msg = cls()
        json_format.ParseDict(g.get(field, {}), msg)
        out[field] = msg
    return out


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
        for field, msg in limits_of(g).items():
            if msg != getattr(c, field):
                fields[field] = msg
        if fields:
            update.append((c, fields))
    release = [c for key, c in held.items() if key not in wanted]
    return assign, update, release


def reconcile(vnet: Client, guests: list) -> None:
    assign, update, release = plan(guests, vnet.list())
    for g in assign:
        c = vnet.assign(domain=g["domain"], device=g["device"], interface=g["interface"],
                        mac=g["mac"], ips=g.get("ips", []), vlan=g.get("vlan", 0),
                        mtu=g.get("mtu", 0), **limits_of(g))
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


def watch_drops(vnet: Client, count: int, timeout: float) -> None:
    """Drop events of the contexts vnetd holds (this orchestrator's guests)."""
    ids = [c.id for c in vnet.list()]
    if not ids:
        print("no guests: no drop events to watch", flush=True)
        return
    print(f"watching drops of contexts {','.join(map(str, ids))}", flush=True)
    for ev in vnet.watch_drops(contexts=ids, count=count, duration=timeout):
        t = ev.time.ToDatetime().strftime("%H:%M:%S.%f")
        lost = f" ({ev.lost_before} lost before)" if ev.lost_before else ""
        print(f"drop {t} context {ev.context_id} {ev.interface_name} {ev.direction} "
              f"{ev.reason} len {ev.frame_length} src {ev.frame_head[6:12].hex(':')}{lost}",
              flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--target", default=DEFAULT_TARGET, help="gRPC target of vnetd")
    p.add_argument("--watch", type=int, default=0, metavar="N", help="print rates N times")
    p.add_argument("--drops", type=int, default=0, metavar="N",
                   help="print the guests' dropped frames until N events")
    p.add_argument("--drops-timeout", type=float, default=60.0, metavar="S",
                   help="... or S seconds (default 60)")
    p.add_argument("--tls-ca", help="PEM CA that signed vnetd's certificate (mutual TLS)")
    p.add_argument("--tls-cert", help="this client's PEM certificate (its OU is the role)")
    p.add_argument("--tls-key", help="its PEM private key")
    p.add_argument("guests", help="desired-state JSON file")
    a = p.parse_args()
    tls = (a.tls_ca, a.tls_cert, a.tls_key)
    if any(tls) and not all(tls):
        p.error("--tls-ca, --tls-cert and --tls-key go together")
    if a.drops < 0 or a.drops_timeout <= 0:
        p.error("--drops needs N >= 0 and --drops-timeout S > 0 (the stream is bounded)")
    with open(a.guests) as f:
        guests = json.load(f)["guests"]
    credentials = mtls_credentials(*tls) if all(tls) else None
    try:
        with Client(a.target, credentials=credentials) as vnet:
            reconcile(vnet, guests)
            if a.watch:
                watch(vnet, a.watch)
            if a.drops:
                watch_drops(vnet, a.drops, a.drops_timeout)
    except grpc.RpcError as e:
        print(f"orchestrator: vnetd: {e.code().name}: {e.details()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
