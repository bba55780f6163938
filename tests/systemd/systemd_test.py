#!/usr/bin/python3
"""The vnet package under a real systemd: a Debian 12 tree booted with systemd-nspawn as
PID 1 (tests/systemd/container.py says why nspawn and why each option), the .deb
installed into it with apt, then what an operator relies on. Needs root; fails, never
skips.

  systemd_test.py --build-dir BUILD --source-dir SRC [--checks package|upgrade|watchdog]

--checks package (ctest systemd.package), in order:
  install   `apt install ./vnet_<new>.deb` on a fresh system: dependencies and
            Recommends (python3-grpcio, python3-protobuf) from Debian's mirror; postinst
            copies /etc/vnet/vnetd.conf, enables and starts vnetd.service -> active; the
            Python client imports; docs/operations.md's walk-through commands run.
  journal   `journalctl -u vnetd -o json`: vnetd's lines carry the PRIORITY their <N>
            prefix asked for (6 info: "metrics on"; 4 warning: a context on an interface
            that does not exist; 3 error: the metrics port taken) and no "<N>" is left.
  sandbox   from inside: the process's CapEff/CapPrm/CapBnd are the unit's bounding set,
            NoNewPrivs 1, seccomp on; in its mountinfo / and /usr are read-only and
            /var/lib/vnet, /run/vnet, /sys/fs/bpf writable; a write into /usr from its
            mount namespace fails with EROFS, into /var/lib/vnet succeeds.
  restart   two guests (namespaces + veths made by the test in the network namespace the
            container shares) with contexts from vnetctl; a bounded ping (0.02 s
            interval) runs across `systemctl restart vnetd` and loses at most 1%.
  remove    `dpkg -r vnet`: binaries and the Python client gone, the service stopped;
            /etc/vnet/vnetd.conf, /var/lib/vnet/contexts.state and the conffile
            /etc/xen/scripts/vif-vnet kept; the pinned fast path still forwards.
  purge     `dpkg --purge vnet`: /etc/vnet, /var/lib/vnet, vif-vnet and the unit's
            enablement gone; then the fast path's pins are removed as docs/operations.md
            says.
--checks upgrade (ctest systemd.upgrade), on a fresh system:
  upgrade   the previous landed version (commit 8482e85 of main, 0.1.0, state format 1)
            installed, two guests given contexts with offloads, then `apt-get install
            ./vnet_<new>.deb` without a prompt (0.1.0's vif-vnet, now a conffile, is
            replaced quietly): same contexts (ids, interfaces, addresses), format 1's
            offloads carried to both directions, a ping across the upgrade loses at most
            1%, and after a change the state file is format 2.
--checks watchdog (ctest systemd.watchdog): the unit has WatchdogSec=; vnetd stopped with
  SIGSTOP (it stops answering and pinging the watchdog) is killed and restarted by
  systemd within WatchdogSec + 10 s. Without WatchdogSec= in deploy/systemd/vnetd.service
  it fails at once with "vnetd.service has no WatchdogSec".

A sanitizer build (tests/run-all.sh; the .deb then depends on libasan): a drop-in turns
leak checking on with tests/lsan.supp and allows LeakSanitizer's ptrace, and every mode
ends with `sanitizer.reports`: no LeakSanitizer, AddressSanitizer or UBSan report from any
vnetd of the run in the journal.

Cached under /var/cache/vnet-systemd-test: the debootstrap tarball, the .debs apt
fetched, and the previous version's .deb (built once from `git archive 8482e85`, a
throwaway copy of that commit, with tests off). Every wait is bounded; the container is
always powered off; the tree, guests and veths are removed; the host's /sys/fs/bpf is
never touched (the container has its own bpffs).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "netns"))
sys.path.insert(0, os.path.join(HERE, "..", "package"))
from container import (CACHE, Container, ContainerError, host_leftovers, log,  # noqa: E402
                       prepare_tree, run, save_archives)
from topology import HarnessError, Topology, check_clean  # noqa: E402
from cpack_deb import CpackError, build_deb  # noqa: E402

PREVIOUS_COMMIT = "8482e85"      # the last version of main CI accepted (0.1.0)
CAPS = {"cap_net_admin": 12, "cap_net_raw": 13, "cap_sys_admin": 21, "cap_sys_resource": 24,
        "cap_perfmon": 38, "cap_bpf": 39}
MAX_RESTART_LOSS = 0.01


class TestFailure(AssertionError):
    pass


class Checks:
    def __init__(self):
        self.results: List[tuple] = []
        self.timings: Dict[str, float] = {}

    def ok(self, name: str, detail: str) -> None:
        self.results.append((name, True, detail))
        log(f"PASS {name}: {detail}")

    def fail(self, name: str, detail: str) -> None:
        self.results.append((name, False, detail))
        log(f"FAIL {name}: {detail}")

    def expect(self, cond: bool, name: str, detail: str) -> bool:
        (self.ok if cond else self.fail)(name, detail)
        return cond

    def failed(self) -> List[str]:
        return [n for n, good, _ in self.results if not good]


# ------------------------------------------------------------------------------ packages
def build_new_deb(build_dir: str, out: str) -> str:
    try:
        return build_deb(build_dir, out)
    except CpackError as e:
        raise TestFailure(str(e)) from e


def previous_deb(source_dir: str, workdir: str) -> str:
    """The .deb of PREVIOUS_COMMIT, built once in a throwaway copy and cached."""
    full = run(["git", "-C", source_dir, "rev-parse", "--verify", f"{PREVIOUS_COMMIT}^{{commit}}"],
               timeout=30, check=False)
    if full.returncode != 0:
        raise TestFailure(f"{source_dir} is not a git checkout holding {PREVIOUS_COMMIT}: "
                          "the upgrade check needs the previous version's source")
    commit = full.stdout.strip()
    cached = os.path.join(CACHE, f"vnet-previous-{commit[:12]}.deb")
    if os.path.exists(cached):
        return cached
    log(f"building the previous version ({commit[:12]}) once; cached as {cached}")
    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="previous-", dir=workdir)
    # BUILD inside SRC, as deploy/build.sh does: with CCACHE_BASEDIR the compiler sees
    # the same relative paths in every run, so a rebuild is mostly cache hits.
    src, out = os.path.join(tmp, "src"), os.path.join(tmp, "out")
    build = os.path.join(src, "build")
    os.makedirs(src)
    subprocess.run(f"git -C {source_dir} archive {commit} | tar -x -C {src}", shell=True,
                   check=True, timeout=120)
    env = dict(os.environ, CCACHE_BASEDIR=src)
    configure = ["cmake", "-S", src, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                 "-DVNET_BUILD_TESTS=OFF"]
    if shutil.which("ccache"):
        configure.append("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache")
    run(configure, timeout=300, env=env)
    run(["nice", "-n", "10", "cmake", "--build", build, "-j", "2"], timeout=3600, env=env)
    deb = build_new_deb(build, out)
    shutil.copy(deb, cached + ".tmp")
    os.rename(cached + ".tmp", cached)
    shutil.rmtree(tmp, ignore_errors=True)
    log(f"previous version built in {time.monotonic() - t0:.0f}s")
    return cached


def deb_field(deb: str, field: str) -> str:
    return run(["dpkg-deb", "-f", deb, field], timeout=30).stdout.strip()


# ---------------------------------------------------------------------------- in the box
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def set_metrics_address(c: Container, address: str) -> None:
    c.sh("sed -i -E 's|^#? *metrics_address:.*$|metrics_address: \"%s\"|' /etc/vnet/vnetd.conf"
         " && grep -q 'metrics_address: \"%s\"' /etc/vnet/vnetd.conf" % (address, address))


def main_pid(c: Container) -> int:
    return int(c.sh("systemctl show -p MainPID --value vnetd").stdout.strip() or 0)


def wait_active(c: Container, timeout: float = 30) -> str:
    """Waits until vnetd is active and answers vnetctl status; returns the state."""
    end = time.monotonic() + timeout
    state = ""
    while time.monotonic() < end:
        state = c.sh("systemctl is-active vnetd", check=False).stdout.strip()
        if state == "active" and c.sh("vnetctl status", check=False, timeout=15).returncode == 0:
            return state
        if state == "failed":
            break
        time.sleep(0.2)
    return state


def restart_timed(c: Container) -> float:
    t0 = time.monotonic()
    r = c.sh("systemctl restart vnetd", timeout=60, check=False)
    if r.returncode != 0:
        raise TestFailure(f"systemctl restart vnetd -> {r.returncode}: {journal_tail(c, 25)}")
    if wait_active(c) != "active":
        raise TestFailure(f"vnetd not active after restart: {journal_tail(c)}")
    return time.monotonic() - t0


def journal_tail(c: Container, n: int = 15) -> str:
    return c.sh(f"journalctl -u vnetd -n {n} --no-pager -o cat", check=False).stdout


def journal_entries(c: Container, since: str = "") -> List[dict]:
    out = c.sh(f"journalctl -u vnetd -o json --no-pager {since}", timeout=30).stdout
    entries = []
    for line in out.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("_COMM") == "vnetd" or e.get("SYSLOG_IDENTIFIER") == "vnetd":
            msg = e.get("MESSAGE")
            if isinstance(msg, list):  # journald gives non-UTF-8 messages as bytes
                msg = bytes(msg).decode(errors="replace")
            e["MESSAGE"] = msg or ""
            entries.append(e)
    return entries


def assign(c: Container, guest, domain: int, offloads: str = "") -> int:
    cmd = (f"vnetctl context assign --domain {domain} --device 0 --interface {guest.host_if} "
           f"--mac {guest.mac} --ip {guest.ipv4} --ip {guest.ipv6} --vlan 1")
    if offloads:
        cmd += f" --offloads {offloads}"
    c.sh(cmd)
    ctx = json.loads(c.sh(f"vnetctl context get --interface {guest.host_if} -o json").stdout)
    return int(ctx.get("id") or ctx.get("context", {}).get("id"))


def contexts(c: Container) -> List[dict]:
    data = json.loads(c.sh("vnetctl context list -o json").stdout or "{}")
    return sorted(data.get("contexts", []), key=lambda x: x.get("id", 0))


def ping_across(t: Topology, src, dst_addr: str, action, count: int = 300,
                interval: float = 0.02):
    """Runs a bounded ping from src to dst while action() runs; (sent, received, action's
    result)."""
    p = t.popen(src.ns, ["ping", "-n", "-q", "-c", str(count), "-i", str(interval), "-W", "1",
                         dst_addr], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(1.0)
        result = action()
        out, _ = p.communicate(timeout=count * interval + 20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=5)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    if not m:
        raise TestFailure(f"ping printed no summary: {out[-500:]}")
    return int(m.group(1)), int(m.group(2)), result


def parse_caps(text: str) -> int:
    mask = 0
    for name in text.split():
        if name.lower() not in CAPS:
            raise TestFailure(f"capability {name} not in the test's table")
        mask |= 1 << CAPS[name.lower()]
    return mask


def mount_for(mountinfo: List[List[str]], path: str) -> List[str]:
    """The mountinfo entry whose mount point is the longest prefix of path (last wins)."""
    best = None
    for f in mountinfo:
        mp = f[4]
        if path == mp or path.startswith(mp.rstrip("/") + "/") or mp == "/":
            if best is None or len(mp) >= len(best[4]):
                best = f
    return best


# ------------------------------------------------------------------------------ phases
def phase_install(c: Container, ck: Checks, deb: str) -> None:
    t0 = time.monotonic()
    # docs/operations.md step 1, as an operator types it (apt, not apt-get).
    r = c.sh(f"apt install -y -q /root/{os.path.basename(deb)}", timeout=600, check=False)
    ck.timings["apt install (fresh)"] = time.monotonic() - t0
    if r.returncode != 0:
        raise TestFailure(f"apt-get install failed:\n{(r.stdout + r.stderr)[-3000:]}")
    state = wait_active(c)
    if not ck.expect(state == "active", "install.active",
                     f"after apt install vnetd.service is {state}"):
        raise TestFailure(f"vnetd after the install: {journal_tail(c, 25)}")
    enabled = c.sh("systemctl is-enabled vnetd", check=False).stdout.strip()
    ck.expect(enabled == "enabled", "install.enabled", f"is-enabled: {enabled}")
    conf = c.sh("test -f /etc/vnet/vnetd.conf && echo yes", check=False).stdout.strip()
    ck.expect(conf == "yes", "install.config", "/etc/vnet/vnetd.conf copied from the example")
    r = c.sh("python3 -c 'import vnet.client' && "
             "python3 -c 'import vnet.client, grpc, google.protobuf; print(vnet.client.__file__)'",
             check=False)
    ck.expect(r.returncode == 0 and "/usr/lib/python3/dist-packages/vnet/" in r.stdout,
              "install.python", (r.stdout + r.stderr).strip()[-300:])
    # docs/operations.md, "Install" and "Run": the operator's first commands.
    for cmd in ("systemctl status vnetd --no-pager", "vnetctl status", "vnetctl context list",
                "journalctl -u vnetd --no-pager -n 5"):
        r = c.sh(cmd, check=False)
        ck.expect(r.returncode == 0, f"walkthrough: {cmd}",
                  (r.stdout.strip().splitlines() or [""])[0][:100])


def phase_journal(c: Container, ck: Checks, guestless_if: str) -> None:
    port = free_port()
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    busy_port = busy.getsockname()[1]
    try:
        set_metrics_address(c, f"127.0.0.1:{busy_port}")
        restart_timed(c)
    finally:
        busy.close()
    set_metrics_address(c, f"127.0.0.1:{port}")
    restart_timed(c)
    # A context on an interface that does not exist (yet): vnetd holds it and warns.
    c.sh(f"vnetctl context assign --domain 99 --device 0 --interface {guestless_if} "
         f"--mac 02:00:00:00:99:01 --ip 198.18.99.1 --vlan 1", check=False)
    time.sleep(0.5)
    c.sh("vnetctl context release --domain 99 --device 0 --allow-missing", check=False)
    entries = journal_entries(c)
    ghost = re.escape(guestless_if)
    want = [("info-metrics", 6, r"^metrics on http://127\.0\.0\.1:%d/metrics" % port),
            ("info-assigned", 6, r"^assigned context \d+ to domain 99 device 0 \(%s\)" % ghost),
            ("warning", 4, r"^context \d+ \(%s\): fast path not attached" % ghost),
            ("error", 3, r"^metrics: .*%d" % busy_port)]
    for level, prio, pattern in want:
        hits = [e for e in entries if re.search(pattern, e["MESSAGE"])]
        prios = sorted({int(e.get("PRIORITY", -1)) for e in hits})
        ck.expect(bool(hits) and prios == [prio], f"journal.{level}",
                  f"{len(hits)} line(s) like {hits[0]['MESSAGE'][:70]!r} with PRIORITY {prios}"
                  f" (want {prio})" if hits else f"no line /{pattern}/"
                  + ("" if hits else f"; last lines: {[e['MESSAGE'] for e in entries[-6:]]}"))
    r = c.sh("journalctl -u vnetd -p err --no-pager", check=False)
    ck.expect(f"127.0.0.1:{busy_port}" in r.stdout, "journal.filter-err",
              "journalctl -u vnetd -p err shows the metrics error (docs/operations.md step 3)")
    raw = [e["MESSAGE"] for e in entries if re.match(r"^<\d>", e["MESSAGE"])]
    ck.expect(not raw, "journal.prefix-stripped",
              f"{len(entries)} vnetd lines, {len(raw)} still starting with <N> {raw[:2]}")


def phase_sandbox(c: Container, ck: Checks) -> None:
    pid = main_pid(c)
    bounding = c.sh("systemctl show -p CapabilityBoundingSet --value vnetd").stdout
    want = parse_caps(bounding)
    status = dict(line.split(":", 1) for line in
                  c.sh(f"cat /proc/{pid}/status").stdout.splitlines() if ":" in line)
    caps = {k: int(status[k].strip(), 16) for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb")}
    ck.expect(caps["CapEff"] == want and caps["CapPrm"] == want and caps["CapBnd"] == want,
              "sandbox.capabilities",
              f"unit bounding set {bounding.strip()} = {want:#x}; process "
              + " ".join(f"{k}={v:#x}" for k, v in caps.items()))
    nnp, seccomp = status.get("NoNewPrivs", "").strip(), status.get("Seccomp", "").strip()
    ck.expect(nnp == "1" and seccomp == "2", "sandbox.nnp-seccomp",
              f"NoNewPrivs {nnp}, Seccomp {seccomp}")
    mountinfo = [line.split() for line in c.sh(f"cat /proc/{pid}/mountinfo").stdout.splitlines()]
    for path, mode in (("/", "ro"), ("/usr", "ro"), ("/etc", "ro"), ("/var/lib/vnet", "rw"),
                       ("/run/vnet", "rw"), ("/sys/fs/bpf", "rw")):
        m = mount_for(mountinfo, path)
        opts = m[5].split(",") if m else []
        ck.expect(mode in opts, f"sandbox.mount {path}",
                  f"{mode} wanted; mount point {m[4] if m else '?'} options {m[5] if m else '?'}")
    ro = c.sh(f"nsenter -t {pid} -m -- touch /usr/lib/.vnet-sandbox-probe", check=False)
    ck.expect(ro.returncode != 0 and "Read-only" in ro.stderr, "sandbox.write-usr",
              f"write into /usr from vnetd's mount namespace: {ro.stderr.strip()[:100]}")
    rw = c.sh(f"nsenter -t {pid} -m -- sh -c 'touch /var/lib/vnet/.probe && rm /var/lib/vnet/.probe'",
              check=False)
    ck.expect(rw.returncode == 0, "sandbox.write-state",
              f"write into /var/lib/vnet: rc {rw.returncode} {rw.stderr.strip()[:100]}")


def phase_restart(c: Container, t: Topology, ck: Checks, g1, g2) -> None:
    assign(c, g1, 1)
    assign(c, g2, 2)
    ck.expect(t.wait_ping(g1.ns, g2.ipv4, 10), "restart.forwarding-before",
              f"{g1.ipv4} -> {g2.ipv4} through vnet's fast path")
    pid0 = main_pid(c)
    sent, got, took = ping_across(t, g1, g2.ipv4, lambda: restart_timed(c))
    ck.timings["systemctl restart vnetd (until vnetctl answers)"] = took
    pid1 = main_pid(c)
    loss = 1 - got / sent if sent else 1
    ck.expect(pid1 != pid0 and sent > 0 and loss <= MAX_RESTART_LOSS, "restart.keeps-forwarding",
              f"pid {pid0} -> {pid1} in {took:.1f}s; ping {got}/{sent} received "
              f"({loss:.1%} lost, at most {MAX_RESTART_LOSS:.0%})")
    ids = [x["interface_name"] for x in contexts(c)]
    ck.expect(g1.host_if in ids and g2.host_if in ids, "restart.contexts",
              f"contexts after restart: {ids}")


def phase_remove_purge(c: Container, t: Topology, ck: Checks, g1, g2) -> None:
    r = c.sh("dpkg -r vnet", timeout=120, check=False)
    ck.expect(r.returncode == 0, "remove.dpkg", (r.stdout + r.stderr).strip()[-200:])
    exists = lambda p: c.sh(f"test -e {p}", check=False).returncode == 0  # noqa: E731
    gone = [p for p in ("/usr/sbin/vnetd", "/usr/bin/vnetctl", "/usr/lib/systemd/system/vnetd.service",
                        "/usr/lib/python3/dist-packages/vnet") if exists(p)]
    ck.expect(not gone, "remove.binaries-gone", f"still there: {gone}" if gone else
              "vnetd, vnetctl, the unit and the Python client removed")
    kept = {p: exists(p) for p in ("/etc/vnet/vnetd.conf", "/var/lib/vnet/contexts.state",
                                   "/etc/xen/scripts/vif-vnet")}
    ck.expect(all(kept.values()), "remove.config-state-kept", str(kept))
    state = c.sh("systemctl is-active vnetd", check=False).stdout.strip()
    status = c.sh("dpkg-query -W -f '${Status}' vnet", check=False).stdout.strip()
    ck.expect(state in ("inactive", "unknown") and status == "deinstall ok config-files",
              "remove.stopped", f"vnetd {state}; dpkg: {status}")
    ck.expect(t.ping(g1.ns, g2.ipv4, count=3, timeout=2), "remove.fast-path-forwards",
              "guests still reach each other with vnet removed (pinned fast path)")
    r = c.sh("dpkg --purge vnet", timeout=120, check=False)
    ck.expect(r.returncode == 0, "purge.dpkg", (r.stdout + r.stderr).strip()[-200:])
    left = [p for p in ("/etc/vnet", "/var/lib/vnet", "/etc/xen/scripts/vif-vnet",
                        "/etc/systemd/system/multi-user.target.wants/vnetd.service",
                        "/etc/systemd/system/vnetd.service",
                        "/var/lib/systemd/deb-systemd-helper-enabled/vnetd.service.dsh-also")
            if exists(p)]
    status = c.sh("dpkg-query -W -f '${Status}' vnet", check=False).stdout.strip()
    ck.expect(not left and status in ("", "unknown ok not-installed"), "purge.clean",
              f"left: {left}; dpkg: {status or 'not known'}")
    # docs/operations.md, "Uninstall": the pins stay until the admin removes them.
    c.sh("rm -r /sys/fs/bpf/vnet")


def phase_upgrade(c: Container, t: Topology, ck: Checks, old_deb: str, new_deb: str,
                  g3, g4, new_version: str) -> None:
    # The operator's own configuration (postinst keeps it): metrics on a free port.
    c.sh("mkdir -p /etc/vnet")
    c.sh(f"printf 'metrics_address: \"127.0.0.1:{free_port()}\"\\n' > /etc/vnet/vnetd.conf")
    t0 = time.monotonic()
    # Without Recommends: 0.1.0 recommended prometheus, which is not what is tested here.
    r = c.sh(f"apt install -y -q --no-install-recommends /root/{os.path.basename(old_deb)}",
             timeout=600, check=False)
    ck.timings["apt install (previous version)"] = time.monotonic() - t0
    if r.returncode != 0:
        raise TestFailure(f"apt-get install of the previous version failed:\n{r.stdout[-2000:]}"
                          f"{r.stderr[-1000:]}")
    old_version = c.sh("dpkg-query -W -f '${Version}' vnet").stdout.strip()
    ck.expect(wait_active(c) == "active", "upgrade.previous-active",
              f"vnet {old_version} installed and running")
    id3 = assign(c, g3, 3, offloads="tx-csum,tso4,sg,rx-csum")
    id4 = assign(c, g4, 4, offloads="tx-csum,tso4,sg,rx-csum")
    before = contexts(c)
    fmt = c.sh("grep -o 'format_version: [0-9]*' /var/lib/vnet/contexts.state", check=False)
    ck.expect("format_version: 1" in fmt.stdout, "upgrade.previous-format",
              f"state file of {old_version}: {fmt.stdout.strip() or 'no format_version'}")
    ck.expect(t.wait_ping(g3.ns, g4.ipv4, 10), "upgrade.previous-forwards",
              f"{g3.ipv4} -> {g4.ipv4} under {old_version}")

    def upgrade():
        t0 = time.monotonic()
        r = c.sh(f"apt install -y -q /root/{os.path.basename(new_deb)}", timeout=600, check=False)
        took = time.monotonic() - t0
        return r, took, wait_active(c)

    sent, got, (r, took, state) = ping_across(t, g3, g4.ipv4, upgrade, count=1000)
    ck.timings["apt install (upgrade)"] = took
    if r.returncode != 0:
        raise TestFailure(f"upgrade failed:\n{r.stdout[-2000:]}{r.stderr[-1000:]}")
    version = c.sh("dpkg-query -W -f '${Version}' vnet").stdout.strip()
    if not ck.expect(version == new_version and state == "active", "upgrade.active",
                     f"{old_version} -> {version}, vnetd {state}"):
        raise TestFailure(f"vnetd after the upgrade: {journal_tail(c, 25)}")
    loss = 1 - got / sent if sent else 1
    ck.expect(sent > 0 and loss <= MAX_RESTART_LOSS, "upgrade.keeps-forwarding",
              f"ping every 20 ms across the upgrade: {got}/{sent} received ({loss:.1%} lost, "
              f"at most {MAX_RESTART_LOSS:.0%})")
    # vif-vnet became a conffile in 0.2.0: the unmodified 0.1.0 file is replaced quietly.
    r = c.sh("md5sum /etc/xen/scripts/vif-vnet; ls /etc/xen/scripts/; "
             "dpkg-query --control-show vnet conffiles", check=False)
    shipped = run(["sh", "-c", f"dpkg-deb --fsys-tarfile {new_deb} | tar -xOf - "
                   "./etc/xen/scripts/vif-vnet | md5sum"], timeout=30).stdout.split()[0]
    ck.expect(shipped in r.stdout and "vnet-0.1.0" not in r.stdout
              and "/etc/xen/scripts/vif-vnet" in r.stdout, "upgrade.conffile",
              f"vif-vnet is the new version and a conffile, nothing left aside: {r.stdout.split()}")
    after = contexts(c)
    key = lambda x: (x.get("id"), x.get("interface_name"), x.get("mac"),  # noqa: E731
                     tuple(x.get("ipv4_addresses", [])), tuple(x.get("ipv6_addresses", [])),
                     x.get("vlan"))
    ck.expect([key(x) for x in after] == [key(x) for x in before] and
              {x["id"] for x in after} == {id3, id4}, "upgrade.contexts-kept",
              f"before {[key(x) for x in before]}; after {[key(x) for x in after]}")
    bad = []
    for x in after:
        o = x.get("offloads", {})
        want = {"tso_v4": True, "scatter_gather": True, "rx_tso_v4": True,
                "rx_scatter_gather": True, "tso_v6": False, "rx_tso_v6": False}
        diff = {k: o.get(k, False) for k, v in want.items() if o.get(k, False) != v}
        if diff:
            bad.append((x.get("id"), diff))
    ck.expect(not bad, "upgrade.offloads-migrated",
              "format 1's tso4/sg carried to rx_tso_v4/rx_scatter_gather" if not bad else str(bad))
    ck.expect(t.wait_ping(g3.ns, g4.ipv4, 10), "upgrade.forwards",
              f"{g3.ipv4} -> {g4.ipv4} under {version} (across the upgrade {got}/{sent})")
    c.sh(f"vnetctl context update {id3} --mtu 1400")
    fmt = c.sh("grep -o 'format_version: [0-9]*' /var/lib/vnet/contexts.state", check=False)
    restart_timed(c)
    again = contexts(c)
    ck.expect("format_version: 2" in fmt.stdout and [key(x) for x in again] == [key(x) for x in after],
              "upgrade.format-2", f"after a change the state file has {fmt.stdout.strip()}; "
              f"a restart reads the same {len(again)} contexts")
    c.sh(f"vnetctl context release --domain 3 --device 0 && vnetctl context release --domain 4 --device 0")
    c.sh("dpkg --purge vnet", timeout=120)
    c.sh("rm -rf /sys/fs/bpf/vnet")


def phase_watchdog(c: Container, ck: Checks) -> None:
    usec = c.sh("systemctl show -p WatchdogUSec --value vnetd").stdout.strip()
    if usec in ("", "0", "infinity"):
        raise TestFailure("vnetd.service has no WatchdogSec (installed unit: WatchdogUSec="
                          f"{usec or 'unset'})")
    n0 = int(c.sh("systemctl show -p NRestarts --value vnetd").stdout.strip() or 0)
    pid0 = main_pid(c)
    limit = _usec_seconds(usec) + 10
    c.sh(f"kill -STOP {pid0}")
    t0 = time.monotonic()
    pid1, n1 = pid0, n0
    while time.monotonic() - t0 < limit:
        pid1 = main_pid(c)
        n1 = int(c.sh("systemctl show -p NRestarts --value vnetd").stdout.strip() or 0)
        if n1 > n0 and pid1 not in (0, pid0):
            break
        time.sleep(0.5)
    took = time.monotonic() - t0
    state = wait_active(c)
    log_lines = c.sh("journalctl -u vnetd --no-pager -o cat | grep -i watchdog | tail -3",
                     check=False).stdout.strip()
    ck.expect(n1 > n0 and pid1 not in (0, pid0) and state == "active", "watchdog.restart",
              f"WatchdogSec {usec}: stopped pid {pid0}, systemd restarted it as {pid1} after "
              f"{took:.1f}s (NRestarts {n0} -> {n1}), now {state}; journal: {log_lines!r}")


# The drop-in's options and its suppressions file (a copy of tests/lsan.supp) in the
# container's tree: systemd ignores files other than *.conf in a drop-in directory, and
# /etc/systemd is left alone by dpkg --purge (which the purge check relies on).
DROPIN_DIR = "etc/systemd/system/vnetd.service.d"
SANITIZER_REPORT = re.compile(r"ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:|"
                              r"SUMMARY: (AddressSanitizer|UndefinedBehaviorSanitizer)")


def install_sanitizer_dropin(root: str, source_dir: str) -> None:
    """A sanitizer build (tests/run-all.sh) checks leaks under systemd as everywhere else:
    LeakSanitizer stops the process's threads with ptrace at exit, which the unit's
    syscall filter (@system-service) leaves out, so the drop-in allows it; a leak then
    shows in the journal, which phase_sanitizer_reports reads."""
    d = os.path.join(root, DROPIN_DIR)
    os.makedirs(d)
    shutil.copy(os.path.join(source_dir, "tests", "lsan.supp"), os.path.join(d, "lsan.supp"))
    open(os.path.join(d, "asan.conf"), "w").write(
        "[Service]\n"
        "Environment=ASAN_OPTIONS=detect_leaks=1:abort_on_error=1\n"
        f"Environment=LSAN_OPTIONS=suppressions=/{DROPIN_DIR}/lsan.supp:print_suppressions=0\n"
        "SystemCallFilter=ptrace\n")
    log("sanitizer build: drop-in with leak checking on (tests/lsan.supp) and ptrace allowed")


def phase_sanitizer_reports(c: Container, ck: Checks) -> None:
    """Every vnetd of the run, stopped by systemctl stop/restart or dpkg, exited without a
    sanitizer report (a leak, a memory error, undefined behaviour) in the journal."""
    text = c.sh("journalctl -u vnetd --no-pager -o cat", check=False, timeout=60).stdout
    lines = text.splitlines()
    hits = [i for i, line in enumerate(lines) if SANITIZER_REPORT.search(line)]
    detail = ("\n".join(lines[hits[0]:hits[0] + 40]) if hits else
              f"no sanitizer report in {len(lines)} journal lines of vnetd")
    ck.expect(not hits, "sanitizer.reports", detail)


def _usec_seconds(text: str) -> float:
    total = 0.0
    for num, unit in re.findall(r"([\d.]+)\s*(min|ms|us|s|h)?", text):
        total += float(num) * {"min": 60, "ms": 0.001, "us": 1e-6, "s": 1, "h": 3600,
                               "": 1}[unit or ""]
    return total


# ---------------------------------------------------------------------------------- main
def unit_has_watchdog(unit_path: str) -> bool:
    for line in open(unit_path):
        if re.match(r"^\s*WatchdogSec\s*=\s*(?!0\s*$|infinity)\S", line):
            return True
    return False


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--build-dir", required=True)
    p.add_argument("--source-dir", required=True)
    p.add_argument("--checks", choices=["package", "upgrade", "watchdog"], default="package")
    args = p.parse_args()
    if os.geteuid() != 0:
        print("FAIL: needs root (debootstrap, systemd-nspawn, namespaces)")
        return 1
    unit = os.path.join(args.source_dir, "deploy/systemd/vnetd.service")
    if args.checks == "watchdog" and not unit_has_watchdog(unit):
        print("FAIL: vnetd.service has no WatchdogSec (deploy/systemd/vnetd.service); the "
              "watchdog check needs the control-plane work's WatchdogSec= and sd_notify")
        return 1
    example = open(os.path.join(args.source_dir, "deploy/vnetd.conf.example")).read()
    if re.search(r"^\s*uplink\s*:", example, re.M):
        # The container shares the host's network namespace: an uplink in the shipped
        # configuration would attach XDP to a host interface.
        print("FAIL: deploy/vnetd.conf.example sets an uplink; refusing to run it on this host")
        return 1

    ck = Checks()
    t_start = time.monotonic()
    os.makedirs(CACHE, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="vnet-systemd-", dir="/var/tmp")
    name = f"vnetsd{os.getpid()}"
    root = None
    try:
        t0 = time.monotonic()
        new_deb = build_new_deb(args.build_dir, os.path.join(workdir, "new"))
        new_version = deb_field(new_deb, "Version")
        ck.timings["cpack (new .deb)"] = time.monotonic() - t0
        old_deb = None
        if args.checks == "upgrade":
            t0 = time.monotonic()
            old_deb = previous_deb(args.source_dir, workdir)
            ck.timings["previous .deb (cached or built)"] = time.monotonic() - t0
            old_version = deb_field(old_deb, "Version")
            if not _version_lt(old_version, new_version):
                raise TestFailure(f"the previous package is {old_version}, this one {new_version}:"
                                  " an upgrade needs a higher version (CMakeLists.txt project())")
        t0 = time.monotonic()
        root = prepare_tree(workdir)
        ck.timings["tree (cached tarball or debootstrap)"] = time.monotonic() - t0
        shutil.copy(new_deb, os.path.join(root, "root"))
        if old_deb:
            shutil.copy(old_deb, os.path.join(root, "root", f"vnet_{old_version}_previous.deb"))
            old_in = os.path.join(root, "root", f"vnet_{old_version}_previous.deb")
        sanitized = "libasan" in deb_field(new_deb, "Depends")
        if sanitized:
            install_sanitizer_dropin(root, args.source_dir)
        with Topology(prefix="vsd") as t, \
                Container(root, name, os.path.join(workdir, "console.log")) as c:
            ck.timings["boot (nspawn until running)"] = c.boot_seconds
            c.sh("apt-get update -q", timeout=300)
            if args.checks == "watchdog":
                phase_install(c, ck, new_deb)
                phase_watchdog(c, ck)
                if sanitized:
                    phase_sanitizer_reports(c, ck)
            elif args.checks == "upgrade":
                g3, g4 = t.add_guest("g3"), t.add_guest("g4")
                t0 = time.monotonic()
                phase_upgrade(c, t, ck, old_in, new_deb, g3, g4, new_version)
                ck.timings["upgrade phase"] = time.monotonic() - t0
                save_archives(root)
                if sanitized:
                    phase_sanitizer_reports(c, ck)
            else:
                g1, g2 = t.add_guest("g1"), t.add_guest("g2")
                phase_install(c, ck, new_deb)
                save_archives(root)
                t0 = time.monotonic()
                phase_journal(c, ck, t.ifname("gh"))
                ck.timings["journal (2 restarts)"] = time.monotonic() - t0
                phase_sandbox(c, ck)
                phase_restart(c, t, ck, g1, g2)
                t0 = time.monotonic()
                phase_remove_purge(c, t, ck, g1, g2)
                ck.timings["dpkg -r, --purge"] = time.monotonic() - t0
                if sanitized:
                    phase_sanitizer_reports(c, ck)
            t0 = time.monotonic()
        ck.timings["container stop + guests removed"] = time.monotonic() - t0
        tag = t.tag
        try:
            check_clean(tag)
            ck.ok("host.clean-topology", f"no namespace, veth or pin of {tag} left")
        except HarnessError as e:
            ck.fail("host.clean-topology", str(e))
    except (TestFailure, ContainerError, HarnessError, subprocess.TimeoutExpired) as e:
        ck.fail("run", str(e))
        console = os.path.join(workdir, "console.log")
        if os.path.exists(console):
            log("container console (tail):\n" + "".join(open(console, errors="replace")
                                                      .readlines()[-15:]))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    left = host_leftovers(name, workdir)
    ck.expect(not left and not os.path.exists(workdir), "host.clean-container",
              f"left: {left}" if left else "no process, mount or tree of the container left")
    total = time.monotonic() - t_start
    log("timings: " + "; ".join(f"{k} {v:.1f}s" for k, v in ck.timings.items())
        + f"; total {total:.0f}s")
    failed = ck.failed()
    log(f"{len(ck.results) - len(failed)}/{len(ck.results)} checks passed"
        + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def _version_lt(a: str, b: str) -> bool:
    return subprocess.run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0


if __name__ == "__main__":
    sys.exit(main())
