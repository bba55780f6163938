#!/usr/bin/python3
"""The Grafana dashboard and the alert rules, proven against data: every query of
deploy/grafana/vnet-dashboard.json (its template variables included) and every rule of
deploy/prometheus/vnet-alerts.yml is evaluated by a real Prometheus scraping a real vnetd
while namespace guests make the traffic each one is about, and must return series.

What the run provokes (bounded; guests g1..g3 and a wire behind vnet's fast path):
  TCP g1 -> g2 with GRO/TSO (super-packets crossing whole), TCP g1 -> g3 whose context
  takes no receive offloads and has a lower MTU than its interface (the kernel segments,
  completes checksums, and vnet cuts segment sizes), spoofed frames from g1, frames to an
  unknown MAC from the wire, oversized datagrams to g3 (mtu drops), a refused buffer
  descriptor (ledger rejections), a context on a missing interface (a detached fast path)
  that also fills the pool (--capacity 4), and at the end vnetd stopped (up == 0).
An alert's full expression must return series where the run provokes its condition;
VnetdMetricsAbsent (no target at all) and VnetRpcErrors (a server-side failure) are
checked on their data (the selector without the condition). Queries whose data the fast
path cannot produce yet are listed in NOT_YET with the reason, and fail the test if they
start returning series (so the list is cleaned up when the feature lands).

Needs root (namespaces, BPF). Usage: dashboard_e2e.py --build-dir BUILD --source-dir SRC
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "netns"))
sys.path.insert(0, HERE)
from topology import HarnessError, Topology, VnetDaemon, check_clean, free_tcp_port  # noqa
from prometheus_e2e import Prometheus, spoofed_frames  # noqa: E402

# Data the fast path cannot produce yet: metric name -> why.
NOT_YET: dict = {}
# Rules whose condition the run cannot provoke: the data they read must be there.
DATA_ONLY = {
    "VnetdMetricsAbsent": 'up{job="vnetd"}',  # needs no scrape target at all
    "VnetRpcErrors": "vnet_rpc_requests_total",  # needs a server-side failure
}
RATE_INTERVAL = "60s"  # Grafana's $__rate_interval, for a 1 s scrape


def log(msg: str) -> None:
    print(f"[dashboard-e2e] {msg}", flush=True)


def dashboard_queries(path: str):
    """(where, expr) for every panel target and template variable of the dashboard; a
    panel without a query or a repeated panel id is an error (HarnessError)."""
    d = json.load(open(path))
    out, ids = [], []
    for v in d.get("templating", {}).get("list", []):
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query")
        if v.get("type") == "query" and q:
            out.append((f"variable ${v['name']}", q))

    def walk(panels):
        for p in panels:
            ids.append(p.get("id"))
            if p.get("type") != "row" and not any(t.get("expr") for t in p.get("targets", [])):
                raise HarnessError(f"dashboard panel '{p.get('title')}' has no query")
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((f"panel {p.get('id')} '{p.get('title')}'", t["expr"]))
            walk(p.get("panels", []))
    walk(d.get("panels", []))
    if len(ids) != len(set(ids)):
        raise HarnessError(f"dashboard panel ids repeat: {sorted(ids)}")
    return out


def instantiate(expr: str) -> str:
    """Grafana's variables as a dashboard with "All" selected would send them."""
    for var in ("instance", "domain", "interface"):
        expr = expr.replace(f"${var}", ".*").replace(f"${{{var}}}", ".*")
    return expr.replace("$__rate_interval", RATE_INTERVAL).replace("$__interval", "5s")


def alert_rules(path: str):
    """(name, expr) of every alerting rule (a YAML subset: `- alert:` then `expr:`)."""
    rules, name, lines = [], None, open(path).read().splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^\s*- alert:\s*(\S+)", lines[i])
        if m:
            name = m.group(1)
        m = re.match(r"^(\s*)expr:\s*(.*)$", lines[i])
        if m and name:
            indent, rest = len(m.group(1)), m.group(2).strip()
            if rest in (">-", ">", "|", "|-"):
                body = []
                while i + 1 < len(lines) and (not lines[i + 1].strip() or
                                              len(lines[i + 1]) - len(lines[i + 1].lstrip())
                                              > indent):
                    i += 1
                    body.append(lines[i].strip())
                rest = " ".join(b for b in body if b)
            rules.append((name, rest))
            name = None
        i += 1
    return rules


def data_part(expr: str) -> str:
    """The expression without its alerting condition: X > 10 -> X, absent(X) -> X."""
    m = re.match(r"^absent\((.*)\)$", expr.strip())
    if m:
        return m.group(1)
    return re.sub(r"\s*(==|!=|>=|<=|>|<)\s*[0-9.]+\s*$", "", expr.strip())


LEDGER = """
import sys, time
sys.path.insert(0, {python!r})
import grpc
from vnet.v1 import buffer_pb2, buffer_pb2_grpc
stub = buffer_pb2_grpc.BufferServiceStub(grpc.insecure_channel('unix:{socket}'))
stub.RegisterRegion(buffer_pb2.RegisterRegionRequest(context_id={ctx}, region=buffer_pb2.Region(
    region_id=1, guest_address=1 << 20, length=1 << 20,
    access=buffer_pb2.REGION_ACCESS_READ_WRITE)), timeout=10)
time.sleep(2.5)  # two scrapes: the context's ledger series exist before they move
good = buffer_pb2.Descriptor(guest_address=(1 << 20) + 4096, length=1500, region_id=1,
                             direction=buffer_pb2.DESCRIPTOR_DIRECTION_FROM_DEVICE)
bad = buffer_pb2.Descriptor(guest_address=1 << 40, length=1500, region_id=1,
                            direction=buffer_pb2.DESCRIPTOR_DIRECTION_FROM_DEVICE)
r = stub.ValidateDescriptors(buffer_pb2.ValidateDescriptorsRequest(
    context_id={ctx}, descriptors=[good, bad]), timeout=10)
print(list(r.verdicts))
"""


def ledger_traffic(build: str, socket: str, ctx: int) -> None:
    """A backend's region and two descriptors: one left in flight, one refused."""
    code = LEDGER.format(python=os.path.join(build, "python"), socket=socket, ctx=ctx)
    r = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        raise HarnessError(f"buffer ledger calls: {r.stderr[-500:]}")
    log(f"ledger verdicts: {r.stdout.strip()}")


def oversized(t: Topology, src, dst, count: int) -> None:
    """count UDP datagrams over dst's context MTU (1400): dropped as mtu toward dst."""
    t.run(src.ns, ["/usr/bin/python3", "-c", f"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range({count}):
    s.sendto(b'x' * 1450, ('{dst.ipv4}', 9999))
"""], timeout=30)


def run(build: str, src: str) -> int:
    if os.geteuid() != 0:
        log("FAIL: needs root (namespaces, BPF)")
        return 1
    queries = dashboard_queries(os.path.join(src, "deploy", "grafana", "vnet-dashboard.json"))
    rules = alert_rules(os.path.join(src, "deploy", "prometheus", "vnet-alerts.yml"))
    if len(queries) < 10 or len(rules) < 5:
        log(f"FAIL: found only {len(queries)} queries and {len(rules)} rules")
        return 1
    failures = []
    with Topology(prefix="vd") as t:
        wire = t.add_wire("w")
        g1 = t.add_guest("g1", gro=True)
        g2 = t.add_guest("g2", gro=True)
        g3 = t.add_guest("g3", gro=True)
        port = free_tcp_port()
        d = VnetDaemon(t, build, wire.host_if,
                       extra_args=[f"--metrics_address=127.0.0.1:{port}", "--capacity=4"])
        d.start()
        d.assign(g1, domain=21)
        d.assign(g2, domain=22)
        d.assign(g3, domain=23)
        # g3 takes nothing as it is, and its context's MTU is below its interface's.
        d.ctl(["context", "update", "--interface", g3.host_if, "--mtu", "1400", "--offloads",
               "tx-csum,sg,tso4,tso6"])
        # The pool's 4th context, on an interface that does not exist: DEGRADED, detached.
        d.ctl(["context", "assign", "--domain", "24", "--device", "0", "--interface",
               t.ifname("gone"), "--mac", "02:00:00:00:24:01"])
        for g in (g2, g3):
            if not t.wait_ping(g1.ns, g.ipv4, deadline=10):
                raise HarnessError(f"g1 cannot reach {g.name}: {d.log_tail()}")
        # The shipped configuration (deploy/prometheus, what the package installs), with the
        # alert rules loaded, scraping every second, pointed at this vnetd.
        ship = os.path.join(src, "deploy", "prometheus")
        config = open(os.path.join(ship, "prometheus.yml")).read()
        config = re.sub(r"(scrape_interval|evaluation_interval|scrape_timeout): \S+", r"\1: 1s",
                        config).replace("127.0.0.1:9464", f"127.0.0.1:{port}")
        prom = Prometheus(t, f"127.0.0.1:{port}", files={
            "prometheus.yml": config,
            "vnet-alerts.yml": open(os.path.join(ship, "vnet-alerts.yml")).read()})
        prom.wait_ready()
        loaded = [r["name"] for g in prom.api("rules")["groups"] for r in g["rules"]]
        if sorted(loaded) != sorted(n for n, _ in rules):
            failures.append(f"Prometheus loaded rules {loaded}, the file has "
                            f"{[n for n, _ in rules]}")

        # Traffic: each source runs a few seconds, bounded.
        servers = [t.popen(g.ns, ["iperf3", "-s", "-1", "-B", g.ipv4], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL) for g in (g2, g3)]
        time.sleep(0.5)
        for g in (g2, g3):
            t.run(g1.ns, ["iperf3", "-c", g.ipv4, "-t", "3", "-l", "64K"], timeout=30)
        for s in servers:
            t.stop(s)
        ledger_traffic(build, d.socket, 1)
        # Drops last, so every rate window holds them: spoofing, unknown unicast from the
        # wire, and enough mtu drops for VnetDropsRising (> 10/s over its 5 min window).
        t.send_raw(g1.ns, g1.guest_if, spoofed_frames(g2.mac, 1), repeat=200)
        unknown = bytes.fromhex("02dead0000ff") + bytes.fromhex(wire.mac.replace(":", "")) + \
            b"\x08\x00" + bytes(46)
        t.send_raw(wire.ns, "veth0", [unknown], repeat=200)
        oversized(t, g1, g3, 4000)
        time.sleep(3)  # a few scrapes after the traffic

        for where, expr in queries:
            e = instantiate(expr)
            exempt = [m for m in NOT_YET if m in e]
            lv = re.match(r"^label_values\((.*),\s*(\w+)\)$", e)
            if lv:  # a variable: Grafana lists that label's values over the selector's series
                n = len([r for r in prom.query(lv.group(1)) if lv.group(2) in r["metric"]])
            else:
                n = len(prom.query(e))
            if exempt and n:
                failures.append(f"{where}: {e} returns data now: drop NOT_YET[{exempt[0]}]")
            elif exempt:
                log(f"n/a  {where}: {NOT_YET[exempt[0]]}")
            elif n == 0:
                failures.append(f"{where}: no series for {e}")
            else:
                log(f"ok   {where}: {n} series")

        provoked = {"VnetDropsRising", "VnetGuestSpoofing", "VnetContextPoolNearlyFull",
                    "VnetFastPathDetached"}
        for name, expr in rules:
            full = len(prom.query(expr))
            data = len(prom.query(DATA_ONLY.get(name, data_part(expr))))
            if name in provoked and full == 0:
                failures.append(f"alert {name}: its condition was provoked but {expr} is empty")
            elif data == 0:
                failures.append(f"alert {name}: no data behind {data_part(expr)}")
            else:
                log(f"ok   alert {name}: condition {full} series, data {data} series")

        # The provoked alerts are pending or firing in Prometheus itself (their `for:` has
        # not run out in a test's time).
        active = {a["labels"]["alertname"] for a in prom.api("alerts")["alerts"]}
        for name in sorted(provoked):
            if name not in active:
                failures.append(f"alert {name} is not pending or firing in Prometheus: {active}")
        log(f"ok   pending or firing in Prometheus: {sorted(active)}")

        # vnetd gone: VnetdDown's condition holds at the next scrape.
        d.stop()
        end = time.monotonic() + 15
        down = [e for n, e in rules if n == "VnetdDown"]
        while down and time.monotonic() < end and not prom.query(down[0]):
            time.sleep(0.5)
        if not down or not prom.query(down[0]):
            failures.append("alert VnetdDown: vnetd stopped but its condition is empty")
        else:
            log("ok   alert VnetdDown fires once vnetd is stopped")
        prom.stop()
        tag, extra = t.tag, d.leftover_patterns()
    check_clean(tag, extra)
    for f in failures:
        log(f"FAIL: {f}")
    log("PASS" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build-dir", required=True)
    p.add_argument("--source-dir", required=True)
    a = p.parse_args()
    try:
        return run(os.path.abspath(a.build_dir), os.path.abspath(a.source_dir))
    except HarnessError as e:
        log(f"FAIL: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
