#!/usr/bin/python3
"""End to end: a real Prometheus scrapes a real vnetd while namespace guests exchange a
known amount of traffic; its HTTP API must report what was sent, and a released context's
series must disappear.

Setup (tests/netns/topology.py): a wire namespace behind an uplink veth, two guests g1, g2
behind host-side veths, vnetd with the BPF fast path on the uplink and a context per guest.
Prometheus (Debian's package) runs on 127.0.0.1 on a free port with a temporary storage
directory, scraping vnetd's /metrics every second, and is stopped at the end.

Traffic, counted by the fast path at the guests' host-side interfaces:
  g1 -> g2: N1 UDP datagrams of P1 payload bytes; g2 -> g1: N2 of P2 (different numbers,
  so a swapped direction shows). Static neighbour entries mean no ARP/ND during the run;
  what else a guest may send (e.g. an MLD report) is bounded by SLACK frames.
  g1 also writes K 60-byte frames with a forged source MAC: vnet_context_drops_total
  {direction="tx", reason="spoof_mac"} must grow by K, and g1's tx counters by those K
  frames too (tx counts every frame the guest sent, dropped ones included).
  The wire sends K_UNKNOWN frames to a MAC no guest has: vnet_unattributed_drops_total
  {direction="rx", reason="unknown_unicast"} must grow by that many.

Needs root and a vnetd built with the BPF fast path; without either it fails (exit 1),
never passes vacuously. Usage: prometheus_e2e.py --build-dir BUILD
"""

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "netns"))
from topology import (HarnessError, Topology, VnetDaemon, check_clean,  # noqa: E402
                      free_tcp_port, SYSTEM_PYTHON)

N1, P1 = 1000, 200   # g1 -> g2
N2, P2 = 600, 400    # g2 -> g1
K_SPOOF = 50
K_UNKNOWN = 30
SPOOF_FRAME = 60     # bytes: minimum Ethernet frame without FCS
SLACK = 20           # frames a guest may send on its own (MLD, ...) during the run
UDP_FRAME = 14 + 20 + 8  # Ethernet + IPv4 + UDP headers
PORT = 9999


def log(msg: str) -> None:
    print(f"[metrics-e2e] {msg}", flush=True)


class Prometheus:
    """Debian's prometheus on 127.0.0.1:<free port>, storage in the topology's temp dir."""

    def __init__(self, t: Topology, target: str, files: dict = None):
        """files: name -> text of the configuration (prometheus.yml and what it names);
        default, a 1 s scrape of `target` alone."""
        self.port = free_tcp_port()
        d = os.path.join(t.tmpdir, "prometheus")
        os.makedirs(os.path.join(d, "data"))
        config = os.path.join(d, "prometheus.yml")
        files = files or {"prometheus.yml": (
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: vnetd\n    scrape_interval: 1s\n"
            "    scrape_timeout: 1s\n"
            f"    static_configs:\n      - targets: ['{target}']\n")}
        for name, text in files.items():
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        self.log_path = os.path.join(d, "prometheus.log")
        logf = open(self.log_path, "w")
        self.t = t
        # popen: stopped at the topology's close at the latest (also on failure or signal).
        self.proc = t.popen(None, [
            "prometheus", f"--config.file={config}", f"--storage.tsdb.path={d}/data",
            f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1h",
            "--log.level=warn"], stdout=logf, stderr=subprocess.STDOUT)
        logf.close()

    def stop(self) -> None:
        self.t.stop(self.proc)

    def api(self, path: str, **params) -> dict:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.load(r)
        if body.get("status") != "success":
            raise HarnessError(f"prometheus {path}: {body}")
        return body["data"]

    def query(self, expr: str) -> list:
        return self.api("query", query=expr)["result"]

    def value(self, expr: str):
        """The single sample of expr as a float, None when there is none."""
        result = self.query(expr)
        if len(result) > 1:
            raise HarnessError(f"{expr}: {len(result)} series, expected one")
        return float(result[0]["value"][1]) if result else None

    def wait_ready(self, deadline: float = 30) -> None:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise HarnessError(f"prometheus exited: {open(self.log_path).read()[-800:]}")
            try:
                if self.value('up{job="vnetd"}') == 1:
                    return
            except (OSError, HarnessError):
                pass
            time.sleep(0.5)
        try:
            errors = [t.get("lastError") for t in self.api("targets")["activeTargets"]]
        except (OSError, HarnessError) as e:
            errors = [str(e)]
        raise HarnessError(f"prometheus never scraped vnetd up (scrape errors: {errors}; is "
                           f"/metrics wired into vnetd?) {open(self.log_path).read()[-800:]}")

    def wait_stable(self, exprs: dict, deadline: float = 30) -> dict:
        """Wait until every expr (name -> PromQL) kept one value over 3 scrapes; the values."""
        end = time.monotonic() + deadline
        last, same = None, 0
        while time.monotonic() < end:
            now = {k: self.value(e) for k, e in exprs.items()}
            complete = all(v is not None for v in now.values())
            same = same + 1 if (complete and now == last) else 0
            if same >= 3:
                return now
            last = now
            time.sleep(1.1)
        raise HarnessError(f"series did not settle: {last}")


def udp_flow(t: Topology, src, dst, count: int, payload: int) -> None:
    """count datagrams of payload bytes from src to dst, received by a sink in dst."""
    sink = t.popen(dst.ns, [SYSTEM_PYTHON, "-c", f"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind(('{dst.ipv4}', {PORT}))
s.settimeout(10)
n = 0
try:
    while n < {count}:
        s.recv(65536); n += 1
except socket.timeout:
    pass
print(n)
"""], stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    t.run(src.ns, [SYSTEM_PYTHON, "-c", f"""
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range({count}):
    s.sendto(b'x' * {payload}, ('{dst.ipv4}', {PORT}))
    if i % 100 == 99: time.sleep(0.01)  # stay well inside the sink's buffer
"""], timeout=30)
    out, _ = sink.communicate(timeout=20)
    got = int(out.strip() or 0)
    if got != count:
        raise HarnessError(f"sink in {dst.name} received {got} of {count} datagrams")


def check_delta(name: str, before: float, after: float, expected: float, slack: float) -> list:
    delta = after - before
    ok = expected <= delta <= expected + slack
    log(f"{'ok  ' if ok else 'FAIL'} {name}: +{delta:.0f} (expected {expected:.0f}"
        f"{'' if slack == 0 else f' .. {expected + slack:.0f}'})")
    return [] if ok else [f"{name}: +{delta:.0f}, expected {expected:.0f}..{expected + slack:.0f}"]


def spoofed_frames(dst_mac: str, count: int) -> list:
    dst = bytes.fromhex(dst_mac.replace(":", ""))
    src = bytes.fromhex("02dead000001")  # not the guest's MAC
    frame = dst + src + b"\x08\x00" + bytes(SPOOF_FRAME - 14)
    return [frame] * count


def run(build_dir: str) -> int:
    if os.geteuid() != 0:
        log("FAIL: needs root (namespaces, BPF)")
        return 1
    failures = []
    with Topology(prefix="vm") as t:
        wire = t.add_wire("w")
        g1 = t.add_guest("g1", gro=True)
        g2 = t.add_guest("g2", gro=True)
        metrics_port = free_tcp_port()
        d = VnetDaemon(t, build_dir, wire.host_if,
                       extra_args=[f"--metrics_address=127.0.0.1:{metrics_port}"])
        d.start()  # VnetUnavailable (a failure) when vnetd has no fast path
        d.assign(g1, domain=11)
        d.assign(g2, domain=12)
        if not t.wait_ping(g1.ns, g2.ipv4, deadline=5):
            raise HarnessError(f"g1 cannot reach g2 through vnet: {d.log_tail()}")
        # Static neighbours: no ARP or ND in the measured window.
        for a, b in ((g1, g2), (g2, g1)):
            t.run(a.ns, ["ip", "neigh", "replace", b.ipv4, "lladdr", b.mac, "dev", a.guest_if,
                         "nud", "permanent"])

        prom = Prometheus(t, f"127.0.0.1:{metrics_port}")
        prom.wait_ready()
        log(f"prometheus on 127.0.0.1:{prom.port} scrapes vnetd on 127.0.0.1:{metrics_port}")

        def sel(metric: str, g, extra: str = "") -> str:
            return f'{metric}{{job="vnetd", interface="{g.host_if}"{extra}}}'

        series = {
            "g1 tx packets": (sel("vnet_context_tx_packets_total", g1), N1 + K_SPOOF, SLACK),
            "g1 tx bytes": (sel("vnet_context_tx_bytes_total", g1),
                            N1 * (UDP_FRAME + P1) + K_SPOOF * SPOOF_FRAME, SLACK * 200),
            "g2 rx packets": (sel("vnet_context_rx_packets_total", g2), N1, SLACK),
            "g2 rx bytes": (sel("vnet_context_rx_bytes_total", g2), N1 * (UDP_FRAME + P1),
                            SLACK * 200),
            "g2 tx packets": (sel("vnet_context_tx_packets_total", g2), N2, SLACK),
            "g2 tx bytes": (sel("vnet_context_tx_bytes_total", g2), N2 * (UDP_FRAME + P2),
                            SLACK * 200),
            "g1 rx packets": (sel("vnet_context_rx_packets_total", g1), N2, SLACK),
            "g1 rx bytes": (sel("vnet_context_rx_bytes_total", g1), N2 * (UDP_FRAME + P2),
                            SLACK * 200),
            "g1 tx spoof_mac drops": (sel("vnet_context_drops_total", g1,
                                          ', direction="tx", reason="spoof_mac"'), K_SPOOF, 0),
            "unattributed rx unknown_unicast drops": (
                'vnet_unattributed_drops_total{job="vnetd", direction="rx", '
                'reason="unknown_unicast"}', K_UNKNOWN, 0),
        }
        exprs = {k: expr for k, (expr, _, _) in series.items()}
        before = prom.wait_stable(exprs)

        udp_flow(t, g1, g2, N1, P1)
        udp_flow(t, g2, g1, N2, P2)
        t.send_raw(g1.ns, g1.guest_if, spoofed_frames(g2.mac, 1), repeat=K_SPOOF)
        unknown = bytes.fromhex("02dead0000ff") + bytes.fromhex(wire.mac.replace(":", "")) + \
            b"\x08\x00" + bytes(46)
        t.send_raw(wire.ns, "veth0", [unknown], repeat=K_UNKNOWN)

        after = prom.wait_stable(exprs)
        for k, (_, expected, slack) in series.items():
            failures += check_delta(k, before[k], after[k], expected, slack)

        # vnetctl reads the same counters through the StatsService.
        r = d.ctl(["stats", g1.host_if, "-o", "json"])
        stats = json.loads(r.stdout)["contexts"][0]
        if int(stats["tx_packets"]) != int(after["g1 tx packets"]):
            failures.append(f"vnetctl stats: g1 tx_packets {stats['tx_packets']}, "
                            f"Prometheus {after['g1 tx packets']:.0f}")
        if not any(x["reason"] == "spoof_mac" and x["direction"] == "tx" for x in stats["drops"]):
            failures.append(f"vnetctl stats: no tx spoof_mac drops in {stats['drops']}")
        r = d.ctl(["top", "--iterations", "1", "--interval", "0.5"])
        rows = [line for line in r.stdout.splitlines() if g1.host_if in line or g2.host_if in line]
        if len(rows) != 2 or not all("bit/s" in row for row in rows):
            failures.append(f"vnetctl top does not show rates of both guests:\n{r.stdout}")
        else:
            log("ok   vnetctl stats and top agree; top said:\n" + r.stdout.rstrip())

        labels = prom.query(sel("vnet_context_rx_packets_total", g1))[0]["metric"]
        if labels.get("domain") != "11" or not labels.get("context"):
            failures.append(f"g1's labels: {labels}")
        for iface, role in ((wire.host_if, "uplink"), (g1.host_if, "guest"), (g2.host_if, "guest")):
            v = prom.value(f'vnet_fastpath_attached{{job="vnetd", interface="{iface}", '
                           f'role="{role}"}}')
            if v != 1:
                failures.append(f"vnet_fastpath_attached for {role} {iface}: {v}")
        if prom.value('vnet_ledger_descriptors_abandoned_total{job="vnetd"}') is None:
            failures.append("no buffer-ledger metrics")
        if prom.value('vnet_contexts_in_use{job="vnetd"}') != 2:
            failures.append("vnet_contexts_in_use is not 2")
        rpc = prom.value('sum(vnet_rpc_requests_total{job="vnetd", '
                         'method="/vnet.v1.ContextService/AssignContext", code="OK"})')
        if rpc is None or rpc < 2:
            failures.append(f"AssignContext OK calls: {rpc}, expected >= 2")

        # Release g2: its series go stale at the next scrape and vanish from queries.
        d.release(12)
        end = time.monotonic() + 15
        while time.monotonic() < end and prom.query(sel("vnet_context_rx_packets_total", g2)):
            time.sleep(0.5)
        left = prom.query(f'{{job="vnetd", interface="{g2.host_if}"}}')
        if left:
            failures.append(f"released g2 still has {len(left)} series")
        else:
            log("ok   released context's series are gone")
        if prom.value(sel("vnet_context_rx_packets_total", g1)) is None:
            failures.append("g1's series vanished with g2's")
        in_use = prom.wait_stable({"in use": 'vnet_contexts_in_use{job="vnetd"}'})["in use"]
        if in_use != 1:
            failures.append("vnet_contexts_in_use is not 1 after the release")
        prom.stop()
        tag, extra = t.tag, d.leftover_patterns()
    check_clean(tag, extra)
    for f in failures:
        log(f"FAIL: {f}")
    log("PASS" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", required=True)
    args = parser.parse_args()
    try:
        return run(os.path.abspath(args.build_dir))
    except HarnessError as e:  # includes VnetUnavailable: no fast path is a failure here
        log(f"FAIL: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
