#!/usr/bin/python3
"""Tests of xen-hooks/vif-vnet: the real script against a real vnetd.

No Xen runs here, so a veth made by the test network harness plays the vif (its host-side
end, named like every harness link: tag + suffix) and a directory-backed stand-in xenstore
(tests/xen/bin/xenstore-*, first on the script's PATH) holds the backend and frontend keys
the toolstack and the guest would write.

    vif_vnet_test.py VNETD VNETCTL CASE      (CASE: one of CASES below, or "all")

Needs root (veths, namespaces). Exit 0 when every check of the case passed, 1 otherwise;
nothing is skipped: a missing prerequisite is a failure with its reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "tests", "netns"))

from topology import (HarnessError, Topology, VnetDaemon, VnetUnavailable,  # noqa: E402
                      check_clean)

SCRIPT = os.path.join(SRC, "xen-hooks", "vif-vnet")
STANDIN_BIN = os.path.join(HERE, "bin")


class CheckFailed(AssertionError):
    pass


def check(cond: bool, what: str) -> None:
    if not cond:
        raise CheckFailed(what)
    print(f"  ok: {what}")


class XenStage:
    """A stand-in xenstore plus a way to run vif-vnet as the toolstack would."""

    def __init__(self, topo: Topology, daemon: VnetDaemon):
        self.topo = topo
        self.daemon = daemon
        self.store = tempfile.mkdtemp(prefix="xs-", dir=topo.tmpdir)
        self.log = os.path.join(topo.tmpdir, "xenstore.log")
        self.fakebin = tempfile.mkdtemp(prefix="fakebin-", dir=topo.tmpdir)
        self.path_prefix = [STANDIN_BIN]

    # ---- stand-in xenstore --------------------------------------------------------------
    def _node(self, path: str) -> str:
        if not path.startswith("/"):
            path = "/local/domain/0/" + path
        return os.path.join(self.store, path.strip("/"))

    def write(self, path: str, value: str) -> None:
        os.makedirs(self._node(path), exist_ok=True)
        with open(os.path.join(self._node(path), ".value"), "w") as f:
            f.write(value)

    def read(self, path: str):
        """The value, or None if the node is missing."""
        node = self._node(path)
        if not os.path.isdir(node):
            return None
        try:
            with open(os.path.join(node, ".value")) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def store_log(self) -> str:
        try:
            with open(self.log) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def clear_log(self) -> None:
        if os.path.exists(self.log):
            os.unlink(self.log)

    def add_device(self, domid: int, devid: int, mac: str, ips: str = "", rate: str = "",
                   bridge: str = "xenbr0", mtu: str = "", vlan: str = "",
                   features=None, backend_features=None) -> str:
        """Write the keys libxl and netback (backend) and the guest's netfront (frontend,
        `features`, which include its `state`) would write."""
        be = f"backend/vif/{domid}/{devid}"
        fe = f"/local/domain/{domid}/device/vif/{devid}"
        self.write(be + "/frontend", fe)
        self.write(be + "/frontend-id", str(domid))
        self.write(be + "/handle", str(devid))
        self.write(be + "/script", SCRIPT)
        self.write(be + "/type", "vif")
        self.write(be + "/mac", mac)
        self.write(be + "/bridge", bridge)
        self.write(be + "/hotplug-status", "")
        for key, val in (("ip", ips), ("rate", rate), ("mtu", mtu), ("vlan", vlan)):
            if val:
                self.write(f"{be}/{key}", val)
        for key, val in (backend_features or {}).items():
            self.write(f"{be}/{key}", str(val))
        self.write(fe + "/backend", "/local/domain/0/" + be)
        for key, val in (features or {}).items():
            self.write(f"{fe}/{key}", str(val))
        return be

    # ---- running the script -------------------------------------------------------------
    def run(self, command: str, domid: int, devid: int, ifname: str, type_if: str = "vif",
            socket: str = None, extra_env=None) -> subprocess.CompletedProcess:
        env = {
            "PATH": ":".join(self.path_prefix + ["/usr/local/sbin", "/usr/local/bin",
                                                 "/usr/sbin", "/usr/bin", "/sbin", "/bin"]),
            "XENSTORE_STANDIN_DIR": self.store,
            "XENSTORE_STANDIN_LOG": self.log,
            "VNETCTL": self.daemon.vnetctl,
            "VNET_SOCKET": socket or self.daemon.socket,
            "VIF_VNET_CONF": os.path.join(self.topo.tmpdir, "no-such-vif-vnet.conf"),
            "XENBUS_TYPE": "vif",
            "XENBUS_PATH": f"backend/vif/{domid}/{devid}",
            "XENBUS_BASE_PATH": "backend",
            "script": SCRIPT,
            "netdev": "",
            "vif": ifname,
        }
        if type_if == "tap":
            env["INTERFACE"] = ifname
        env.update(extra_env or {})
        r = subprocess.run([SCRIPT, command, f"type_if={type_if}"], env=env,
                           capture_output=True, text=True, timeout=60)
        print(f"  $ vif-vnet {command} type_if={type_if} ({ifname}, {domid}.{devid}) -> "
              f"{r.returncode}")
        for line in (r.stderr or "").strip().splitlines():
            print(f"    | {line}")
        return r

    # ---- what vnetd holds ---------------------------------------------------------------
    def context(self, domid: int, devid: int):
        r = self.daemon.ctl(["context", "get", "--domain", str(domid), "--device", str(devid),
                             "-o", "json"], check=False)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def n_contexts(self) -> int:
        r = self.daemon.ctl(["context", "list", "-o", "json"])
        data = json.loads(r.stdout or "[]")
        if isinstance(data, dict):
            data = data.get("contexts", [])
        return len(data)

    def link_up(self, ifname: str) -> bool:
        with open(f"/sys/class/net/{ifname}/flags") as f:
            return bool(int(f.read(), 16) & 1)

    def fail_ip_up(self) -> None:
        """Put an `ip` first on the script's PATH that fails `ip link set dev X up`."""
        fake = os.path.join(self.fakebin, "ip")
        with open(fake, "w") as f:
            f.write('#!/bin/bash\n'
                    'if [ "$1 $2" = "link set" ] && [ "${!#}" = up ]; then\n'
                    '  echo "RTNETLINK answers: injected failure" >&2; exit 2\n'
                    'fi\n'
                    'exec /usr/sbin/ip "$@"\n')
        os.chmod(fake, 0o755)
        self.path_prefix = [self.fakebin, STANDIN_BIN]

    def restore_ip(self) -> None:
        self.path_prefix = [STANDIN_BIN]


# What Linux netback writes in its backend directory, and a connected netfront's keys.
NETBACK = {"feature-sg": 1, "feature-gso-tcpv4": 1, "feature-gso-tcpv6": 1,
           "feature-ipv6-csum-offload": 1, "feature-rx-copy": 1}
NETFRONT = {"feature-sg": 1, "feature-gso-tcpv4": 1, "feature-gso-tcpv6": 1,
            "feature-ipv6-csum-offload": 1, "feature-rx-notify": 1, "state": 4}
OFFLOAD_FIELDS = ("tx_checksum", "tso_v4", "tso_v6", "scatter_gather", "rx_checksum",
                  "rx_scatter_gather", "rx_tso_v4", "rx_tso_v6")


def offloads_on(ctx) -> set:
    """The offload fields that are on (JSON may leave false ones out)."""
    o = ctx.get("offloads", {})
    return {f for f in OFFLOAD_FIELDS if o.get(f)}


# ----------------------------------------------------------------------------------------
def case_online_offline(t: Topology, xs: XenStage) -> None:
    """online assigns every field and reports connected; twice is harmless; offline undoes."""
    g = t.add_guest("g1", subnet=0)
    t.run(None, ["ip", "link", "set", "dev", g.host_if, "down"])  # as netback leaves it
    be = xs.add_device(5, 0, g.mac, ips=f"{g.ipv4} {g.ipv6}", rate="625000,50000",
                       bridge="vnet.10", features={**NETFRONT, "feature-gso-tcpv6": 0},
                       backend_features={**NETBACK, "feature-gso-tcpv4": 0})
    r = xs.run("online", 5, 0, g.host_if)
    check(r.returncode == 0, "online exits 0")
    ctx = xs.context(5, 0)
    check(ctx is not None, "vnetd holds a context for domain 5 device 0")
    check(ctx["interface_name"] == g.host_if, f"interface {g.host_if}")
    check(ctx["mac"] == g.mac, f"mac {g.mac}")
    check(ctx.get("ipv4_addresses") == [g.ipv4], f"IPv4 {g.ipv4}")
    check(ctx.get("ipv6_addresses") == [g.ipv6], f"IPv6 {g.ipv6}")
    check(ctx["vlan"] == 10, "VLAN 10 from bridge vnet.10")
    check(ctx["rate_limit"]["bits_per_second"] == "100000000",
          "rate 625000 bytes per 50000 us = 100000000 bit/s")
    check(ctx["rate_limit"]["burst_bytes"] == "3125000",
          "burst = 250 ms of the rate (3125000 bytes), more than one interval's credit (625000)")
    # transmit from netback's keys (no gso-tcpv4 there), receive from the connected frontend's
    check(offloads_on(ctx) == {"tx_checksum", "tso_v6", "scatter_gather", "rx_checksum",
                               "rx_scatter_gather", "rx_tso_v4"},
          f"offloads per direction from both sides' keys: {ctx['offloads']}")
    check(xs.read(be + "/hotplug-status") == "connected", "hotplug-status connected")
    check(xs.read(be + "/hotplug-error") is None, "no hotplug-error")
    check(xs.link_up(g.host_if), f"{g.host_if} is up")

    r = xs.run("online", 5, 0, g.host_if)
    check(r.returncode == 0, "second online exits 0")
    again = xs.context(5, 0)
    check(again is not None and again["id"] == ctx["id"], "same context after a second online")
    check(xs.read(be + "/hotplug-status") == "connected", "still connected")
    check(xs.n_contexts() == 1, "exactly one context in vnetd")

    r = xs.run("offline", 5, 0, g.host_if)
    check(r.returncode == 0, "offline exits 0")
    check(xs.context(5, 0) is None, "context released")
    check(xs.read(be + "/hotplug-status") is None, "hotplug-status removed")
    r = xs.run("offline", 5, 0, g.host_if)
    check(r.returncode == 0, "second offline exits 0 (nothing to release)")
    check(xs.n_contexts() == 0, "no context left in vnetd")

    # An interval longer than 250 ms: its credit is the larger burst and stays.
    be = xs.add_device(5, 0, g.mac, ips=g.ipv4, rate="125000,1000000", bridge="vnet.10",
                       features=NETFRONT, backend_features=NETBACK)
    check(xs.run("online", 5, 0, g.host_if).returncode == 0, "online with a 1 s interval")
    ctx = xs.context(5, 0)
    check(ctx is not None and ctx["rate_limit"]["bits_per_second"] == "1000000"
          and ctx["rate_limit"]["burst_bytes"] == "125000",
          f"1 Mbit/s, burst one 1 s interval's credit (125000): {ctx and ctx.get('rate_limit')}")
    check(xs.run("offline", 5, 0, g.host_if).returncode == 0, "offline again")


def case_conventions(t: Topology, xs: XenStage) -> None:
    """VLAN from the vlan key / default; checksum-less guests; malformed rate; vifname."""
    g = t.add_guest("g2", subnet=0)
    # no bridge suffix, vlan key; a guest that takes no partial IPv4 checksums: no rx-csum,
    # so no rx-tso4; what it may send is netback's business
    be = xs.add_device(6, 1, g.mac, ips=g.ipv4, rate="garbage", bridge="xenbr0", vlan="20",
                       mtu="1400", features={"feature-sg": 1, "feature-gso-tcpv4": 1,
                                             "feature-no-csum-offload": 1, "state": 4},
                       backend_features=NETBACK)
    r = xs.run("online", 6, 1, g.host_if)
    check(r.returncode == 0, "online exits 0")
    ctx = xs.context(6, 1)
    check(ctx is not None and ctx["vlan"] == 20, "VLAN 20 from the vlan key (bridge xenbr0)")
    check(offloads_on(ctx) == {"tx_checksum", "tso_v4", "tso_v6", "scatter_gather",
                               "rx_scatter_gather"},
          f"feature-no-csum-offload=1: no rx-csum, no rx-tso4: {ctx['offloads']}")
    check(not ctx.get("rate_limit") or ctx["rate_limit"].get("bits_per_second", "0") == "0",
          "malformed rate: unlimited")
    check("rate 'garbage'" in r.stderr, "malformed rate is logged")
    check(ctx["mtu"] == 1400, "MTU 1400 from xenstore")
    with open(f"/sys/class/net/{g.host_if}/mtu") as f:
        check(f.read().strip() == "1400", "link MTU set to 1400")
    check(xs.read(be + "/hotplug-status") == "connected", "connected")
    check(xs.run("offline", 6, 1, g.host_if).returncode == 0, "offline exits 0")

    # no feature keys at all: only what needs no negotiation
    g3 = t.add_guest("g3", subnet=0)
    xs.add_device(6, 2, g3.mac, ips=g3.ipv4, bridge="vnet")
    check(xs.run("online", 6, 2, g3.host_if).returncode == 0, "online without feature keys")
    ctx = xs.context(6, 2)
    check(ctx["vlan"] == 1, "bridge 'vnet' without suffix: default VLAN 1")
    check(offloads_on(ctx) == {"tx_checksum"},
          f"absent feature keys: checksum offload only: {ctx['offloads']}")
    check(xs.run("offline", 6, 2, g3.host_if).returncode == 0, "offline")

    # the usual hotplug moment: netback has written its keys, the frontend (not connected
    # yet) may have written some of its own: they do not count until it connects
    g6 = t.add_guest("g6", subnet=0)
    xs.add_device(6, 5, g6.mac, ips=g6.ipv4, bridge="vnet",
                  features={**NETFRONT, "state": 1}, backend_features=NETBACK)
    check(xs.run("online", 6, 5, g6.host_if).returncode == 0, "online before the frontend")
    check(offloads_on(xs.context(6, 5)) == {"tx_checksum", "tso_v4", "tso_v6", "scatter_gather"},
          f"frontend not connected: transmit offloads only: {xs.context(6, 5)['offloads']}")
    check(xs.run("offline", 6, 5, g6.host_if).returncode == 0, "offline")

    # vlan and bridge suffix disagree, and a trunk list: both refused
    g4 = t.add_guest("g4", subnet=0)
    be4 = xs.add_device(6, 3, g4.mac, ips=g4.ipv4, bridge="vnet.30", vlan="31")
    r = xs.run("online", 6, 3, g4.host_if)
    check(r.returncode == 1 and "disagree" in r.stderr, "vlan 31 vs bridge vnet.30 refused")
    check(xs.read(be4 + "/hotplug-status") == "error", "hotplug-status error")
    check(xs.context(6, 3) is None, "nothing assigned")
    xs.write(be4 + "/bridge", "vnet.30:40:50")
    xs.write(be4 + "/vlan", "30")
    r = xs.run("online", 6, 3, g4.host_if)
    check(r.returncode == 1 and "trunk" in r.stderr, "trunk list refused")
    check(xs.context(6, 3) is None, "nothing assigned")

    # vifname renames the interface; offline finds it under its new name
    g5 = t.add_guest("g5", subnet=0)
    t.run(None, ["ip", "link", "set", "dev", g5.host_if, "down"])
    newname = t.ifname("n5")
    be5 = xs.add_device(6, 4, g5.mac, ips=g5.ipv4, bridge="vnet")
    xs.write(be5 + "/vifname", newname)
    # the harness deletes links by their creation name: give the name back at close
    t.add_cleanup(lambda: t._quiet(["ip", "link", "set", "dev", newname, "name", g5.host_if]))
    check(xs.run("online", 6, 4, g5.host_if).returncode == 0, "online with vifname")
    check(os.path.exists(f"/sys/class/net/{newname}"), f"interface renamed to {newname}")
    check(xs.context(6, 4)["interface_name"] == newname, "context on the new name")
    check(xs.run("online", 6, 4, g5.host_if).returncode == 0, "second online after rename")
    check(xs.run("offline", 6, 4, g5.host_if).returncode == 0, "offline with vifname")
    check(xs.context(6, 4) is None, "released")
    check(xs.n_contexts() == 0, "no context left")


def case_renamed_and_gone(t: Topology, xs: XenStage) -> None:
    """offline of a vif renamed by vifname whose interface is already gone (xl destroy,
    network-detach): the (domain, device)'s context is released all the same."""
    g = t.add_guest("g7", subnet=0)
    newname = t.ifname("r7")
    be = xs.add_device(16, 2, g.mac, ips=g.ipv4, bridge="vnet")
    xs.write(be + "/vifname", newname)
    check(xs.run("online", 16, 2, g.host_if).returncode == 0, "online with vifname")
    check(xs.context(16, 2)["interface_name"] == newname, "context on the new name")
    t.run(None, ["ip", "link", "del", newname])  # netback removes the vif with the domain
    r = xs.run("offline", 16, 2, g.host_if)
    check(r.returncode == 0, f"offline exits 0: {r.stderr.strip()}")
    check(xs.context(16, 2) is None, "the context is released although its interface is gone")
    check(xs.n_contexts() == 0, "no context left")


def case_config(t: Topology, xs: XenStage) -> None:
    """/etc/vnet/vif-vnet.conf (here VIF_VNET_CONF): defaults, and the environment wins."""
    g = t.add_guest("g1", subnet=0)
    conf = os.path.join(t.tmpdir, "vif-vnet.conf")
    with open(conf, "w") as f:
        f.write("# test configuration\n"
                "  VNET_DEFAULT_VLAN = 7   # spaces and a trailing comment\n"
                f"VNET_SOCKET=\"{os.path.join(t.tmpdir, 'conf-socket-unused.sock')}\"\n"
                "NOT_A_KEY=1\n"
                "$(touch /tmp/vif-vnet-conf-was-executed)\n")
    env = {"VIF_VNET_CONF": conf}
    xs.add_device(15, 0, g.mac, ips=g.ipv4, bridge="xenbr0")
    r = xs.run("online", 15, 0, g.host_if, extra_env=env)
    check(r.returncode == 0, "online with a config file (environment's VNET_SOCKET wins)")
    check("NOT_A_KEY" in r.stderr, "unknown key reported")
    check(not os.path.exists("/tmp/vif-vnet-conf-was-executed"), "config is parsed, not run")
    ctx = xs.context(15, 0)
    check(ctx["vlan"] == 7, "VNET_DEFAULT_VLAN=7 applies without bridge suffix")
    check(xs.run("offline", 15, 0, g.host_if, extra_env=env).returncode == 0, "offline")
    check(xs.n_contexts() == 0, "no context left")


def case_daemon_down(t: Topology, xs: XenStage) -> None:
    g = t.add_guest("g1", subnet=0)
    be = xs.add_device(9, 0, g.mac, ips=g.ipv4, bridge="vnet")
    dead = os.path.join(t.tmpdir, "no-vnetd.sock")
    r = xs.run("online", 9, 0, g.host_if, socket=dead)
    check(r.returncode == 1, "online exits 1 when vnetd is unreachable")
    check(xs.read(be + "/hotplug-status") == "error", "hotplug-status error")
    err = xs.read(be + "/hotplug-error") or ""
    check(dead in err and "unreachable" in err, f"hotplug-error names the socket: {err!r}")
    check(any("err:" in line and dead in line for line in r.stderr.splitlines()),
          "one clear error line on stderr")
    check(xs.n_contexts() == 0, "nothing assigned in the (running) vnetd")
    r = xs.run("offline", 9, 0, g.host_if, socket=dead)
    check(r.returncode == 1 and "could not release" in r.stderr,
          "offline with vnetd unreachable fails loudly")
    check(xs.read(be + "/hotplug-status") is None, "offline still clears hotplug-status")


def case_bad_mac(t: Topology, xs: XenStage) -> None:
    g = t.add_guest("g1", subnet=0)
    for n, bad in enumerate(["00:16:3e:zz:00:01", "01:00:5e:00:00:01", "00:16:3e:00:01", ""]):
        be = xs.add_device(10, n, bad, ips=g.ipv4, bridge="vnet")
        xs.clear_log()
        r = xs.run("online", 10, n, g.host_if)
        check(r.returncode == 1, f"mac {bad!r}: online exits 1")
        check(xs.read(be + "/hotplug-status") == "error", "hotplug-status error")
        err = xs.read(be + "/hotplug-error") or ""
        check("mac" in err, f"hotplug-error says why: {err!r}")
        check(xs.n_contexts() == 0, "nothing assigned")
    check(xs.n_contexts() == 0, "no context in vnetd")


def case_conflict(t: Topology, xs: XenStage) -> None:
    a = t.add_guest("ga", subnet=0)
    b = t.add_guest("gb", subnet=0)
    t.run(None, ["ip", "link", "set", "dev", b.host_if, "down"])
    be_a = xs.add_device(11, 0, a.mac, ips=a.ipv4, bridge="vnet")
    be_b = xs.add_device(12, 0, b.mac, ips=f"{b.ipv4} {a.ipv4}", bridge="vnet", mtu="1400")
    check(xs.run("online", 11, 0, a.host_if).returncode == 0, "guest A online")
    r = xs.run("online", 12, 0, b.host_if)
    check(r.returncode == 1, "guest B claiming A's address: online exits 1")
    check(xs.read(be_b + "/hotplug-status") == "error", "B: hotplug-status error")
    err = xs.read(be_b + "/hotplug-error") or ""
    check(a.ipv4 in err, f"B: hotplug-error names the address: {err!r}")
    check(xs.context(12, 0) is None, "B: nothing assigned")
    check(not xs.link_up(b.host_if), "B: link left down")
    with open(f"/sys/class/net/{b.host_if}/mtu") as f:
        check(f.read().strip() == "1500", "B: MTU untouched")
    ctx_a = xs.context(11, 0)
    check(ctx_a is not None and ctx_a["interface_name"] == a.host_if, "A keeps its context")
    check(xs.read(be_a + "/hotplug-status") == "connected", "A still connected")

    # failure after the assign (the link refuses to come up): the assign is undone
    xs.write(be_b + "/ip", b.ipv4)
    xs.fail_ip_up()
    r = xs.run("online", 12, 0, b.host_if)
    xs.restore_ip()
    check(r.returncode == 1 and "cannot bring" in r.stderr, "link-up failure: online exits 1")
    check(xs.context(12, 0) is None, "B: the assign was rolled back")
    check(xs.read(be_b + "/hotplug-status") == "error", "B: hotplug-status error")
    with open(f"/sys/class/net/{b.host_if}/mtu") as f:
        check(f.read().strip() == "1500", "B: MTU restored")
    # and with the conflict gone it works
    r = xs.run("online", 12, 0, b.host_if)
    check(r.returncode == 0 and xs.read(be_b + "/hotplug-status") == "connected",
          "B online after fixing its addresses")
    check(xs.read(be_b + "/hotplug-error") is None, "stale hotplug-error removed")
    for dom, g in ((11, a), (12, b)):
        check(xs.run("offline", dom, 0, g.host_if).returncode == 0, f"offline {dom}")
    check(xs.n_contexts() == 0, "no context left")


def case_tap(t: Topology, xs: XenStage) -> None:
    """Emulated NICs: add/remove type_if=tap; the PV vif of the same device wins."""
    # named as libxl names them: the emulated NIC is the PV vif's name plus "-emu"
    tap = t.add_guest("p-emu", subnet=0)
    be = xs.add_device(13, 0, tap.mac, ips=tap.ipv4, bridge="vnet.5")
    xs.clear_log()
    r = xs.run("add", 13, 0, tap.host_if, type_if="tap")
    check(r.returncode == 0, "tap add exits 0")
    ctx = xs.context(13, 0)
    check(ctx is not None and ctx["interface_name"] == tap.host_if and ctx["vlan"] == 5,
          "the emulated NIC holds the device's context")
    check("hotplug-status" not in xs.store_log(),
          "tap leaves hotplug-status alone (it belongs to the PV vif)")
    check(xs.run("add", 13, 0, tap.host_if, type_if="tap").returncode == 0, "tap add twice")
    check(xs.run("remove", 13, 0, tap.host_if, type_if="tap").returncode == 0, "tap remove")
    check(xs.context(13, 0) is None, "released")
    check(xs.read(be + "/hotplug-status") == "", "hotplug-status untouched")

    # an HVM guest with both: the PV vif takes the context over from the emulated NIC
    pv = t.add_guest("p", subnet=0, mac=tap.mac)  # same MAC, as Xen gives both
    check(xs.run("add", 13, 0, tap.host_if, type_if="tap").returncode == 0, "tap add")
    check(xs.run("online", 13, 0, pv.host_if).returncode == 0, "PV online after the tap")
    check(xs.context(13, 0)["interface_name"] == pv.host_if, "PV vif holds the context")
    r = xs.run("add", 13, 0, tap.host_if, type_if="tap")
    check(r.returncode == 0 and "stays unplugged" in r.stderr,
          "tap add while the PV vif holds the context: exits 0, logged")
    check(xs.context(13, 0)["interface_name"] == pv.host_if, "PV vif keeps the context")
    check(xs.run("remove", 13, 0, tap.host_if, type_if="tap").returncode == 0, "tap remove")
    check(xs.context(13, 0)["interface_name"] == pv.host_if, "tap remove leaves the PV's")
    check(xs.run("offline", 13, 0, pv.host_if).returncode == 0, "PV offline")
    check(xs.n_contexts() == 0, "no context left")

    # The emulated NIC vanished without its remove (its context stays): the PV vif's
    # online finds the device held, releases the vanished NIC's context and plugs in.
    gone = t.add_guest("q-emu", subnet=0)
    xs.add_device(15, 0, gone.mac, ips=gone.ipv4, bridge="vnet.5")
    check(xs.run("add", 15, 0, gone.host_if, type_if="tap").returncode == 0, "tap add")
    t.run(None, ["ip", "link", "del", gone.host_if])
    pv2 = t.add_guest("q", subnet=0, mac=gone.mac)
    r = xs.run("online", 15, 0, pv2.host_if)
    ctx = xs.context(15, 0)
    check(r.returncode == 0 and ctx is not None and ctx["interface_name"] == pv2.host_if,
          f"PV online takes over from a vanished emulated NIC's context (rc {r.returncode}: "
          f"{r.stderr.strip()[-200:]})")
    check(xs.run("offline", 15, 0, pv2.host_if).returncode == 0, "PV offline")
    check(xs.n_contexts() == 0, "no context left")


def case_type_mismatch(t: Topology, xs: XenStage) -> None:
    g = t.add_guest("g1", subnet=0)
    be = xs.add_device(14, 0, g.mac, ips=g.ipv4, bridge="vnet")
    xs.clear_log()
    for cmd, type_if in (("online", "tap"), ("offline", "tap"), ("add", "vif"),
                         ("remove", "vif")):
        r = xs.run(cmd, 14, 0, g.host_if, type_if=type_if)
        check(r.returncode == 0 and not r.stderr.strip(), f"{cmd} type_if={type_if}: exit 0, silent")
    check(xs.store_log() == "", "nothing written to xenstore")
    check(xs.read(be + "/hotplug-status") == "", "hotplug-status untouched")
    check(xs.n_contexts() == 0, "nothing assigned")
    r = subprocess.run([SCRIPT, "bogus"], capture_output=True, text=True, timeout=10)
    check(r.returncode == 2 and "usage" in r.stderr, "unknown command: usage, exit 2")


def case_traffic_bpf(t: Topology, xs: XenStage) -> None:
    """Two guests plugged in through the script talk over the bpf fast path; offline cuts."""
    a, b = t.guests["a"], t.guests["b"]
    for dom, g in ((21, a), (22, b)):
        t.run(None, ["ip", "link", "set", "dev", g.host_if, "down"])
        xs.add_device(dom, 0, g.mac, ips=f"{g.ipv4} {g.ipv6}", bridge="vnet",
                      features={"feature-sg": 1, "feature-gso-tcpv4": 1,
                                "feature-gso-tcpv6": 1})
        check(xs.run("online", dom, 0, g.host_if).returncode == 0, f"online {g.host_if}")
        state = xs.context(dom, 0)["state"]
        check(state == "CONTEXT_STATE_ACTIVE", f"fast path attached to {g.host_if} ({state})")
    check(t.wait_ping(a.ns, b.ipv4, deadline=10), f"a pings b over IPv4 ({b.ipv4})")
    check(t.wait_ping(b.ns, a.ipv4, deadline=5), f"b pings a over IPv4 ({a.ipv4})")
    check(t.wait_ping(a.ns, b.ipv6, deadline=10), f"a pings b over IPv6 ({b.ipv6})")
    check(xs.run("offline", 22, 0, b.host_if).returncode == 0, "offline b")
    check(not t.ping(a.ns, b.ipv4, count=2, timeout=2), "after offline b is unreachable")
    check(xs.run("online", 22, 0, b.host_if).returncode == 0, "online b again")
    check(t.wait_ping(a.ns, b.ipv4, deadline=10), "a reaches b again")
    for dom, g in ((21, a), (22, b)):
        check(xs.run("offline", dom, 0, g.host_if).returncode == 0, f"offline {g.host_if}")


# Every case_NAME function is a case; tests/xen/CMakeLists.txt finds them the same way.
CASES = {name[len("case_"):]: fn for name, fn in list(globals().items())
         if name.startswith("case_") and callable(fn)}


def run_case(name: str, vnetd: str, vnetctl: str) -> bool:
    print(f"== {name}")
    tag = None
    ok = False
    try:
        with Topology(prefix="vx") as t:
            tag = t.tag
            if name == "traffic_bpf":
                uplink = t.add_wire("w", subnet=0)
                t.add_guest("a", subnet=0)
                t.add_guest("b", subnet=0)
                daemon = VnetDaemon(t, os.path.dirname(vnetd), uplink.host_if, fast_path="bpf")
            else:
                # bookkeeping-only daemon; the uplink is a wire veth of this run all the same
                uplink = t.add_wire("w", subnet=1)
                daemon = VnetDaemon(t, os.path.dirname(vnetd), uplink.host_if,
                                    fast_path="none")
            daemon.vnetd, daemon.vnetctl = vnetd, vnetctl
            xs = XenStage(t, daemon)

            def release_all():
                # contexts the script assigned and a failed check left behind
                r = daemon.ctl(["context", "list", "-o", "json"], check=False)
                try:
                    data = json.loads(r.stdout or "[]")
                except ValueError:
                    return
                if isinstance(data, dict):
                    data = data.get("contexts", [])
                for c in data:
                    daemon.ctl(["context", "release", "--domain", str(c["domain_id"]),
                                "--device", str(c.get("device_id", 0)), "--allow-missing"],
                               check=False)
            try:
                daemon.start()
            except VnetUnavailable as e:
                print(f"FAIL: vnetd cannot run this case: {e}")
                return False
            t.add_cleanup(release_all)
            print(f"  vnetd fast path: {daemon.fast_path_status()}")
            CASES[name](t, xs)
            ok = True
    except CheckFailed as e:
        print(f"FAIL: {e}")
    except (HarnessError, subprocess.SubprocessError, OSError, KeyError, ValueError) as e:
        traceback.print_exc()
        print(f"FAIL: {type(e).__name__}: {e}")
    if tag:
        try:
            check_clean(tag)
            print("  ok: nothing left behind")
        except HarnessError as e:
            print(f"FAIL: {e}")
            ok = False
    print(f"== {name}: {'PASS' if ok else 'FAIL'}")
    return ok


def main(argv) -> int:
    if len(argv) != 4 or (argv[3] != "all" and argv[3] not in CASES):
        print(f"usage: {argv[0]} VNETD VNETCTL CASE|all  (cases: {', '.join(CASES)})")
        return 2
    if os.geteuid() != 0:
        print("FAIL: these tests need root (they create veth pairs and namespaces); "
              "run them as root, they are not skipped")
        return 1
    vnetd, vnetctl = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    for p in (vnetd, vnetctl, SCRIPT):
        if not os.access(p, os.X_OK):
            print(f"FAIL: {p} is not an executable")
            return 1
    names = list(CASES) if argv[3] == "all" else [argv[3]]
    results = {n: run_case(n, vnetd, vnetctl) for n in names}
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
