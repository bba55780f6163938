#!/usr/bin/python3
"""Test network harness: guests, wires and switches as network namespaces and veth pairs.

Everything a Topology makes is named after a run-unique tag (short prefix + PID + one
letter per Topology object of the process, e.g. "vt4711a"), lives only in namespaces it
created or on links it created, and is deleted when the Topology closes: on normal exit,
on an exception, and on SIGTERM/SIGINT (turned into exceptions while a Topology is open),
with an atexit backstop.

Safety rules kept here (see /work/shared/design.md):
  * the machine's own interfaces (eth0, lo of the root namespace, ifb*) are never touched;
  * addresses only from 198.18.0.0/15 and 2001:db8::/32, and only inside namespaces: the
    root namespace gets no address, hence no route, for the test ranges;
  * IPv6 DAD is off in every namespace (sysctl + nodad), so tests do not wait for it.

API (see each docstring):

    Topology(prefix="vt", verbose=False)      context manager; .tag, .tmpdir
      add_guest(name, bridge=None, subnet=0, host=None, mac=None, gro=False, mtu=None) -> Guest
      add_direct_pair(name_a, name_b, subnet=0, gro=False) -> (Guest, Guest)
      add_wire(name="wire", bridge=None, direct_to=None, subnet=None, vlan=None) -> Wire
      add_wire_vlan(wire, vid, subnet) -> ifname       tagged interface in the wire namespace
                                       (needs 802.1Q: see vlan_devices_supported())
      add_idle_ports(count, bridge=None) -> [Guest]   many idle ports/contexts for scale tests
      add_bridge(suffix="br") -> name;  enslave(link, bridge)
      add_namespace(suffix) -> ns;  ifname(suffix) -> tag+suffix;  next_mac()
      run(ns, cmd, check=True, timeout=30) / popen(ns, cmd) / stop(proc)   ns=None: root
      ping(ns, addr) -> bool;  wait_ping(ns, addr, deadline)
      set_gro(ns, ifname, on)
      send_raw(ns, ifname, frames, repeat=1);  capture(ns, ifname) -> Capture (.stop() -> frames)
      link_stats(ns, ifname);  snmp(ns) -> {"Ip.InReceives": n, ...};  ifindex(ifname)
      add_cleanup(fn, final=False)
    Guest: name, ns, host_if, guest_if, mac, ipv4, ipv6 (198.18.<subnet>.<10+i>/24,
           2001:db8:0:<subnet>::<10+i>/64)
    Wire:  name, ns, host_if (the uplink, in the root namespace), wire_if, mac, ipv4 (.1), ipv6,
           vlans; for direct_to: peer_ns, peer_if, peer_mac, peer_ipv4, peer_ipv6
    VnetDaemon(topo, build_dir, uplink, fast_path="bpf", pin_dir=None, extra_args=())
      start() (raises VnetUnavailable with the reason), assign(guest, domain, device=0, vlan=1),
      release(domain, device), ctl(args), fast_path_status(), log_tail(), stop(),
      leftover_patterns()
    leftovers(tag, extra_paths=()) -> [str];  check_clean(tag, extra_paths=());  purge(tag)
    cleanup_check.sh TAG [PATH...]

Example:

    from topology import Topology, check_clean
    with Topology(prefix="vt") as t:
        a, b = t.add_direct_pair("a", "b")            # two guests on one veth pair
        br = t.add_bridge()
        g = t.add_guest("g1", bridge=br)              # host side veth on a Linux bridge
        w = t.add_wire(bridge=br)                     # wire namespace behind an uplink veth
        assert t.ping(a.ns, b.ipv6) and t.ping(g.ns, w.ipv4)
    check_clean(t.tag)                                # raises if anything is left

Python 3 standard library only; iproute2 `ip`, `sysctl`, `ethtool` through subprocess.
"""

from __future__ import annotations

import atexit
import glob
import ipaddress
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Union

IFNAMSIZ = 15  # usable characters in a Linux interface name
TEST_NET4 = ipaddress.ip_network("198.18.0.0/15")
TEST_NET6 = ipaddress.ip_network("2001:db8::/32")
# Interfaces of the machine that a test must never touch, whatever a caller passes in.
_FORBIDDEN_IF = re.compile(r"^(eth\d*|lo|ifb\d*)$")

Cmd = Union[str, Sequence[str]]
# Debian's interpreter (scapy is installed for it), not whatever python3 is first on PATH.
SYSTEM_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else "python3"


class HarnessError(RuntimeError):
    """A harness step failed (a command, a name, an address outside the test ranges)."""


@dataclass
class Guest:
    """A guest: a namespace with one interface into the switch (or into another guest)."""

    name: str
    ns: str                 # namespace name
    host_if: Optional[str]  # host-side veth in the root namespace (None on a direct pair)
    guest_if: str           # the guest's interface inside ns
    mac: str                # MAC of guest_if
    ipv4: str               # address without prefix length
    ipv6: str
    plen4: int = 24
    plen6: int = 64
    extra_ifs: List[str] = field(default_factory=list)


@dataclass
class Wire:
    """A host on the wire: a namespace behind the "uplink" veth.

    host_if is the uplink (in the root namespace: what a fast path or bridge attaches to);
    when the wire is cabled directly into a guest instead (direct topology) host_if is None
    and peer_* describe the guest's end of that cable.
    """

    name: str
    ns: str
    host_if: Optional[str]
    wire_if: str            # the interface inside the wire namespace carrying the addresses
    mac: str
    ipv4: str
    ipv6: str
    plen4: int = 24
    plen6: int = 64
    peer_ns: Optional[str] = None
    peer_if: Optional[str] = None
    peer_mac: Optional[str] = None
    peer_ipv4: Optional[str] = None
    peer_ipv6: Optional[str] = None
    vlans: Dict[int, str] = field(default_factory=dict)  # vid -> VLAN interface in ns


def _check_ifname(name: str) -> str:
    if not name or len(name) > IFNAMSIZ or "/" in name or " " in name:
        raise HarnessError(f"bad interface name {name!r} (1..{IFNAMSIZ} chars)")
    if _FORBIDDEN_IF.match(name):
        raise HarnessError(f"refusing to use the machine's interface name {name!r}")
    return name


def _check_addr(addr: str) -> str:
    ip = ipaddress.ip_address(addr)
    net = TEST_NET4 if ip.version == 4 else TEST_NET6
    if ip not in net:
        raise HarnessError(f"{addr} is outside the test range {net}")
    return str(ip)


def _as_list(cmd: Cmd) -> List[str]:
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def free_tcp_port() -> int:
    """A currently free TCP port on 127.0.0.1 (for a daemon's metrics listener)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------
# Open topologies, so signals and atexit can tear them down.
_LIVE: List["Topology"] = []
_LIVE_LOCK = threading.Lock()
_SEQ = [0]
# Daemons that did not exit 0 when VnetDaemon.stop stopped them, by topology tag.
_UNCLEAN_EXITS: Dict[str, List[str]] = {}


def _atexit_cleanup() -> None:
    for topo in list(_LIVE):
        topo.close()


atexit.register(_atexit_cleanup)


class Topology:
    """A set of namespaces, veth pairs and bridges that is always deleted as a whole.

    prefix: 1..3 lowercase letters/digits; the tag is prefix + PID + a letter.
    verbose: print each command.
    """

    def __init__(self, prefix: str = "vt", verbose: bool = False):
        if not re.fullmatch(r"[a-z][a-z0-9]{0,2}", prefix):
            raise HarnessError("prefix must be 1..3 lowercase letters/digits, starting with a letter")
        with _LIVE_LOCK:
            seq = _SEQ[0]
            _SEQ[0] += 1
        if seq >= 26:
            raise HarnessError("too many Topology objects in one process")
        self.prefix = prefix
        self.pid = os.getpid()
        self.tag = f"{prefix}{self.pid}{chr(ord('a') + seq)}"
        self.seq = seq
        self.verbose = verbose
        self.namespaces: List[str] = []
        self.root_links: List[str] = []   # links we created in the root namespace
        self.bridges: List[str] = []
        self.procs: List[subprocess.Popen] = []
        self.guests: Dict[str, Guest] = {}
        self.wires: Dict[str, Wire] = {}
        self._cleanups: List[Callable[[], None]] = []  # run LIFO before links go
        self._final_cleanups: List[Callable[[], None]] = []  # run after links and namespaces
        self._mac_counter = 0
        self._idle_count = 0
        self._host_counter: Dict[int, int] = {}
        self._closed = False
        self._old_handlers: Dict[int, object] = {}
        self.tmpdir = tempfile.mkdtemp(prefix=f"{self.tag}-")

    # ---- context manager and cleanup ---------------------------------------------------
    def __enter__(self) -> "Topology":
        with _LIVE_LOCK:
            _LIVE.append(self)
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old_handlers[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()

    @staticmethod
    def _on_signal(signum, frame):
        # Unwind through every `with Topology()` so their cleanups run.
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)

    def add_cleanup(self, fn: Callable[[], None], final: bool = False) -> None:
        """Run fn at close, before links and namespaces are deleted (last added runs first);
        final=True: after they are deleted (e.g. to remove pins of deleted interfaces)."""
        (self._final_cleanups if final else self._cleanups).append(fn)

    def _run_cleanups(self, fns: List[Callable[[], None]]) -> None:
        while fns:
            fn = fns.pop()
            try:
                fn()
            except Exception as e:  # keep cleaning
                print(f"[{self.tag}] cleanup step failed: {e}")

    def close(self) -> None:
        """Delete everything this topology made. Idempotent; never raises."""
        if self._closed:
            return
        self._closed = True
        prev: Dict[int, object] = {}
        if threading.current_thread() is threading.main_thread():
            # A second Ctrl-C must not interrupt the cleanup half way.
            for sig in (signal.SIGTERM, signal.SIGINT):
                prev[sig] = signal.signal(sig, signal.SIG_IGN)
        try:
            self._run_cleanups(self._cleanups)
            for p in self.procs:
                _stop_process(p)
            # Anything still running inside our namespaces is ours: stop it, or the
            # namespace (and its veths) would outlive `ip netns del`.
            for ns in self.namespaces:
                for pid in self._ns_pids(ns):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            self._delete_root_links(list(reversed(self.root_links)))
            for br in reversed(self.bridges):
                self._quiet(["ip", "link", "del", "dev", br])
            for ns in reversed(self.namespaces):
                self._quiet(["ip", "netns", "del", ns])
            self._run_cleanups(self._final_cleanups)
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        finally:
            with _LIVE_LOCK:
                if self in _LIVE:
                    _LIVE.remove(self)
            for sig, handler in prev.items():
                signal.signal(sig, self._old_handlers.get(sig, handler))

    def _delete_root_links(self, links: List[str]) -> None:
        if len(links) > 8:  # many: one ip -batch (-force: go on past missing links)
            path = os.path.join(self.tmpdir, "del.batch")
            try:
                with open(path, "w") as f:
                    f.write("".join(f"link del dev {link}\n" for link in links))
                subprocess.run(["ip", "-force", "-batch", path], capture_output=True,
                               timeout=60 + len(links) / 10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        for link in links:
            if os.path.exists(f"/sys/class/net/{link}"):
                self._quiet(["ip", "link", "del", "dev", link])

    def _ns_pids(self, ns: str) -> List[int]:
        r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, timeout=10)
        return [int(x) for x in r.stdout.split() if x.isdigit()]

    def _quiet(self, cmd: List[str]) -> None:
        subprocess.run(cmd, capture_output=True, timeout=30)

    # ---- running commands --------------------------------------------------------------
    def run(self, ns: Optional[str], cmd: Cmd, check: bool = True, timeout: float = 30,
            capture: bool = True, input: Optional[str] = None) -> subprocess.CompletedProcess:
        """Run cmd (list or shell-like string) in namespace ns (None: the root namespace)."""
        argv = _as_list(cmd)
        if ns is not None:
            argv = ["ip", "netns", "exec", ns] + argv
        if self.verbose:
            print("+", " ".join(shlex.quote(a) for a in argv))
        try:
            r = subprocess.run(argv, capture_output=capture, text=True, timeout=timeout,
                               input=input)
        except subprocess.TimeoutExpired as e:
            raise HarnessError(f"timed out after {timeout}s: {' '.join(argv)}") from e
        if check and r.returncode != 0:
            err = (r.stderr or "").strip() if capture else ""
            raise HarnessError(f"failed ({r.returncode}): {' '.join(argv)}: {err}")
        return r

    def popen(self, ns: Optional[str], cmd: Cmd, **kwargs) -> subprocess.Popen:
        """Start cmd in the background in ns; it is stopped at close at the latest."""
        argv = _as_list(cmd)
        if ns is not None:
            argv = ["ip", "netns", "exec", ns] + argv
        if self.verbose:
            print("+ &", " ".join(shlex.quote(a) for a in argv))
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        kwargs.setdefault("text", True)
        p = subprocess.Popen(argv, **kwargs)
        self.procs.append(p)
        return p

    def stop(self, p: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 5) -> None:
        """Stop a process started with popen (SIGTERM, then SIGKILL)."""
        _stop_process(p, sig, timeout)

    def ping(self, ns: str, addr: str, count: int = 1, timeout: float = 2,
             interval: Optional[float] = None) -> bool:
        """True if addr answers a ping from ns (IPv4 or IPv6 chosen by the address)."""
        if shutil.which("ping") is None:  # no iputils-ping: ICMP echo from Python
            return self.run(ns, [SYSTEM_PYTHON, "-c", _PY_PING, addr, str(count), str(timeout)],
                            check=False, timeout=timeout * count + 10).returncode == 0
        cmd = ["ping", "-n", "-q", "-c", str(count), "-w", str(int(timeout) + count)]
        if ipaddress.ip_address(addr).version == 6:
            cmd.insert(1, "-6")
        if interval is not None:
            cmd += ["-i", str(interval)]
        return self.run(ns, cmd + [addr], check=False, timeout=timeout + count + 5).returncode == 0

    def wait_ping(self, ns: str, addr: str, deadline: float = 5) -> bool:
        """Ping until addr answers or deadline seconds pass."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self.ping(ns, addr, count=1, timeout=1):
                return True
            time.sleep(0.1)
        return False

    # ---- names and addresses -----------------------------------------------------------
    def ifname(self, suffix: str) -> str:
        """A root-namespace interface name unique to this run: tag + suffix (<= 15 chars)."""
        return _check_ifname(f"{self.tag}{suffix}")

    def ns_name(self, suffix: str) -> str:
        return f"{self.tag}-{suffix}"

    def next_mac(self) -> str:
        """A locally administered unicast MAC unique within this run."""
        self._mac_counter += 1
        n = self._mac_counter
        return f"02:76:6e:{self.seq:02x}:{(n >> 8) & 0xff:02x}:{n & 0xff:02x}"

    @staticmethod
    def subnet4(subnet: int) -> ipaddress.IPv4Network:
        if not 0 <= subnet <= 511:
            raise HarnessError("subnet index must be 0..511")
        return ipaddress.ip_network(f"198.{18 + subnet // 256}.{subnet % 256}.0/24")

    @staticmethod
    def subnet6(subnet: int) -> ipaddress.IPv6Network:
        return ipaddress.ip_network(f"2001:db8:0:{subnet:x}::/64")

    def host_addrs(self, subnet: int, host: Optional[int] = None):
        """(ipv4, ipv6) for host number `host` of subnet (default: next free from .10)."""
        if host is None:
            host = self._host_counter.get(subnet, 10)
            self._host_counter[subnet] = host + 1
        if not 1 <= host <= 254:
            raise HarnessError("subnet is full")
        return (str(self.subnet4(subnet).network_address + host),
                str(self.subnet6(subnet).network_address + host))

    # ---- building blocks ---------------------------------------------------------------
    def add_namespace(self, suffix: str) -> str:
        """Create namespace tag-suffix: lo up, IPv6 DAD and RA off."""
        ns = self.ns_name(suffix)
        self.run(None, ["ip", "netns", "add", ns])
        self.namespaces.append(ns)
        self.run(ns, ["sysctl", "-q", "-w",
                      "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
                      "net.ipv6.conf.all.dad_transmits=0", "net.ipv6.conf.default.dad_transmits=0",
                      "net.ipv6.conf.all.accept_ra=0", "net.ipv6.conf.default.accept_ra=0",
                      "net.ipv6.conf.default.router_solicitations=0"])
        self.run(ns, ["ip", "link", "set", "dev", "lo", "up"])
        return ns

    def add_bridge(self, suffix: str = "br") -> str:
        """A Linux bridge in the root namespace (no address, STP off), like Xen's xenbr0."""
        br = self.ifname(suffix)
        self.run(None, ["ip", "link", "add", "name", br, "type", "bridge",
                        "stp_state", "0", "forward_delay", "0"])
        self.bridges.append(br)
        self.run(None, ["ip", "link", "set", "dev", br, "addrgenmode", "none"])
        self._no_ipv6(br)
        self.run(None, ["ip", "link", "set", "dev", br, "up"])
        return br

    def enslave(self, link: str, bridge: str) -> None:
        if link not in self.root_links or bridge not in self.bridges:
            raise HarnessError("enslave only links and bridges of this topology")
        self.run(None, ["ip", "link", "set", "dev", link, "master", bridge])

    def _root_veth(self, host_if: str, ns: str, inner_if: str, inner_mac: str) -> None:
        """veth pair: host_if in the root namespace (no addresses, up), inner_if in ns."""
        _check_ifname(host_if)
        self.run(None, ["ip", "link", "add", "name", host_if, "type", "veth",
                        "peer", "name", inner_if, "address", inner_mac, "netns", ns])
        self.root_links.append(host_if)
        # No IPv6 at all (no link-local, no multicast route) on the host side: a switch port.
        self.run(None, ["ip", "link", "set", "dev", host_if, "addrgenmode", "none"])
        self._no_ipv6(host_if)
        self.run(None, ["ip", "link", "set", "dev", host_if, "up"])

    def _no_ipv6(self, ifname: str) -> None:
        path = f"/proc/sys/net/ipv6/conf/{_check_ifname(ifname)}/disable_ipv6"
        if os.path.exists(path):
            with open(path, "w") as f:
                f.write("1")

    def _address(self, ns: str, ifname: str, ipv4: str, ipv6: str, plen4: int, plen6: int):
        self.run(ns, ["ip", "addr", "add", f"{_check_addr(ipv4)}/{plen4}", "dev", ifname])
        self.run(ns, ["ip", "-6", "addr", "add", f"{_check_addr(ipv6)}/{plen6}", "dev", ifname,
                      "nodad"])
        self.run(ns, ["ip", "link", "set", "dev", ifname, "up"])

    def set_gro(self, ns: Optional[str], ifname: str, on: bool = True) -> None:
        """GRO on a veth end (puts the veth in NAPI mode: needed to take XDP redirects)."""
        self.run(ns, ["ethtool", "-K", ifname, "gro", "on" if on else "off"])

    # ---- guests and wires --------------------------------------------------------------
    def add_guest(self, name: str, bridge: Optional[str] = None, subnet: int = 0,
                  host: Optional[int] = None, mac: Optional[str] = None,
                  gro: bool = False, mtu: Optional[int] = None) -> Guest:
        """A guest namespace tag-name with interface veth0, its host side tag+name in root.

        bridge: enslave the host side to this bridge (made by add_bridge).
        subnet/host: addresses 198.18.<subnet>.<host>/24 and 2001:db8:0:<subnet>::<host>/64.
        gro: switch GRO on in the guest (needed for XDP redirects into it).
        """
        if name in self.guests or name in self.wires:
            raise HarnessError(f"duplicate name {name}")
        ns = self.add_namespace(name)
        host_if = self.ifname(name)
        mac = mac or self.next_mac()
        ipv4, ipv6 = self.host_addrs(subnet, host)
        self._root_veth(host_if, ns, "veth0", mac)
        if mtu:
            self.run(None, ["ip", "link", "set", "dev", host_if, "mtu", str(mtu)])
            self.run(ns, ["ip", "link", "set", "dev", "veth0", "mtu", str(mtu)])
        if bridge:
            self.enslave(host_if, bridge)
        self._address(ns, "veth0", ipv4, ipv6, 24, 64)
        if gro:
            self.set_gro(ns, "veth0")
        g = Guest(name, ns, host_if, "veth0", mac, ipv4, ipv6)
        self.guests[name] = g
        return g

    def add_direct_pair(self, name_a: str, name_b: str, subnet: int = 0,
                        gro: bool = False) -> tuple:
        """Two guest namespaces joined by one veth pair (no switch): the limit to compare with.

        Nothing of it exists in the root namespace.
        """
        for n in (name_a, name_b):
            if n in self.guests or n in self.wires:
                raise HarnessError(f"duplicate name {n}")
        ns_a, ns_b = self.add_namespace(name_a), self.add_namespace(name_b)
        mac_a, mac_b = self.next_mac(), self.next_mac()
        a4, a6 = self.host_addrs(subnet)
        b4, b6 = self.host_addrs(subnet)
        self.run(ns_a, ["ip", "link", "add", "name", "veth0", "address", mac_a, "type", "veth",
                        "peer", "name", "veth0", "address", mac_b, "netns", ns_b])
        self._address(ns_a, "veth0", a4, a6, 24, 64)
        self._address(ns_b, "veth0", b4, b6, 24, 64)
        if gro:
            self.set_gro(ns_a, "veth0")
            self.set_gro(ns_b, "veth0")
        a = Guest(name_a, ns_a, None, "veth0", mac_a, a4, a6)
        b = Guest(name_b, ns_b, None, "veth0", mac_b, b4, b6)
        self.guests[name_a], self.guests[name_b] = a, b
        return a, b

    def add_wire(self, name: str = "wire", bridge: Optional[str] = None,
                 direct_to: Optional[Guest] = None, subnet: Optional[int] = None,
                 vlan: Optional[int] = None, gro: bool = False) -> Wire:
        """A wire namespace tag-name with a host at .1 of the subnet.

        Default: behind an uplink veth whose host end (tag+name) stays in the root namespace
        (optionally enslaved to bridge). direct_to=guest: cabled straight into that guest
        instead (the guest gets a second interface, veth1, in its own subnet).
        vlan: put the wire's addresses on a VLAN interface veth0.<vlan> (tagged frames).
        """
        if name in self.guests or name in self.wires:
            raise HarnessError(f"duplicate name {name}")
        ns = self.add_namespace(name)
        mac = self.next_mac()
        if direct_to is not None:
            if bridge:
                raise HarnessError("a direct wire has no bridge")
            sub = subnet if subnet is not None else 1
            w4, w6 = self.host_addrs(sub, 1)
            p4, p6 = self.host_addrs(sub)
            peer_if = f"veth{1 + len(direct_to.extra_ifs)}"
            peer_mac = self.next_mac()
            self.run(ns, ["ip", "link", "add", "name", "veth0", "address", mac, "type", "veth",
                          "peer", "name", peer_if, "address", peer_mac, "netns", direct_to.ns])
            direct_to.extra_ifs.append(peer_if)
            self._address(direct_to.ns, peer_if, p4, p6, 24, 64)
            if gro:
                self.set_gro(direct_to.ns, peer_if)
            host_if = None
        else:
            sub = subnet if subnet is not None else 0
            w4, w6 = self.host_addrs(sub, 1)
            host_if = self.ifname(name)
            self._root_veth(host_if, ns, "veth0", mac)
            if bridge:
                self.enslave(host_if, bridge)
        wire_if = "veth0"
        w = Wire(name, ns, host_if, wire_if, mac, w4, w6)
        if direct_to is not None:
            w.peer_ns, w.peer_if, w.peer_mac, w.peer_ipv4, w.peer_ipv6 = (
                direct_to.ns, peer_if, peer_mac, p4, p6)
        if vlan is not None:
            self.run(ns, ["ip", "link", "set", "dev", "veth0", "up"])
            wire_if = self.add_wire_vlan(w, vlan, sub, addresses=False)
            w.wire_if = wire_if
        self._address(ns, wire_if, w4, w6, 24, 64)
        if wire_if != "veth0":
            self.run(ns, ["ip", "link", "set", "dev", "veth0", "up"])
        self.wires[name] = w
        return w

    def add_idle_ports(self, count: int, bridge: Optional[str] = None,
                       first_subnet: int = 2) -> List[Guest]:
        """count idle guests for scale tests, fast (ip -batch): one shared namespace tag-idle
        (numbering continues across calls)
        holding every guest end (p<k>, up, no address), host ends tag+i<hex k> in the root
        namespace (optionally on bridge). Each gets a MAC and addresses (198.18.<first_subnet
        + k//200>.<10 + k%200>) for a context, but nothing answers on them."""
        if count <= 0:
            return []
        first = self._idle_count
        if first + count > 8192:  # 4 hex digits in the interface name
            raise HarnessError("at most 8192 idle ports")
        ns = self.ns_name("idle")
        if ns not in self.namespaces:
            self.add_namespace("idle")
        self._idle_count += count
        create, up, ns_cmds, out = [], [], [], []
        for k in range(first, first + count):
            host_if = self.ifname(f"i{k:x}")
            peer, mac = f"p{k}", self.next_mac()
            v4, v6 = self.host_addrs(first_subnet + k // 200, 10 + k % 200)
            create.append(f"link add name {host_if} type veth peer name {peer} "
                          f"address {mac} netns {ns}")
            create.append(f"link set dev {host_if} addrgenmode none")
            if bridge:
                up.append(f"link set dev {host_if} master {bridge}")
            up.append(f"link set dev {host_if} up")
            ns_cmds.append(f"link set dev {peer} up")
            out.append(Guest(f"i{k}", ns, host_if, peer, mac, v4, v6))
        if bridge and bridge not in self.bridges:
            raise HarnessError("bridge not of this topology")
        # Register before creating, so a half-done batch is still cleaned up.
        self.root_links.extend(g.host_if for g in out)
        path = os.path.join(self.tmpdir, "idle.batch")
        for cmds, netns in ((create, None), (up, None), (ns_cmds, ns)):
            if netns is None and cmds is up:
                for g in out:
                    self._no_ipv6(g.host_if)
            with open(path, "w") as f:
                f.write("\n".join(cmds) + "\n")
            self.run(None, ["ip"] + (["-n", netns] if netns else []) + ["-batch", path],
                     timeout=60 + count / 10)
        return out

    def add_wire_vlan(self, wire: Wire, vid: int, subnet: int, addresses: bool = True) -> str:
        """A VLAN interface veth0.<vid> in the wire namespace, host .1 of subnet."""
        if not 1 <= vid <= 4094:
            raise HarnessError("VLAN id must be 1..4094")
        ifname = f"veth0.{vid}"
        r = self.run(wire.ns, ["ip", "link", "add", "link", "veth0", "name", ifname,
                               "type", "vlan", "id", str(vid)], check=False)
        if r.returncode != 0:
            if not vlan_devices_supported():
                raise HarnessError("this kernel has no 802.1Q VLAN devices (CONFIG_VLAN_8021Q):"
                                   " send and check tagged frames with send_raw/capture")
            raise HarnessError(f"cannot add {ifname} in {wire.ns}: {r.stderr.strip()}")
        wire.vlans[vid] = ifname
        if addresses:
            v4, v6 = self.host_addrs(subnet, 1)
            self._address(wire.ns, ifname, v4, v6, 24, 64)
        return ifname

    # ---- raw frames: send and capture (for spoofing and isolation tests) ---------------
    def send_raw(self, ns: str, ifname: str, frames: Sequence[bytes], repeat: int = 1,
                 timeout: float = 30) -> None:
        """Write complete Ethernet frames on ifname in ns through an AF_PACKET socket.

        Bounded: len(frames) * repeat frames (at most 1e6), then it exits."""
        if len(frames) * repeat > 1_000_000:
            raise HarnessError("send_raw is for crafted frames, not floods (<= 1e6 frames)")
        script = ("import socket,sys\n"
                  "s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\n"
                  "s.bind((sys.argv[1],0))\n"
                  "fr=[bytes.fromhex(x) for x in sys.stdin.read().split()]\n"
                  "for _ in range(int(sys.argv[2])):\n"
                  "    for f in fr: s.send(f)\n")
        self.run(ns, [SYSTEM_PYTHON, "-c", script, ifname, str(repeat)], timeout=timeout,
                 input="\n".join(f.hex() for f in frames))

    def capture(self, ns: str, ifname: str, max_seconds: float = 30,
                max_frames: int = 100000) -> "Capture":
        """Start capturing every frame received or sent on ifname in ns (AF_PACKET).

        Call .stop() for the frames (list of bytes). Bounded by time and count."""
        return Capture(self, ns, ifname, max_seconds, max_frames)

    # ---- counters ----------------------------------------------------------------------
    def link_stats(self, ns: Optional[str], ifname: str) -> Dict[str, int]:
        """rx/tx packets, bytes and drops of an interface, from /sys (in ns)."""
        names = ["rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_dropped", "tx_dropped"]
        script = "; ".join(f"cat /sys/class/net/{ifname}/statistics/{n}" for n in names)
        r = self.run(ns, ["sh", "-c", script])
        return dict(zip(names, (int(x) for x in r.stdout.split())))

    def snmp(self, ns: Optional[str]) -> Dict[str, int]:
        """/proc/net/snmp of ns as {"Ip.InReceives": n, "Udp.NoPorts": n, ...}."""
        return parse_snmp(self.run(ns, ["cat", "/proc/net/snmp"]).stdout)

    def ifindex(self, ifname: str) -> int:
        with open(f"/sys/class/net/{ifname}/ifindex") as f:
            return int(f.read())


def parse_snmp(text: str) -> Dict[str, int]:
    """The text of a /proc/net/snmp as {"Ip.InReceives": n, "Udp.NoPorts": n, ...}."""
    out: Dict[str, int] = {}
    lines = text.splitlines()
    for head, vals in zip(lines[0::2], lines[1::2]):
        proto, keys = head.split(":", 1)
        for k, v in zip(keys.split(), vals.split(":", 1)[1].split()):
            try:
                out[f"{proto}.{k}"] = int(v)
            except ValueError:
                pass
    return out


# ICMP/ICMPv6 echo with a raw socket: argv addr count timeout; exit 0 if every echo answered.
_PY_PING = r"""
import os, select, socket, struct, sys, time
addr, count, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
v6 = ":" in addr
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW,
                  socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
ident = os.getpid() & 0xffff
def csum(b):
    b += b"\0" * (len(b) & 1)
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xffff); t += t >> 16
    return ~t & 0xffff
ok = 0
for seq in range(count):
    body = struct.pack("!HH", ident, seq) + b"vnet-harness"
    typ = 128 if v6 else 8
    hdr = struct.pack("!BBH", typ, 0, 0)
    pkt = hdr[:2] + struct.pack("!H", 0 if v6 else csum(hdr + body)) + body
    s.sendto(pkt, (addr, 0))
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r, _, _ = select.select([s], [], [], max(0, end - time.monotonic()))
        if not r:
            break
        d = s.recv(2048)
        icmp = d if v6 else d[(d[0] & 15) * 4:]
        if icmp[0] == (129 if v6 else 0) and icmp[4:8] == struct.pack("!HH", ident, seq):
            ok += 1
            break
sys.exit(0 if ok == count else 1)
"""


def vlan_devices_supported() -> bool:
    """True if `ip link add ... type vlan` can work here (8021q built in or loaded)."""
    if os.path.exists("/proc/net/vlan"):
        return True
    try:
        import gzip
        with gzip.open("/proc/config.gz", "rt") as f:
            return any(line.startswith("CONFIG_VLAN_8021Q=") for line in f)
    except OSError:
        return True  # unknown: let ip try


def _stop_process(p: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 5) -> None:
    if p.poll() is not None:
        return
    try:
        p.send_signal(sig)
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    except ProcessLookupError:
        pass


class Capture:
    """A bounded AF_PACKET capture in a namespace; see Topology.capture."""

    _SCRIPT = ("import socket,sys,time,select\n"
               "s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW,socket.htons(3))\n"
               "s.bind((sys.argv[1],0))\n"
               "end=time.monotonic()+float(sys.argv[2]); n=0; mx=int(sys.argv[3])\n"
               "print('READY',flush=True)\n"
               "while n<mx and time.monotonic()<end:\n"
               "    r,_,_=select.select([s,sys.stdin],[],[],0.05)\n"
               "    if sys.stdin in r: break\n"
               "    if s in r:\n"
               "        d,a=s.recvfrom(65535); n+=1\n"
               "        print(('O ' if a[2]==socket.PACKET_OUTGOING else 'I ')+d.hex(),flush=True)\n")

    def __init__(self, topo: Topology, ns: str, ifname: str, max_seconds: float,
                 max_frames: int):
        self.topo = topo
        self.proc = topo.popen(ns, [SYSTEM_PYTHON, "-c", self._SCRIPT, ifname, str(max_seconds),
                                    str(max_frames)], stdin=subprocess.PIPE)
        line = self.proc.stdout.readline().strip()
        if line != "READY":
            raise HarnessError(f"capture on {ns}/{ifname} failed: {self.proc.stderr.read()}")
        self.frames: List[bytes] = []
        self.outgoing: List[bytes] = []

    def stop(self, settle: float = 0.2) -> List[bytes]:
        """Stop and return the frames received (incoming) on the interface."""
        time.sleep(settle)
        try:
            out, _ = self.proc.communicate(input="x\n", timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        for line in out.splitlines():
            kind, _, hexdata = line.partition(" ")
            if kind in ("I", "O") and hexdata:
                (self.frames if kind == "I" else self.outgoing).append(bytes.fromhex(hexdata))
        return self.frames


# --------------------------------------------------------------------------------------
class VnetUnavailable(HarnessError):
    """vnetd could not be started with the requested fast path (reason in the message)."""


class VnetDaemon:
    """vnetd with the BPF fast path on an uplink, plus vnetctl to assign contexts.

    Lives inside a Topology: stop() runs at the topology's close at the latest, releasing
    every context it assigned (so the fast path detaches), stopping the daemon, and
    removing its pin directory and the libxdp dispatcher pins of its uplink.
    """

    def __init__(self, topo: Topology, build_dir: str, uplink: str,
                 fast_path: str = "bpf", pin_dir: Optional[str] = None,
                 extra_args: Sequence[str] = ()):
        self.topo = topo
        self.vnetd = os.path.join(build_dir, "daemon", "vnetd")
        self.vnetctl = os.path.join(build_dir, "cli", "vnetctl")
        self.uplink = uplink
        self.fast_path = fast_path
        self.dir = tempfile.mkdtemp(prefix="vnetd-", dir=topo.tmpdir)
        self.socket = os.path.join(self.dir, "vnetd.sock")
        self.state_dir = os.path.join(self.dir, "state")
        self.log_path = os.path.join(self.dir, "vnetd.log")
        self.pin_dir = pin_dir or f"/sys/fs/bpf/vnet-{topo.tag}"
        self.extra_args = list(extra_args)
        self.proc: Optional[subprocess.Popen] = None
        self.assigned: List[tuple] = []
        self._uplink_ifindex = topo.ifindex(uplink)
        self._stopped = False
        topo.add_cleanup(self.stop)
        topo.add_cleanup(self._remove_pins, final=True)

    def log_tail(self, lines: int = 15) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:]).strip()
        except OSError:
            return ""

    def start(self, timeout: float = 15) -> None:
        for path in (self.vnetd, self.vnetctl):
            if not os.access(path, os.X_OK):
                raise VnetUnavailable(f"{path} not built")
        args = [self.vnetd, f"--fast_path={self.fast_path}", f"--uplink={self.uplink}",
                f"--unix_socket={self.socket}", f"--state_dir={self.state_dir}",
                f"--bpf_pin_dir={self.pin_dir}",
                f"--metrics_address=127.0.0.1:{free_tcp_port()}"] + self.extra_args
        log = open(self.log_path, "w")
        self.proc = self.topo.popen(None, args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise VnetUnavailable(f"vnetd exited with {self.proc.returncode}: "
                                      f"{self.log_tail(5)}")
            if os.path.exists(self.socket):
                r = self.ctl(["status"], check=False)
                if r.returncode == 0:
                    mode = self.fast_path_status(r.stdout)
                    if self.fast_path != "none" and (mode is None or mode.startswith("none")
                                                     or "not initialised" in mode):
                        raise VnetUnavailable(f"vnetd was asked for --fast_path={self.fast_path}"
                                              f" but reports fast path: {mode}")
                    return
            time.sleep(0.1)
        raise VnetUnavailable(f"vnetd did not answer within {timeout}s: {self.log_tail(5)}")

    def fast_path_status(self, status_text: Optional[str] = None) -> Optional[str]:
        """The "fast path:" line of `vnetctl status` (e.g. "bpf (xdp native on ...)")."""
        if status_text is None:
            status_text = self.ctl(["status"], check=False).stdout
        m = re.search(r"^\s*fast path:\s*(.*)$", status_text, re.M)
        return m.group(1).strip() if m else None

    def ctl(self, args: Sequence[str], check: bool = True) -> subprocess.CompletedProcess:
        r = self.topo.run(None, [self.vnetctl, "--socket", self.socket] + list(args),
                          check=False, timeout=20)
        if check and r.returncode != 0:
            raise HarnessError(f"vnetctl {' '.join(args)}: {(r.stderr or r.stdout).strip()}")
        return r

    def assign(self, guest: Guest, domain: int, device: int = 0, vlan: int = 1) -> None:
        """Assign a context to the guest's host-side interface (its MAC and both addresses)."""
        if guest.host_if is None:
            raise HarnessError(f"guest {guest.name} has no host-side interface")
        self.ctl(["context", "assign", "--domain", str(domain), "--device", str(device),
                  "--interface", guest.host_if, "--mac", guest.mac, "--ip", guest.ipv4,
                  "--ip", guest.ipv6, "--vlan", str(vlan)])
        self.assigned.append((domain, device))

    def release(self, domain: int, device: int = 0) -> None:
        self.ctl(["context", "release", "--domain", str(domain), "--device", str(device)])
        if (domain, device) in self.assigned:
            self.assigned.remove((domain, device))

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.proc is not None and self.proc.poll() is None:
            # Release what we assigned (exercises detach); with many contexts that takes a
            # while, and deleting the links and the pins removes every trace anyway.
            for domain, device in list(self.assigned if len(self.assigned) <= 16 else []):
                try:
                    self.release(domain, device)
                except HarnessError as e:
                    print(f"[{self.topo.tag}] release {domain}.{device}: {e}")
            _stop_process(self.proc, signal.SIGTERM, 20)
            if self.proc.returncode != 0:
                # vnetd exits 0 on SIGTERM; anything else is a bug, and under the sanitizers
                # it is where a leak report at exit shows. check_clean(tag) fails with it.
                how = ("did not exit within 20 s" if self.proc.returncode == -signal.SIGKILL
                       else f"exited with {self.proc.returncode}")
                _UNCLEAN_EXITS.setdefault(self.topo.tag, []).append(
                    f"vnetd (pid {self.proc.pid}) stopped with SIGTERM {how}; its log ends:\n"
                    + self.log_tail(60))

    def leftover_patterns(self) -> List[str]:
        """Paths (globs) that must not exist once the topology is closed."""
        return [self.pin_dir, f"/sys/fs/bpf/xdp/dispatch-{self._uplink_ifindex}-*"]

    def _remove_pins(self) -> None:
        # The daemon keeps forwarding pinned across restarts by design; a test run must not
        # leave it: its pin directory and libxdp's dispatcher pins for the (deleted) uplink.
        shutil.rmtree(self.pin_dir, ignore_errors=True)
        remove_xdp_dispatcher_pins(self._uplink_ifindex, self.uplink)


def remove_xdp_dispatcher_pins(ifindex: int, ifname: str) -> None:
    """Remove libxdp's dispatcher pins for an interface that no longer exists."""
    if os.path.exists(f"/sys/class/net/{ifname}"):
        return  # still there: libxdp owns them
    for d in glob.glob(f"/sys/fs/bpf/xdp/dispatch-{ifindex}-*"):
        shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------------------
def _tag_pattern(tag: str) -> "re.Pattern[str]":
    return re.compile(rf"^{re.escape(tag)}([a-z]|$)" if re.search(r"\d$", tag)
                      else rf"^{re.escape(tag)}")


def leftovers(tag: str, extra_paths: Sequence[str] = ()) -> List[str]:
    """Everything in the system that carries this run tag (or prefix+PID), as descriptions.

    tag may be a full Topology tag ("vt4711a") or a run prefix ("vt4711"); a run prefix
    matches only that PID (the tag letter follows the PID, so vt4711 never matches vt47110).
    """
    pat = _tag_pattern(tag)
    found: List[str] = []
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10)
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if pat.match(name):
            found.append(f"namespace {name}")
    r = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, timeout=10)
    for line in r.stdout.splitlines():
        parts = line.split(":", 2)
        if len(parts) > 1:
            name = parts[1].strip().split("@")[0]
            if pat.match(name):
                found.append(f"link {name}")
    for fam in ("-4", "-6"):
        r = subprocess.run(["ip", fam, "route", "show", "table", "all"], capture_output=True,
                           text=True, timeout=10)
        for line in r.stdout.splitlines():
            m = re.search(r"\bdev (\S+)", line)
            if m and pat.match(m.group(1)):
                found.append(f"route {line.strip()}")
    for path in glob.glob("/sys/fs/bpf/*"):
        base = os.path.basename(path)
        if pat.match(base) or pat.match(base.replace("vnet-", "", 1)):
            found.append(f"bpf pin {path}")
    for pattern in extra_paths:  # paths or glob patterns
        for path in glob.glob(pattern) or ([pattern] if os.path.lexists(pattern) else []):
            found.append(f"path {path}")
    for path in glob.glob(os.path.join(tempfile.gettempdir(), f"{tag}*")):
        if pat.match(os.path.basename(path).split("-")[0]):
            found.append(f"temp dir {path}")
    return found


def root_test_routes() -> List[str]:
    """Routes in the root namespace for the test ranges (there must be none from us)."""
    bad = []
    for fam, net in (("-4", TEST_NET4), ("-6", TEST_NET6)):
        r = subprocess.run(["ip", fam, "route", "show", "table", "all"], capture_output=True,
                           text=True, timeout=10)
        for line in r.stdout.splitlines():
            dst = line.split()[0] if line.split() else ""
            if dst in ("local", "broadcast", "anycast", "multicast", "unreachable"):
                dst = line.split()[1]
            try:
                n = ipaddress.ip_network(dst, strict=False)
            except ValueError:
                continue
            if n.version == net.version and n.subnet_of(net):
                bad.append(line.strip())
    return bad


def purge(tag: str) -> List[str]:
    """Delete what a dead run (killed with SIGKILL, say) left: its namespaces and links, and
    BPF pin directories named after it. Refuses while the run's process is alive."""
    m = re.fullmatch(r"[a-z][a-z0-9]{0,2}?(\d+)[a-z]?", tag)
    if not m:
        raise HarnessError(f"{tag!r} is not a run tag like vt4711 or vt4711a")
    pid = int(m.group(1))
    if os.path.exists(f"/proc/{pid}"):
        raise HarnessError(f"process {pid} is alive: let it clean up itself")
    done = []
    for item in leftovers(tag):
        kind, _, name = item.partition(" ")
        if kind == "namespace":
            for p in subprocess.run(["ip", "netns", "pids", name], capture_output=True,
                                    text=True, timeout=10).stdout.split():
                try:
                    os.kill(int(p), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)
        elif kind == "link":
            subprocess.run(["ip", "link", "del", "dev", name], capture_output=True, timeout=30)
        elif kind in ("bpf", "temp"):
            shutil.rmtree(name.split(" ", 1)[-1], ignore_errors=True)
        else:
            continue
        done.append(item)
    return done


def check_clean(tag: str, extra_paths: Sequence[str] = ()) -> None:
    """Raise HarnessError if anything with this tag (or run prefix) is left, or if a vnetd
    of it did not exit 0 when stopped (VnetDaemon.stop)."""
    left = leftovers(tag, extra_paths)
    if left:
        raise HarnessError(f"left behind by {tag}: " + "; ".join(left))
    unclean = unclean_exits(tag)
    if unclean:
        raise HarnessError("\n".join(unclean))


def unclean_exits(tag: str) -> List[str]:
    """What VnetDaemon.stop saw of daemons of this tag (or run prefix) that did not exit 0."""
    pat = _tag_pattern(tag)
    return [m for t, msgs in _UNCLEAN_EXITS.items() if pat.match(t) for m in msgs]


if __name__ == "__main__":
    import sys
    if len(sys.argv) >= 3 and sys.argv[1] == "check":
        left = leftovers(sys.argv[2], sys.argv[3:])
        for item in left:
            print(item)
        sys.exit(1 if left else 0)
    if len(sys.argv) == 3 and sys.argv[1] == "purge":
        for item in purge(sys.argv[2]):
            print("deleted", item)
        left = leftovers(sys.argv[2])
        for item in left:
            print("still there:", item)
        sys.exit(1 if left else 0)
    print("usage: topology.py check TAG [PATH...]  (exit 1 and list what is left for TAG)\n"
          "       topology.py purge TAG            (delete what a dead run left)")
    sys.exit(2)
