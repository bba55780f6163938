#!/usr/bin/python3
"""The uplink set through the API: `vnetctl uplink set|clear`.

A vnetd started without --uplink forwards nothing to the wire; `uplink set` attaches the
uplink program and guest-to-wire traffic flows; a guest's own interface is refused as the
uplink; the choice survives a full teardown of the fast path and a restart (it is in the
state file); `uplink clear` detaches it again. Alternative names (`ip link property add
... altname`) resolve to another interface, so they are refused: an altname on the
allow-list does not move the uplink onto the interface that carries it, and a guest
named by the uplink's altname is not attached to the uplink.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "netns"))
from topology import Topology, check_clean, free_tcp_port  # noqa: E402


def fail(message):
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


class Daemon:
    def __init__(self, topo, build_dir, allowed_uplinks=()):
        self.topo = topo
        self.vnetd = os.path.join(build_dir, "daemon", "vnetd")
        self.vnetctl = os.path.join(build_dir, "cli", "vnetctl")
        self.dir = tempfile.mkdtemp(prefix="vnet-uplink-", dir=topo.tmpdir)
        self.flags = [f"--unix_socket={self.dir}/vnetd.sock", f"--state_dir={self.dir}/state",
                      f"--bpf_pin_dir=/sys/fs/bpf/vnet-{topo.tag}",
                      f"--allowed_uplinks={','.join(allowed_uplinks)}",
                      # XDP delivery: the XDP program's attach and detach are checked below
                      # (auto puts no XDP on a veth uplink).
                      "--uplink_delivery=xdp"]
        self.proc = None
        topo.add_cleanup(self.teardown)

    def start(self):
        log = open(os.path.join(self.dir, "vnetd.log"), "a")
        self.proc = subprocess.Popen([self.vnetd, "--fast_path=bpf",
                                      f"--metrics_address=127.0.0.1:{free_tcp_port()}",
                                      *self.flags], stdout=log, stderr=subprocess.STDOUT)
        for _ in range(150):
            if self.ctl("status").returncode == 0:
                return
            if self.proc.poll() is not None:
                fail(f"vnetd exited {self.proc.returncode}")
            time.sleep(0.1)
        fail("vnetd did not answer")

    def stop(self):
        """SIGTERM; returns vnetd's exit code (0 expected: under the sanitizers a leak
        report at exit makes it non-zero), None when it was not running."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            return self.proc.wait(timeout=20)
        return None

    def stop_cleanly(self):
        rc = self.stop()
        if rc != 0:
            with open(os.path.join(self.dir, "vnetd.log"), errors="replace") as f:
                tail = "".join(f.readlines()[-60:])
            fail(f"vnetd stopped with SIGTERM exited {rc}, not 0; its log ends:\n{tail}")

    def remove_fast_path(self):
        r = subprocess.run([self.vnetd, "--remove_fast_path", *self.flags], capture_output=True,
                           text=True, timeout=30)
        if r.returncode != 0:
            fail(f"--remove_fast_path: {r.stderr}")

    def teardown(self):
        self.stop()
        subprocess.run([self.vnetd, "--remove_fast_path", *self.flags], capture_output=True,
                       timeout=30)

    def ctl(self, *args):
        return subprocess.run([self.vnetctl, "--socket", f"{self.dir}/vnetd.sock", *args],
                              capture_output=True, text=True, timeout=20)


def check_effective_offloads(daemon, want_all):
    """The fast path reports the offloads in effect for an attached context."""
    import json
    ctx = json.loads(daemon.ctl("context", "get", "1", "-o", "json").stdout)
    eff = ctx.get("effective_offloads")
    if not eff:
        fail(f"no effective_offloads reported for an attached context: {ctx}")
    want = {"tx_checksum": True, "scatter_gather": True,
            "tso_v4": want_all, "tso_v6": want_all, "rx_checksum": want_all,
            "rx_scatter_gather": want_all, "rx_tso_v4": want_all, "rx_tso_v6": want_all}
    for key, value in want.items():
        if eff.get(key, False) != value:
            fail(f"effective offload {key} is {eff.get(key)}, expected {value}: {eff}")
    print(f"effective offloads reported: {eff}")


def check_guest_not_on_uplink_altname(topo, daemon, wire):
    """A context named by an altname of the uplink is not attached to the uplink."""
    import json
    alt = topo.ifname("wa")
    topo.run(None, ["ip", "link", "property", "add", "dev", wire.host_if, "altname", alt])
    r = daemon.ctl("context", "assign", "--domain", "2", "--device", "0", "--interface", alt,
                   "--mac", "00:16:3e:12:00:02")
    if r.returncode != 0:
        fail(f"assign on {alt}: {r.stderr}")
    ctx = json.loads(daemon.ctl("-o", "json", "context", "get", "--interface", alt).stdout)
    daemon.ctl("context", "release", "--interface", alt)
    topo.run(None, ["ip", "link", "property", "del", "dev", wire.host_if, "altname", alt])
    if ctx.get("state") == "CONTEXT_STATE_ACTIVE":
        fail(f"a guest named {alt}, an altname of the uplink {wire.host_if}, was attached: {ctx}")
    print(f"assign on {alt}, the uplink's altname: not attached ({ctx.get('state')})")


def check_guest_not_on_host_interface(topo, daemon, mgmt):
    """A context on an interface that has an address of its own (the host's management NIC,
    here its stand-in) is not attached: the guest program there would cut the host off."""
    import json
    address = "198.18.250.1"
    topo.run(None, ["ip", "addr", "add", f"{address}/32", "dev", mgmt.host_if])
    r = daemon.ctl("context", "assign", "--domain", "3", "--device", "0", "--interface",
                   mgmt.host_if, "--mac", "00:16:3e:12:00:03")
    ctx = json.loads(daemon.ctl("-o", "json", "context", "get", "--interface",
                                mgmt.host_if).stdout or "{}")
    tc = subprocess.run(["tc", "filter", "show", "dev", mgmt.host_if, "ingress"],
                        capture_output=True, text=True).stdout
    tcx = subprocess.run(["bpftool", "net", "show", "dev", mgmt.host_if],
                         capture_output=True, text=True).stdout
    daemon.ctl("context", "release", "--interface", mgmt.host_if)
    topo.run(None, ["ip", "addr", "del", f"{address}/32", "dev", mgmt.host_if])
    if ctx.get("state") == "CONTEXT_STATE_ACTIVE" or "vnet_guest" in tc + tcx:
        fail(f"a guest was attached to {mgmt.host_if}, which has the address {address}: "
             f"rc={r.returncode} {ctx} {tc} {tcx}")
    log = open(os.path.join(daemon.dir, "vnetd.log")).read()
    if f"it has the address {address}" not in log:
        fail(f"vnetd's log does not say why {mgmt.host_if} was refused: {log[-2000:]}")
    print(f"assign on {mgmt.host_if} (address {address}): not attached ({ctx.get('state')})")


def has_xdp(ifname):
    return " xdp" in subprocess.run(["ip", "-d", "link", "show", ifname], capture_output=True,
                                    text=True).stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True)
    args = parser.parse_args()
    if os.geteuid() != 0:
        fail("needs root (BPF programs, namespaces)")

    with Topology(prefix="vu") as topo:
        wire = topo.add_wire()
        guest = topo.add_guest("g1", gro=True)
        # The guest's interface is on the allow-list too, so the check that refuses a
        # guest's interface as uplink is the one exercised below.
        # A stand-in for the management NIC, off the allow-list, with an alternative name
        # that is on it (udev gives NICs altnames like enp1s0 whatever their name).
        mgmt = topo.add_guest("mg")
        mgmt_alt = topo.ifname("upx")
        topo.run(None, ["ip", "link", "property", "add", "dev", mgmt.host_if, "altname", mgmt_alt])
        daemon = Daemon(topo, args.build_dir,
                        allowed_uplinks=(wire.host_if, guest.host_if, f"{topo.tag}up*"))
        daemon.start()
        r = daemon.ctl("context", "assign", "--domain", "1", "--device", "0", "--interface",
                       guest.host_if, "--mac", guest.mac, "--ip", guest.ipv4, "--ip", guest.ipv6)
        if r.returncode != 0:
            fail(f"assign: {r.stderr}")
        if topo.ping(guest.ns, wire.ipv4, count=2, timeout=1):
            fail("guest reached the wire with no uplink set")
        check_effective_offloads(daemon, want_all=True)
        if daemon.ctl("context", "update", "1", "--offloads", "tx-csum,sg").returncode != 0:
            fail("context update --offloads failed")
        check_effective_offloads(daemon, want_all=False)

        r = daemon.ctl("uplink", "set", guest.host_if)
        if r.returncode != 1 or "interface" not in r.stderr:
            fail(f"a guest's interface was accepted as uplink: rc={r.returncode} {r.stderr}")
        r = daemon.ctl("uplink", "set", "lo")
        if r.returncode != 1 or "not allowed" not in r.stderr:
            fail(f"an interface off the allow-list was accepted: rc={r.returncode} {r.stderr}")
        r = daemon.ctl("uplink", "set", mgmt_alt)
        if r.returncode != 1 or "alternative name" not in r.stderr or has_xdp(mgmt.host_if):
            fail(f"uplink set {mgmt_alt}, an altname of {mgmt.host_if} (not allowed), was not "
                 f"refused: rc={r.returncode} {r.stdout} {r.stderr} xdp={has_xdp(mgmt.host_if)}")
        print(f"uplink set: altname {mgmt_alt} of {mgmt.host_if} refused, nothing attached")
        r = daemon.ctl("uplink", "set", wire.host_if)
        if r.returncode != 0 or wire.host_if not in r.stdout:
            fail(f"uplink set: rc={r.returncode} {r.stdout} {r.stderr}")
        check_guest_not_on_uplink_altname(topo, daemon, wire)
        check_guest_not_on_host_interface(topo, daemon, mgmt)
        if not has_xdp(wire.host_if):
            fail("no XDP program on the uplink after uplink set")
        for dst in (wire.ipv4, wire.ipv6):
            if not topo.wait_ping(guest.ns, dst, deadline=5):
                fail(f"guest cannot reach the wire at {dst} after uplink set")
        print("uplink set: guest reaches the wire (IPv4, IPv6)")

        # Full teardown of the kernel side, then a restart without --uplink: the uplink
        # comes back from the state file.
        daemon.stop_cleanly()
        daemon.remove_fast_path()
        if has_xdp(wire.host_if):
            fail("XDP still on the uplink after --remove_fast_path")
        daemon.start()
        if wire.host_if not in daemon.ctl("status").stdout:
            fail("status does not show the persisted uplink after restart")
        if not topo.wait_ping(guest.ns, wire.ipv4, deadline=5):
            fail("guest cannot reach the wire after restart with the persisted uplink")
        print("restart: persisted uplink attached again")

        r = daemon.ctl("uplink", "clear")
        if r.returncode != 0:
            fail(f"uplink clear: {r.stderr}")
        if has_xdp(wire.host_if):
            fail("XDP still on the uplink after uplink clear")
        if topo.ping(guest.ns, wire.ipv4, count=2, timeout=1):
            fail("guest reached the wire after uplink clear")
        print("uplink clear: detached, wire unreachable")
        daemon.ctl("context", "release", "1")
        daemon.stop_cleanly()
    check_clean(topo.tag)
    print("PASS")


if __name__ == "__main__":
    main()
