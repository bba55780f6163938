#!/usr/bin/python3
"""client.orchestrator: the Python client (BUILD/python, stubs generated at build time)
and examples/orchestrator.py against a real vnetd with the BPF fast path, guests in
namespaces. Needs root; fails, never skips, without it.

    test_orchestrator.py BUILD_DIR

Over the Unix socket: reconcile (assign, update, release), vnetd's errors, rates. Then
docs/operations.md, "Orchestrators: the Python client", as written: vnetd also listens on
loopback TCP with mutual TLS (a throwaway CA and server certificate made here with
openssl); every command of the section's sh blocks runs (the doc's 192.0.2.7:50051, vif5.0,
python3 and paths mapped onto this test's vnetd, guest and build; a command the test does
not know fails it) with its guests.json (the guest mapped onto g1, the limits as written):
  - the operator reconciles over TLS: the limits are read back (vnetctl -o json, the
    client) exactly as the file has them, and the fast path enforces storm control
    (broadcasts from g1 beyond the burst are counted as storm_broadcast drops);
  - the reader's `context update` is refused (needs role operator), exit 1, nothing
    changed;
  - `--watch 3 --drops 5`: three rate readings, then drop events provoked by real frames
    from g1's namespace (a spoofed source MAC, a broadcast burst) name g1's context, tx,
    spoof_mac and storm_broadcast, through the client's watch_drops();
  - the section's Python, with the reader's certificate: the limits, then 5 spoof_mac
    events of g1's context (the stream bounded by count and duration).
Beyond the doc: a changed limit is updated (and only it), an unchanged file changes
nothing, the reader is refused update() (PERMISSION_DENIED) but may list, and a TLS client
without a certificate gets no answer.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import struct
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "tests", "netns"))

from topology import Topology, VnetDaemon, check_clean, free_tcp_port  # noqa: E402

EXAMPLE = os.path.join(SRC, "examples", "orchestrator.py")
OPERATIONS = os.path.join(SRC, "docs", "operations.md")
SECTION = "### Orchestrators: the Python client"
DOC_TARGET = "192.0.2.7:50051"
DOC_EXAMPLE = "/usr/share/doc/vnet/examples/orchestrator.py"
DOC_IFACE = "vif5.0"
SPOOFED_MAC = "02:00:5e:00:00:99"
BCAST = "ff:ff:ff:ff:ff:ff"


def check(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)
    print(f"  ok: {what}", flush=True)


def doc_blocks() -> list:
    """(language, text) of each fenced block of the section."""
    text = open(OPERATIONS).read()
    start = text.index(SECTION)
    end = text.index("\n### ", start + len(SECTION))
    return re.findall(r"```(\w*)\n(.*?)```", text[start:end], re.S)


def doc_commands(blocks) -> list:
    """The commands of the sh blocks, continuation lines joined."""
    out = []
    for lang, body in blocks:
        if lang == "sh":
            joined = body.replace("\\\n", " ")
            out += [" ".join(line.split()) for line in joined.splitlines()
                    if line.strip() and not line.lstrip().startswith("#")]
    return out


def ip_checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    total = (total >> 16) + (total & 0xffff)
    return ~(total + (total >> 16)) & 0xffff


def udp_frame(src_mac: str, dst_mac: str, src_ip: str, dst_ip: str, payload: bytes) -> bytes:
    """Ethernet + IPv4 + UDP (40000 > 40001, no UDP checksum)."""
    udp = struct.pack("!HHHH", 40000, 40001, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                     bytes(map(int, src_ip.split("."))), bytes(map(int, dst_ip.split("."))))
    ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
    mac = [bytes.fromhex(m.replace(":", "")) for m in (dst_mac, src_mac)]
    return mac[0] + mac[1] + b"\x08\x00" + ip + udp


def openssl(args, cwd: str) -> None:
    r = subprocess.run(["/usr/bin/openssl"] + args, cwd=cwd, capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)}: {r.stderr.strip()}")


def make_ca(tls: str) -> None:
    """A throwaway CA (ca.pem, ca.key, as the doc names them) and vnetd's certificate for
    127.0.0.1."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl(["req", "-x509"] + ec + ["-days", "1", "-subj", "/CN=vnet test CA",
                                     "-keyout", "ca.key", "-out", "ca.pem"], tls)
    openssl(["req"] + ec + ["-subj", "/CN=vnetd", "-keyout", "server.key",
                            "-out", "server.csr"], tls)
    with open(os.path.join(tls, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "1", "-extfile", "server.ext", "-out", "server.pem"],
            tls)


def main() -> int:
    build = os.path.abspath(sys.argv[1])
    if os.geteuid() != 0:
        print("FAIL: needs root (BPF fast path, namespaces)")
        return 1
    sys.path.insert(0, os.path.join(build, "python"))
    import grpc  # noqa: E402  (Debian's python3-grpcio)
    from vnet.client import Client  # noqa: E402

    env = dict(os.environ, PYTHONPATH=os.path.join(build, "python"))
    with Topology(prefix="vo") as t:
        tag = t.tag
        wire = t.add_wire()
        g1 = t.add_guest("g1", subnet=0)
        g2 = t.add_guest("g2", subnet=0)
        tls = os.path.join(t.tmpdir, "tls")
        os.mkdir(tls)
        make_ca(tls)
        tcp = f"127.0.0.1:{free_tcp_port()}"
        d = VnetDaemon(t, build, uplink=wire.host_if, extra_args=[
            f"--tcp_address={tcp}", f"--tls_cert={tls}/server.pem",
            f"--tls_key={tls}/server.key", f"--tls_client_ca={tls}/ca.pem"])
        d.start()
        target = "unix:" + d.socket
        spec = os.path.join(t.tmpdir, "guests.json")

        def orchestrate(guests, *extra):
            with open(spec, "w") as f:
                json.dump({"guests": guests}, f)
            return subprocess.run(["/usr/bin/python3", EXAMPLE, "--target", target, *extra,
                                   spec], capture_output=True, text=True, env=env, timeout=60)

        def guest(g, dom, **kw):
            return {"domain": dom, "device": 0, "interface": g.host_if, "mac": g.mac,
                    "ips": [g.ipv4, g.ipv6], **kw}

        r = orchestrate([guest(g1, 11), guest(g2, 12, mtu=1500)])
        check(r.returncode == 0, f"orchestrator plugs two guests in: {r.stdout}{r.stderr}")
        check(r.stdout.count("plugged") == 2, "two contexts assigned")
        with Client(target) as vnet:
            held = {c.interface_name: c for c in vnet.list()}
            check(set(held) == {g1.host_if, g2.host_if}, "vnetd holds exactly the file's guests")
            check(sorted(held[g1.host_if].ipv4_addresses) == [g1.ipv4], "addresses as given")
        check(t.wait_ping(g1.ns, g2.ipv4, deadline=10), "guest to guest through the fast path")

        # A changed MTU and a guest gone: updated and unplugged, nothing else touched.
        r = orchestrate([guest(g2, 12, mtu=1400)])
        check(r.returncode == 0, f"second reconcile: {r.stdout}{r.stderr}")
        with Client(target) as vnet:
            held = {c.interface_name: c for c in vnet.list()}
            check(set(held) == {g2.host_if}, f"g1 unplugged: {sorted(held)}")
            check(held[g2.host_if].mtu == 1400, "g2's MTU updated to 1400")
            # The client's errors carry vnetd's status and message.
            try:
                vnet.get(999)
                check(False, "get of a missing context raises")
            except grpc.RpcError as e:
                check(e.code() == grpc.StatusCode.NOT_FOUND, f"NOT_FOUND: {e.details()}")

        # Refused input: exit 1 with vnetd's message, and nothing changes.
        r = orchestrate([guest(g2, 12, mtu=1400), {**guest(g1, 11), "mac": "01:00:5e:00:00:01"}])
        check(r.returncode == 1 and "INVALID_ARGUMENT" in r.stderr,
              f"a multicast MAC is refused with vnetd's status: {r.stderr.strip()}")
        with Client(target) as vnet:
            check([c.interface_name for c in vnet.list()] == [g2.host_if],
                  "nothing assigned by the refused file")

        # Rates while traffic flows: a bounded ping from the wire to g2.
        ping = t.popen(wire.ns, ["ping", "-q", "-i", "0.05", "-c", "80", g2.ipv4],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = orchestrate([guest(g2, 12, mtu=1400)], "--watch", "2")
        t.stop(ping)
        rates = [l for l in r.stdout.splitlines() if l.startswith("context ")]
        check(r.returncode == 0 and len(rates) == 2, f"two readings of rates: {r.stdout}")
        rx = [float(l.split("rx ")[1].split(" pkt/s")[0]) for l in rates]
        check(max(rx) > 0, f"g2 receives packets while the wire pings it: {rates}")

        doc_section(t, d, build, env, tls, tcp, g1, Client, grpc)
    check_clean(tag)
    print("PASS")
    return 0


def doc_section(t, d, build, env, tls, tcp, g1, Client, grpc) -> None:
    """docs/operations.md's orchestrator section, run as written (see the module doc)."""
    from vnet.client import mtls_credentials  # noqa: E402
    from vnet.v1 import context_pb2  # noqa: E402
    from google.protobuf import json_format  # noqa: E402

    metrics_at = next(a.split("=", 1)[1] for a in d.proc.args
                      if a.startswith("--metrics_address="))

    def watchers() -> float:
        with urllib.request.urlopen(f"http://{metrics_at}/metrics", timeout=5) as r:
            m = re.search(r"^vnet_drop_watchers (\S+)$", r.read().decode(), re.M)
        return float(m.group(1)) if m else -1.0

    def wait_watchers(n: int, deadline: float = 20) -> bool:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if watchers() == n:
                return True
            time.sleep(0.05)
        return False

    spoofed = udp_frame(SPOOFED_MAC, BCAST, g1.ipv4, "198.18.0.255", b"VNETORCH-spoof")
    bcast = udp_frame(g1.mac, BCAST, g1.ipv4, "198.18.0.255", b"VNETORCH-storm")

    def storm_drops() -> int:
        with Client("unix:" + d.socket) as vnet:
            s = vnet.context_stats(g1.host_if).contexts[0]
            return sum(x.packets for x in s.drops
                       if x.reason == "storm_broadcast" and x.direction == "tx")

    blocks = doc_blocks()
    commands = doc_commands(blocks)
    guests_doc = json.loads(next(body for lang, body in blocks if lang == "json"))
    pythons = [body for lang, body in blocks if lang == "python"]
    check(len(commands) == 8 and len(pythons) == 1,
          f"the section has its 8 commands and one Python block: {len(commands)}, "
          f"{len(pythons)}")
    want = dict(guests_doc["guests"][0])
    limits = {k: want[k] for k in ("rate_limit", "rx_rate_limit", "storm_control")}
    check(all(limits.values()), f"the doc's guest has all three limits: {limits}")
    with open(os.path.join(tls, "guests.json"), "w") as f:
        json.dump({"guests": [{**want, "interface": g1.host_if, "mac": g1.mac,
                               "ips": [g1.ipv4, g1.ipv6]}]}, f)

    subs = [(DOC_TARGET, tcp), (DOC_EXAMPLE, EXAMPLE), (DOC_IFACE, g1.host_if)]

    def mapped(cmd: str) -> list:
        for a, b in subs:
            cmd = cmd.replace(a, b)
        argv = shlex.split(cmd)
        argv[0] = {"python3": "/usr/bin/python3", "vnetctl": d.vnetctl,
                   "openssl": "/usr/bin/openssl"}.get(argv[0], argv[0])
        return argv

    def popen(argv):
        return t.popen(None, argv, cwd=tls, env=env)

    def finish(p, timeout: float = 90):
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            t.stop(p)
            raise AssertionError(f"{p.args} did not end within {timeout}s")
        return p.returncode, out, err

    def provoke() -> None:
        """Real frames from g1's namespace: 3 with a spoofed source MAC, then broadcasts
        beyond the storm-control burst (200 pps: a burst of 20)."""
        t.send_raw(g1.ns, g1.guest_if, [spoofed], repeat=3)
        t.send_raw(g1.ns, g1.guest_if, [bcast], repeat=60)

    def read_back(what: str, ctx) -> None:
        for field, value in limits.items():
            msg = getattr(ctx, field)
            expect = type(msg)()
            json_format.ParseDict(value, expect)
            check(msg == expect, f"{what}: {field} is {json_format.MessageToDict(msg)}")

    g1_id = None
    for cmd in commands:
        argv = mapped(cmd)
        print(f"  doc: {cmd[:110]}", flush=True)
        if argv[0] == "/usr/bin/openssl":
            r = subprocess.run(argv, cwd=tls, capture_output=True, text=True, timeout=60)
            check(r.returncode == 0, f"openssl: {r.stderr.strip()[-200:]}")
        elif argv[1] == EXAMPLE and "--drops" not in argv:
            r = subprocess.run(argv, cwd=tls, env=env, capture_output=True, text=True,
                               timeout=60)
            check(r.returncode == 0 and f"plugged  {g1.host_if}: context" in r.stdout,
                  f"the operator's reconcile over TLS plugs g1 in: {r.stdout}{r.stderr}")
            g1_id = int(r.stdout.split("context ")[1].split()[0])
            with Client("unix:" + d.socket) as vnet:
                held = vnet.list()
                check([c.interface_name for c in held] == [g1.host_if],
                      "vnetd holds exactly the file's guest")
                read_back("read back through the client", held[0])
            before = storm_drops()
            t.send_raw(g1.ns, g1.guest_if, [bcast], repeat=60)
            after = storm_drops()
            check(after - before >= 30, f"the fast path enforces storm control: {after - before}"
                  f" of 60 broadcasts from g1 dropped as storm_broadcast (burst 20)")
        elif argv[0] == d.vnetctl and "get" in argv:
            r = subprocess.run(argv, cwd=tls, capture_output=True, text=True, timeout=30)
            check(r.returncode == 0, f"the reader gets the context over TLS: {r.stderr}")
            ctx = context_pb2.Context()
            json_format.ParseDict(json.loads(r.stdout), ctx, ignore_unknown_fields=True)
            check(ctx.id == g1_id, f"vnetctl -o json shows g1's context {g1_id}")
            read_back("vnetctl -o json over TLS", ctx)
        elif argv[0] == d.vnetctl and "update" in argv:
            r = subprocess.run(argv, cwd=tls, capture_output=True, text=True, timeout=30)
            check(r.returncode == 1 and "needs role operator" in r.stderr and
                  "OU=reader" in r.stderr,
                  f"the reader's update is refused, exit 1: {r.returncode} {r.stderr.strip()}")
            with Client("unix:" + d.socket) as vnet:
                read_back("nothing changed by the refused update", vnet.get(g1.host_if))
        elif argv[1] == EXAMPLE:
            p = popen(argv)
            check(wait_watchers(1, 30), "the orchestrator watches drops (vnet_drop_watchers 1)")
            provoke()
            code, out, err = finish(p)
            rates = [line for line in out.splitlines() if line.startswith("context ")]
            drops = [line.split() for line in out.splitlines() if line.startswith("drop ")]
            check(code == 0 and len(rates) == 3 and len(drops) == 5,
                  f"--watch 3 --drops 5: 3 rate lines, 5 drop lines, exit 0: {code} {out}{err}")
            check(all(w[3] == str(g1_id) and w[4] == g1.host_if and w[5] == "tx"
                      for w in drops), f"every event names g1's context {g1_id}, tx: {drops}")
            reasons = [w[6] for w in drops]
            check(reasons[:3] == ["spoof_mac"] * 3 and
                  set(reasons[3:]) == {"storm_broadcast"},
                  f"3 spoof_mac, then storm_broadcast, in order: {reasons}")
            check(all(w[10] == SPOOFED_MAC for w in drops[:3]),
                  "the spoof_mac events carry the spoofed source MAC")
        else:
            raise AssertionError(f"a command of {SECTION!r} this test does not run: {cmd}")

    # The section's Python, the reader's certificate: watch_drops() in the caller's code.
    code = pythons[0]
    for a, b in subs:
        code = code.replace(a, b)
    p = popen(["/usr/bin/python3", "-c", code])
    check(wait_watchers(1, 30), "the section's Python watches drops")
    t.send_raw(g1.ns, g1.guest_if, [bcast, spoofed], repeat=8)
    rc, out, err = finish(p)
    lines = out.splitlines()
    check(rc == 0 and len(lines) == 6, f"the section's Python ran: {rc} {out}{err}")
    check(lines[0].split() == [str(g1_id), str(limits["rate_limit"]["bits_per_second"]),
                               str(limits["storm_control"]["broadcast_pps"])],
          f"it prints the context and its limits: {lines[0]}")
    check(all(line.split()[:4] == [str(g1_id), g1.host_if, "tx", "spoof_mac"]
              for line in lines[1:]),
          f"5 events through watch_drops(reasons=[spoof_mac]) name g1's context: {lines[1:]}")

    # Beyond the doc: the reconcile of limits, and the roles seen from Python.
    spec = os.path.join(tls, "guests.json")
    tls_args = ["--target", tcp, "--tls-ca", "ca.pem", "--tls-cert", "operator.pem",
                "--tls-key", "operator.key"]
    r = subprocess.run(["/usr/bin/python3", EXAMPLE] + tls_args + [spec], cwd=tls, env=env,
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and r.stdout == "", f"an unchanged file changes nothing: {r.stdout}")
    guests = json.load(open(spec))
    guests["guests"][0]["storm_control"] = {"multicast_pps": 5}
    json.dump(guests, open(spec, "w"))
    r = subprocess.run(["/usr/bin/python3", EXAMPLE] + tls_args + [spec], cwd=tls, env=env,
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and r.stdout.strip() == f"updated  {g1.host_if}: storm_control",
          f"a changed storm control is updated, nothing else: {r.stdout}{r.stderr}")

    def creds(role):
        return mtls_credentials(*(os.path.join(tls, n) for n in
                                  ("ca.pem", f"{role}.pem", f"{role}.key")))

    with Client(tcp, credentials=creds("reader")) as vnet:
        ctx = vnet.get(g1.host_if)
        check(ctx.storm_control.multicast_pps == 5 and ctx.storm_control.broadcast_pps == 0,
              "the reader reads the new storm control back")
        try:
            vnet.update(g1.host_if, rate_limit={"bits_per_second": 1000})
            check(False, "the reader's update() raises")
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.PERMISSION_DENIED,
                  f"the reader's update(): PERMISSION_DENIED: {e.details()}")
    with Client(tcp, credentials=creds("operator")) as vnet:
        ctx = vnet.update(g1.host_if, rate_limit={"bits_per_second": 2000000},
                          rx_rate_limit=context_pb2.RateLimit())
        check(ctx.rate_limit.bits_per_second == 2000000 and
              ctx.rx_rate_limit.bits_per_second == 0,
              "the operator's update() sets a rate and clears the receive limit")
    with open(os.path.join(tls, "ca.pem"), "rb") as f:
        no_cert = grpc.ssl_channel_credentials(root_certificates=f.read())
    with Client(tcp, timeout=5, credentials=no_cert) as vnet:
        try:
            vnet.list()
            check(False, "a TLS client without a certificate is answered")
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.UNAVAILABLE,
                  f"a TLS client without a certificate fails in the handshake: {e.code().name}")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print(f"FAIL: {e}")
        sys.exit(1)
