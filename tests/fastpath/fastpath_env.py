#!/usr/bin/python3
"""Shared set-up of the fast-path integration tests (tests/fastpath/test_*.py).

The network (built with tests/netns/topology.py, deleted at the end even on failure):

    wire namespace  veth0      198.18.0.1    2001:db8:0:0::1    untagged = VLAN 1 (native)
                    veth0.10   198.18.10.1   2001:db8:0:a::1    802.1Q VLAN 10
                    veth0.20   198.18.20.1   2001:db8:0:14::1   802.1Q VLAN 20
                    (without CONFIG_VLAN_8021Q: v10 / v20 behind a user-space tagger, see
                    Env._add_wire_vlans)
        | uplink veth <tag>wire (root namespace): vnetd's uplink, XDP + TC
    vnetd (--fast_path=bpf), contexts assigned through vnetctl:
        a1, a2   VLAN 1   198.18.0.10/.11   2001:db8::a/::b
        b1, b2   VLAN 10  198.18.10.10/.11  2001:db8:0:a::a/::b
        c1       VLAN 20  198.18.10.20      2001:db8:0:a::14  (same IP subnet as VLAN 10 on
                 purpose: only the VLAN separates it from b1/b2, not routing)

No Linux bridge anywhere: assert_no_bridge() checks it. The root namespace holds no address
of the test ranges, so the only path between the veths is the fast path; the tests also
check the per-context counters in the pinned `vnet_stats` map moved.

Every test script: `main(test_fn)` checks root (fails, never skips, without it), builds the
network, runs test_fn(env), tears down, checks nothing is left, and exits 0 only if all of it
passed.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import struct
import subprocess
import sys
import time
import traceback
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "netns"))
from topology import (Topology, VnetDaemon, HarnessError, check_clean,  # noqa: E402
                      SYSTEM_PYTHON)

# enum vnet_drop_reason / vnet_dir in bpf/include/vnet/abi.h
DROP_REASONS = ["none", "malformed", "no_context", "unknown_unicast", "spoof_mac", "spoof_ipv4",
                "spoof_ipv6", "spoof_arp", "spoof_nd", "dhcp_server", "router_advert",
                "tagged_from_guest", "ethertype", "no_uplink", "redirect_failed", "hairpin",
                "mtu", "offload", "ext_header", "nd_fragment", "reserved_group",
                "local_source_mac", "rate_limit", "storm_broadcast", "storm_multicast",
                "storm_unknown_unicast"]
DIR_RX, DIR_TX = 0, 1
# struct vnet_ctx_stats after the drops, in order (offload counters).
OFFLOAD_COUNTERS = ["tx_gso_packets", "tx_gso_segments", "rx_gso_packets", "rx_gso_segments",
                    "rx_gso_segmented", "rx_gso_resized", "rx_csum_completed"]
_STATS_WORDS = 4 + 2 * len(DROP_REASONS) + len(OFFLOAD_COUNTERS)  # __u64 each
# vnet_stats_cpu: the destination hint (struct vnet_fdb_hint, 8 bytes) in front of the
# counters since ABI 6 (bpf/include/vnet/abi.h).
_STATS_HINT_BYTES = 8

# Maps that are the daemon's tables (not counters, not traces).
TABLE_MAPS = ["vnet_config", "vnet_ctx", "vnet_fdb", "vnet_if_ctx", "vnet_if_ctx_more",
              "vnet_ip4", "vnet_ip6",
              "vnet_vlan", "vnet_xdp_tx"]


class TestFailure(AssertionError):
    pass


def check(cond: bool, what: str) -> None:
    """Record a check: print it, raise TestFailure if it does not hold."""
    print(f"  {'ok  ' if cond else 'FAIL'} {what}", flush=True)
    if not cond:
        raise TestFailure(what)


def note(text: str) -> None:
    print(f"  .... {text}", flush=True)


class Env:
    """The network above, its daemon, and helpers the cases share."""

    def __init__(self, topo: Topology, build_dir: str, vnetd_args=()):
        self.t = topo
        self.build_dir = build_dir
        t = topo
        self.wire = t.add_wire()                                   # VLAN 1, subnet 0
        self.vlan_helper = None
        self._add_wire_vlans([10, 20])
        self.a1 = t.add_guest("a1", subnet=0)
        self.a2 = t.add_guest("a2", subnet=0)
        self.b1 = t.add_guest("b1", subnet=10)
        self.b2 = t.add_guest("b2", subnet=10)
        self.c1 = t.add_guest("c1", subnet=10, host=20)
        self.guests = [self.a1, self.a2, self.b1, self.b2, self.c1]
        self.vlan_of = {"a1": 1, "a2": 1, "b1": 10, "b2": 10, "c1": 20}
        self.domain_of = {g.name: i for i, g in enumerate(self.guests, start=1)}
        self.wire_addr = {  # VLAN -> (ipv4, ipv6) of the wire host on that VLAN
            1: (self.wire.ipv4, self.wire.ipv6),
            10: ("198.18.10.1", "2001:db8:0:a::1"),
            20: ("198.18.20.1", "2001:db8:0:14::1"),
        }
        self.d = VnetDaemon(t, build_dir, self.wire.host_if, extra_args=vnetd_args)
        self.d.start()
        for g in self.guests:
            self.d.assign(g, self.domain_of[g.name], vlan=self.vlan_of[g.name])
        self.ctx_id = {c["interface_name"]: c["id"] for c in self.contexts()}
        self.id_of = {g.name: self.ctx_id[g.host_if] for g in self.guests}

    def _add_wire_vlans(self, vids: List[int]) -> None:
        """Tagged hosts on the wire: 802.1Q interfaces veth0.<vid> where the kernel has them,
        else (CONFIG_VLAN_8021Q not set, as on this test VM) a veth pair v<vid>/v<vid>p in
        the wire namespace with a user-space tagger (vlan_wire.py) between veth0 and
        v<vid>p. The tagger forwards only frames carrying exactly that VID, so a missing or
        wrong tag from vnet still breaks the traffic. It handles wire-sized frames only:
        the uplink's TSO/checksum offloads are switched off (the kernel segments and
        checksums there, as for a real 1500-byte NIC) and so are v<vid>'s."""
        t, w = self.t, self.wire
        try:
            for vid in vids:
                t.add_wire_vlan(w, vid, vid)
            return
        except HarnessError as e:
            if "802.1Q" not in str(e):
                raise
        note("kernel has no 802.1Q devices: user-space tagger vlan_wire.py in the wire ns")
        t.run(None, ["ethtool", "-K", w.host_if, "tx", "off", "tso", "off", "gso", "off"])
        specs = []
        for vid in vids:
            port, peer = f"v{vid}", f"v{vid}p"
            t.run(w.ns, ["ip", "link", "add", "name", port, "address", t.next_mac(),
                         "type", "veth", "peer", "name", peer])
            t.run(w.ns, ["ethtool", "-K", port, "tx", "off", "tso", "off", "gso", "off"])
            t.run(w.ns, ["sysctl", "-q", "-w", f"net.ipv6.conf.{peer}.disable_ipv6=1"])
            t.run(w.ns, ["ip", "link", "set", "dev", peer, "up"])
            v4, v6 = t.host_addrs(vid, 1)
            t.run(w.ns, ["ip", "addr", "add", f"{v4}/24", "dev", port])
            t.run(w.ns, ["ip", "-6", "addr", "add", f"{v6}/64", "dev", port, "nodad"])
            t.run(w.ns, ["ip", "link", "set", "dev", port, "up"])
            w.vlans[vid] = port
            specs.append(f"{vid}:{peer}")
        self.vlan_helper = t.popen(w.ns, [SYSTEM_PYTHON, os.path.join(HERE, "vlan_wire.py"),
                                          "veth0"] + specs + ["--max-seconds", "300"],
                                   stdin=subprocess.PIPE)
        line = self.vlan_helper.stdout.readline().strip()
        if line != "READY":
            raise HarnessError(f"vlan_wire.py failed: {self.vlan_helper.stderr.read()}")

    # ---- daemon and tables -----------------------------------------------------------
    def contexts(self) -> List[dict]:
        return json.loads(self.d.ctl(["context", "list", "-o", "json"]).stdout).get(
            "contexts", [])

    def bpftool(self, args: List[str]):
        r = subprocess.run(["bpftool", "-j"] + args, capture_output=True, text=True, timeout=20)
        if r.returncode != 0:
            raise HarnessError(f"bpftool {' '.join(args)}: {r.stderr.strip()}")
        return json.loads(r.stdout or "null")

    def map_path(self, name: str) -> str:
        # vnetd pins maps under maps-v<ABI version> and removes other versions at start,
        # so exactly one such directory exists while it runs.
        dirs = glob.glob(os.path.join(self.d.pin_dir, "maps-v*"))
        if len(dirs) != 1:
            raise HarnessError(f"expected one maps-v* pin directory in {self.d.pin_dir}, "
                               f"found {dirs}")
        return os.path.join(dirs[0], name)

    def dump_map(self, name: str):
        """Entries of a pinned map, sorted, as comparable JSON (no ids)."""
        entries = self.bpftool(["map", "dump", "pinned", self.map_path(name)]) or []
        return sorted(json.dumps(e, sort_keys=True) for e in entries)

    def dump_tables(self) -> Dict[str, list]:
        return {m: self.dump_map(m) for m in TABLE_MAPS
                if os.path.exists(self.map_path(m))}

    def interface_contexts(self) -> Dict[int, int]:
        """{ifindex: context id} of the guest interfaces: vnet_if_ctx's slots (a __u64 each:
        context id << 32 | ifindex, 0 empty; bpf/include/vnet/abi.h), then vnet_if_ctx_more."""
        out: Dict[int, int] = {}
        for e in self.bpftool(["map", "dump", "pinned", self.map_path("vnet_if_ctx_more")]) or []:
            raw = [bytes(int(x, 16) for x in e[f]) for f in ("key", "value")]
            out[int.from_bytes(raw[0], "little")] = int.from_bytes(raw[1], "little")
        for e in self.bpftool(["map", "dump", "pinned", self.map_path("vnet_if_ctx")]) or []:
            word = int.from_bytes(bytes(int(x, 16) for x in e["value"]), "little")
            if word:
                out[word & 0xffffffff] = word >> 32
        return out

    def map_ids(self) -> Dict[str, int]:
        out = {}
        for m in TABLE_MAPS + ["vnet_stats"]:
            if os.path.exists(self.map_path(m)):
                out[m] = self.bpftool(["map", "show", "pinned", self.map_path(m)])["id"]
        return out

    def stats(self) -> Dict[int, dict]:
        """Per-context counters from the pinned per-CPU `vnet_stats`, summed over CPUs:
        {ctx_id: {"rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "drops": [[..],[..]],
                  and each of OFFLOAD_COUNTERS}}"""
        out: Dict[int, dict] = {}
        for e in self.bpftool(["map", "dump", "pinned", self.map_path("vnet_stats")]) or []:
            key = int.from_bytes(bytes(int(x, 16) for x in e["key"]), "little")
            total = [0] * _STATS_WORDS
            for cpu in e["values"]:
                raw = bytes(int(x, 16) for x in cpu["value"])
                words = struct.unpack(f"<{_STATS_WORDS}Q",
                                      raw[_STATS_HINT_BYTES:_STATS_HINT_BYTES + 8 * _STATS_WORDS])
                total = [a + b for a, b in zip(total, words)]
            n = len(DROP_REASONS)
            out[key] = {"rx_packets": total[0], "rx_bytes": total[1], "tx_packets": total[2],
                        "tx_bytes": total[3], "drops": [total[4:4 + n], total[4 + n:4 + 2 * n]]}
            out[key].update(zip(OFFLOAD_COUNTERS, total[4 + 2 * n:]))
        return out

    def tc_filters(self, ifname: str) -> str:
        r = self.t.run(None, ["tc", "filter", "show", "dev", ifname, "ingress"], check=False)
        return r.stdout.strip()

    def vnet_tc_programs(self, ifname: str) -> List[str]:
        """Names of vnet's programs on the ingress of `ifname`, whichever way vnetd attached
        them: a tcx link pinned under <pin_dir>/links (Linux 6.6+) or a cls_bpf filter."""
        names = re.findall(r"\b(vnet_\w+)", self.tc_filters(ifname))
        link = os.path.join(self.d.pin_dir, "links", f"tcx_ingress_{self.t.ifindex(ifname)}")
        if os.path.exists(link):
            info = self.bpftool(["link", "show", "pinned", link])
            prog = self.bpftool(["prog", "show", "id", str(info["prog_id"])])
            names.append(prog["name"])
        return names

    # ---- invariants --------------------------------------------------------------------
    def assert_no_bridge(self) -> None:
        """No Linux bridge in any of our namespaces; none of our links has a master; and no
        bridge in the root namespace carries our tag or any of our interfaces."""
        ours = [g.host_if for g in self.guests] + [self.wire.host_if]
        for ns in self.t.namespaces:
            r = self.t.run(ns, ["ip", "-o", "link", "show", "type", "bridge"])
            check(r.stdout.strip() == "", f"no bridge in namespace {ns}")
        r = self.t.run(None, ["ip", "-o", "link", "show", "type", "bridge"])
        root_bridges = [line.split(":")[1].strip() for line in r.stdout.splitlines()]
        check(not any(self.t.tag in b for b in root_bridges),
              "no bridge of this run in the root namespace")
        if root_bridges:
            note(f"bridges of other runs in the root namespace (not ours): {root_bridges}")
        for link in ours:
            master = os.path.exists(f"/sys/class/net/{link}/master")
            brport = os.path.exists(f"/sys/class/net/{link}/brport")
            check(not master and not brport, f"{link} has no master and is no bridge port")
        addrs = self.t.run(None, ["ip", "-o", "addr", "show"]).stdout
        check(not re.search(r"\b198\.1[89]\.|2001:db8:", addrs),
              "root namespace holds no test address (no routed path around vnet)")

    # ---- traffic -----------------------------------------------------------------------
    def ping_stats(self, ns: str, addr: str, count: int, interval: float = 0.01,
                   deadline: int = 10, flood: bool = False) -> tuple:
        """(transmitted, received) of a bounded ping."""
        cmd = ["ping", "-n", "-q", "-c", str(count), "-w", str(deadline), "-W", "1"]
        if ":" in addr:
            cmd.insert(1, "-6")
        cmd += ["-f"] if flood else ["-i", str(interval)]
        r = self.t.run(ns, cmd + [addr], check=False, timeout=deadline + 10)
        return parse_ping(r.stdout)

    def tcp_exchange(self, server, client, addr: str, size: int = 1 << 20,
                     port: int = 5201) -> tuple:
        """Send `size` bytes from client to server over TCP (addr in server's ns); the
        server answers with their SHA-256. Returns (digest matched, bytes the server got).
        Bounded by timeouts."""
        srv_code = ("import socket,sys,hashlib\n"
                    "fam=socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET\n"
                    "s=socket.socket(fam); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                    "s.bind((sys.argv[1],int(sys.argv[2]))); s.listen(1); s.settimeout(10)\n"
                    "print('READY',flush=True)\n"
                    "c,_=s.accept(); c.settimeout(10); h=hashlib.sha256(); n=0\n"
                    "while True:\n"
                    "    d=c.recv(65536)\n"
                    "    if not d: break\n"
                    "    h.update(d); n+=len(d)\n"
                    "c.sendall(h.hexdigest().encode()); c.close(); print(n,flush=True)\n")
        cli_code = ("import socket,sys,hashlib,os\n"
                    "fam=socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET\n"
                    "data=os.urandom(int(sys.argv[3]))\n"
                    "c=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=10)\n"
                    "c.sendall(data); c.shutdown(socket.SHUT_WR)\n"
                    "r=b''\n"
                    "while True:\n"
                    "    d=c.recv(100)\n"
                    "    if not d: break\n"
                    "    r+=d\n"
                    "print('MATCH' if r.decode()==hashlib.sha256(data).hexdigest() else 'DIFF')\n")
        srv = self.t.popen(server.ns, [SYSTEM_PYTHON, "-c", srv_code, addr, str(port)])
        try:
            line = srv.stdout.readline().strip()
            if line != "READY":
                raise HarnessError(f"tcp server failed: {srv.stderr.read()}")
            r = self.t.run(client.ns, [SYSTEM_PYTHON, "-c", cli_code, addr, str(port),
                                       str(size)], check=False, timeout=20)
            try:
                out, _ = srv.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                srv.kill()
                out, _ = srv.communicate()
            ok = r.returncode == 0 and r.stdout.strip() == "MATCH"
            got = int(out.strip()) if out.strip().isdigit() else 0
            return ok, got
        finally:
            self.t.stop(srv)


def parse_ping(text: str) -> tuple:
    m = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received", text)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def is_root() -> bool:
    return os.geteuid() == 0


def main(name: str, test_fn, prefix: str, vnetd_args=()) -> None:
    """Run one test case: root check, network, test_fn(env), teardown, leftovers check.
    vnetd_args: extra vnetd flags for this case."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", default=os.path.join(HERE, "..", "..", "build"))
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    print(f"== fastpath.{name}", flush=True)
    if not is_root():
        print(f"FAIL fastpath.{name}: needs root (network namespaces, BPF); not skipped")
        sys.exit(1)
    for tool in ("bpftool", "tc", "ip", "ping"):
        if subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode:
            print(f"FAIL fastpath.{name}: {tool} not installed")
            sys.exit(1)
    failed: Optional[str] = None
    t0 = time.monotonic()
    topo = Topology(prefix=prefix, verbose=args.verbose)
    env = None
    try:
        with topo:
            try:
                env = Env(topo, os.path.abspath(args.build_dir), vnetd_args)
                test_fn(env)
            except BaseException:
                if env is not None:  # the log lives in the topology's temp dir: read it now
                    print("  vnetd log tail:\n    " +
                          env.d.log_tail(10).replace("\n", "\n    "), flush=True)
                raise
    except (TestFailure, HarnessError) as e:
        failed = f"{type(e).__name__}: {e}"
    except Exception:  # a bug in the test itself still fails the run
        failed = traceback.format_exc()
    try:
        check_clean(topo.tag)
        print("  ok   nothing left behind (namespaces, links, pins, temp dirs)")
    except HarnessError as e:
        print(f"  FAIL {e}")
        failed = failed or str(e)
    # Processes: vnetd and every helper were started through the topology and are gone.
    alive = [p.pid for p in topo.procs if p.poll() is None]
    if alive:
        failed = failed or f"processes left: {alive}"
    dt = time.monotonic() - t0
    if failed:
        print(f"FAIL fastpath.{name} ({dt:.1f}s): {failed}", flush=True)
        sys.exit(1)
    print(f"PASS fastpath.{name} ({dt:.1f}s)", flush=True)
