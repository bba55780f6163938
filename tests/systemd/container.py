#!/usr/bin/python3
"""A Debian 12 system booted with systemd as PID 1 (systemd-nspawn --boot), for the package
tests of tests/systemd/. Python 3 standard library only.

    tree = prepare_tree(workdir)          # cached debootstrap tarball, extracted
    with Container(tree, name) as c:       # boots; stop() always runs
        c.sh("systemctl start vnetd")      # nsenter into every namespace of its PID 1

Why systemd-nspawn and these options (the sandbox these tests run in, and a CI runner,
are containers whose PID 1 is not systemd, cgroups hybrid v1/v2, and the host's kernel
is what vnetd's BPF programs need):
  * --boot --register=no --keep-unit --console=pipe: systemd 252 boots as the
    container's PID 1 without a systemd on the host (no machined registration, no scope
    to create) and with no terminal; its console goes to a log file.
  * the host's network namespace (no --private-network): vnetd attaches TC programs to
    the guests' veths the test creates in the root namespace, exactly as on a dom0 where
    vif devices appear in dom0's namespace. A veth moved into a private namespace would
    test the same code with one more moving part and no gain.
  * --capability=CAP_NET_ADMIN,CAP_BPF,CAP_PERFMON: nspawn's default bounding set has
    none of the three (CAP_NET_ADMIN only with a private network), and the unit's
    CapabilityBoundingSet can only narrow what the container's systemd holds.
  * --system-call-filter=bpf: nspawn's own seccomp allow-list lacks bpf(2).
  * a bpffs mounted at boot inside the container by a oneshot unit before sysinit.target:
    systemd mounts /sys/fs/bpf at boot on a real system but not in a container (and
    refuses a .mount unit for an API file system). A bpffs mounted inside is a new instance private to
    the container's mount namespace, so vnetd's pins (/sys/fs/bpf/vnet) never meet the
    host's or another test's, and they go away with the container (binding the host's
    /sys/fs/bpf would leave them behind on the host).
  * apt inside the booted container: with the host's network namespace it has the
    host's network and resolver (--resolv-conf=copy-host), so postinst runs under a
    live systemd as it does for an operator (deb-systemd-invoke really starts vnetd).

The tree: debootstrap --variant=minbase of bookworm from the mirror this machine's apt
uses (read at run time from /etc/apt/sources.list.d/*.sources or sources.list), cached
as a tarball under /var/cache/vnet-systemd-test; .debs apt downloads into the tree are
cached there too, so a second run downloads only package lists.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from typing import List, Optional

CACHE = os.environ.get("VNET_SYSTEMD_TEST_CACHE", "/var/cache/vnet-systemd-test")
SUITE = "bookworm"
INCLUDE = ["systemd", "systemd-sysv", "dbus", "iproute2", "iputils-ping", "procps"]
CAPABILITIES = "CAP_NET_ADMIN,CAP_BPF,CAP_PERFMON"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# systemd refuses a .mount unit for an API file system ("Cannot create mount unit for API
# file system /sys/fs/bpf"), so a oneshot mounts it early, as systemd itself does at boot
# outside a container.
BPF_MOUNT_UNIT = """\
# Written by the vnet systemd test: what systemd does at boot outside a container.
[Unit]
Description=BPF file system at /sys/fs/bpf (vnet systemd test)
DefaultDependencies=no
Before=sysinit.target
ConditionPathIsMountPoint=!/sys/fs/bpf

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/mount -t bpf -o mode=0700,nosuid,nodev,noexec bpf /sys/fs/bpf

[Install]
WantedBy=sysinit.target
"""
BPF_MOUNT_UNIT_NAME = "vnet-test-bpffs.service"

# The container shares the host's network namespace: maintainer scripts may start vnetd
# and nothing else (no other package's daemon listening on the host's ports).
POLICY_RC_D = """\
#!/bin/sh
# Written by the vnet systemd test: only vnetd may be started by maintainer scripts.
case "$1" in vnetd|vnetd.service) exit 0 ;; esac
exit 101
"""


class ContainerError(RuntimeError):
    pass


def log(msg: str) -> None:
    print(f"[systemd-test] {msg}", flush=True)


def run(cmd: List[str], timeout: float, check: bool = True, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise ContainerError(f"{' '.join(cmd)} -> {r.returncode}: "
                             f"{(r.stderr or r.stdout).strip()[-2000:]}")
    return r


# ------------------------------------------------------------------------------- mirror
def _deb822_stanzas(text: str) -> List[dict]:
    stanzas, cur, key = [], {}, None
    for line in text.splitlines() + [""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if cur:
                stanzas.append(cur)
            cur, key = {}, None
            continue
        if line[0] in " \t" and key:
            cur[key] += "\n" + line.strip()
            continue
        if ":" in line:
            key, value = line.split(":", 1)
            key = key.strip().lower()
            cur[key] = value.strip()
    return stanzas


def host_apt_sources() -> List[dict]:
    """The host's deb sources of Debian 12 as [{uris, suites, components, signed-by}]."""
    out = []
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        for s in _deb822_stanzas(open(path).read()):
            if "deb" not in s.get("types", "").split() or s.get("enabled", "yes") == "no":
                continue
            suites = [x for x in s.get("suites", "").split() if x.startswith(SUITE)]
            if not suites:
                continue
            out.append({"uris": s.get("uris", "").split(), "suites": suites,
                        "components": s.get("components", "main").split(),
                        "signed-by": s.get("signed-by", "")})
    lists = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list"))
    for path in lists:
        if not os.path.exists(path):
            continue
        for line in open(path):
            line = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
            if len(line) >= 3 and line[0] == "deb" and line[2].startswith(SUITE):
                out.append({"uris": [line[1]], "suites": [line[2]],
                            "components": line[3:] or ["main"], "signed-by": ""})
    return out


def host_mirror() -> str:
    for s in host_apt_sources():
        if SUITE in s["suites"] and s["uris"]:
            return s["uris"][0]
    raise ContainerError("no Debian 12 (bookworm) mirror in /etc/apt/sources.list.d/*.sources "
                         "or /etc/apt/sources.list to debootstrap from")


def write_tree_sources(root: str) -> None:
    """The tree uses the host's Debian 12 sources (main, updates, security) and nothing else."""
    lines = []
    for s in host_apt_sources():
        signed = s["signed-by"]
        if signed and not os.path.exists(os.path.join(root, signed.lstrip("/"))):
            signed = ""
        lines += ["Types: deb", f"URIs: {' '.join(s['uris'])}", f"Suites: {' '.join(s['suites'])}",
                  f"Components: {' '.join(s['components'])}"]
        if signed:
            lines.append(f"Signed-By: {signed}")
        lines.append("")
    open(os.path.join(root, "etc/apt/sources.list.d/host.sources"), "w").write("\n".join(lines))
    sl = os.path.join(root, "etc/apt/sources.list")
    if os.path.exists(sl):
        os.unlink(sl)


def sweep_dead_containers() -> None:
    """Containers of test runs that died without stopping them (machine vnetsd<pid>)."""
    for d in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            args = open(d, "rb").read().split(b"\0")
        except OSError:
            continue
        if not args or not args[0].endswith(b"systemd-nspawn"):
            continue
        m = [a for a in args if a.startswith(b"--machine=vnetsd")]
        owner = m[0][len(b"--machine=vnetsd"):].decode() if m else ""
        if owner.isdigit() and not os.path.exists(f"/proc/{owner}"):
            pid = int(d.split("/")[2])
            subprocess.run(["pkill", "-KILL", "-P", str(pid)], check=False)
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


# --------------------------------------------------------------------------------- tree
def tarball_path() -> str:
    key = hashlib.sha256(f"{SUITE} minbase {','.join(INCLUDE)} 1".encode()).hexdigest()[:12]
    return os.path.join(CACHE, f"debian12-minbase-{key}.tar.zst")


def prepare_tree(workdir: str) -> str:
    """A fresh Debian 12 tree under workdir (from the cached tarball; made when missing)."""
    os.makedirs(CACHE, exist_ok=True)
    tarball = tarball_path()
    if not os.path.exists(tarball):
        mirror = host_mirror()
        staging = tempfile.mkdtemp(prefix="debootstrap-", dir=workdir)
        log(f"no cached tree: debootstrap {SUITE} from {mirror} (one time)")
        t0 = time.monotonic()
        run(["nice", "-n", "5", "debootstrap", "--variant=minbase",
             f"--include={','.join(INCLUDE)}", SUITE, staging, mirror], timeout=1200)
        # The downloaded .debs of the base system are in the tree; the tarball need not hold them.
        for deb in glob.glob(os.path.join(staging, "var/cache/apt/archives/*.deb")):
            os.unlink(deb)
        os.chmod(staging, 0o755)  # mkdtemp's 0700 would become the container's / mode
        tmp = tarball + f".tmp{os.getpid()}"
        subprocess.run(f"tar --numeric-owner -C {staging} -cf - . | zstd -q -T2 -3 -o {tmp}",
                       shell=True, check=True, timeout=600)
        os.rename(tmp, tarball)
        shutil.rmtree(staging, ignore_errors=True)
        log(f"debootstrap + tarball: {time.monotonic() - t0:.0f}s -> {tarball}")
    root = os.path.join(workdir, "root")
    os.makedirs(root)
    subprocess.run(f"zstd -dc {tarball} | tar --numeric-owner -C {root} -xpf -", shell=True,
                   check=True, timeout=600)
    # / must be traversable for the system users (messagebus: dbus fails with EACCES).
    os.chmod(root, 0o755)
    write_tree_sources(root)
    unit = os.path.join(root, "etc/systemd/system", BPF_MOUNT_UNIT_NAME)
    open(unit, "w").write(BPF_MOUNT_UNIT)
    wants = os.path.join(root, "etc/systemd/system/sysinit.target.wants")
    os.makedirs(wants, exist_ok=True)
    os.symlink(f"../{BPF_MOUNT_UNIT_NAME}", os.path.join(wants, BPF_MOUNT_UNIT_NAME))
    policy = os.path.join(root, "usr/sbin/policy-rc.d")
    open(policy, "w").write(POLICY_RC_D)
    os.chmod(policy, 0o755)
    # Packages apt downloaded in earlier runs.
    archives = os.path.join(CACHE, "archives")
    for deb in glob.glob(os.path.join(archives, "*.deb")):
        shutil.copy(deb, os.path.join(root, "var/cache/apt/archives"))
    return root


def save_archives(root: str) -> None:
    archives = os.path.join(CACHE, "archives")
    os.makedirs(archives, exist_ok=True)
    for deb in glob.glob(os.path.join(root, "var/cache/apt/archives/*.deb")):
        dst = os.path.join(archives, os.path.basename(deb))
        if not os.path.exists(dst) and not os.path.basename(deb).startswith("vnet_"):
            shutil.copy(deb, dst + ".tmp")
            os.rename(dst + ".tmp", dst)


# ---------------------------------------------------------------------------- container
def _children(pid: int) -> List[int]:
    out = []
    for task in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            out += [int(x) for x in open(task).read().split()]
        except OSError:
            pass
    return out


def _comm(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/comm").read().strip()
    except OSError:
        return ""


class Container:
    """The tree booted with systemd-nspawn; stop() (also on exit of the with block)
    powers it off, bounded, and kills it if it does not go."""

    def __init__(self, root: str, name: str, console_log: str):
        self.root = root
        self.name = name
        self.console_log = console_log
        self.proc: Optional[subprocess.Popen] = None
        self.pid1: Optional[int] = None
        self.boot_seconds = 0.0

    def __enter__(self) -> "Container":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout: float = 90) -> None:  # noqa: C901
        sweep_dead_containers()
        # The container goes with this test even when it is killed outright (a timeout).
        cmd = ["setpriv", "--pdeathsig", "KILL", "systemd-nspawn", "-D", self.root, "--boot", "--register=no", "--keep-unit",
               "--console=pipe", f"--machine={self.name}", f"--capability={CAPABILITIES}",
               "--system-call-filter=bpf", "--resolv-conf=copy-host", "--timezone=off",
               "--link-journal=no"]
        out = open(self.console_log, "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.pid1 is None:
            if self.proc.poll() is not None:
                raise ContainerError(f"systemd-nspawn exited with {self.proc.returncode}: "
                                     f"{self.console_tail()}")
            for child in _children(self.proc.pid):
                if _comm(child) == "systemd":
                    self.pid1 = child
            time.sleep(0.1)
        if self.pid1 is None:
            raise ContainerError(f"no systemd in the container after {timeout}s")
        state = ""
        while time.monotonic() < end:
            r = self.sh("systemctl is-system-running", check=False, timeout=10)
            state = r.stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(0.3)
        if state not in ("running", "degraded"):
            jobs = self.sh("systemctl list-jobs --no-legend", check=False).stdout.strip()
            raise ContainerError(f"the container's systemd is '{state}' after {timeout}s; "
                                 f"jobs: {jobs[-1500:]}")
        self.boot_seconds = timeout - (end - time.monotonic())
        if state == "degraded":
            failed = self.sh("systemctl --failed --no-legend", check=False).stdout.strip()
            log(f"container boot: degraded (failed units: {failed})")

    def console_tail(self, lines: int = 20) -> str:
        try:
            return "".join(open(self.console_log, errors="replace").readlines()[-lines:])
        except OSError:
            return ""

    def sh(self, script: str, check: bool = True, timeout: float = 60,
           env: Optional[dict] = None) -> subprocess.CompletedProcess:
        """Runs a shell script in every namespace of the container's PID 1, as root."""
        if self.pid1 is None:
            raise ContainerError("container not running")
        e = ["PATH=" + PATH, "LANG=C.UTF-8", "TERM=dumb", "SYSTEMD_PAGER=", "PAGER=cat",
             "DEBIAN_FRONTEND=noninteractive", "HOME=/root"]
        e += [f"{k}={v}" for k, v in (env or {}).items()]
        cmd = ["nsenter", "-t", str(self.pid1), "-a", "--", "/usr/bin/env", "-i"] + e + \
              ["/bin/sh", "-c", script]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ContainerError(f"in the container, timed out after {timeout}s: {script}")
        if check and r.returncode != 0:
            raise ContainerError(f"in the container: {script} -> {r.returncode}:\n"
                                 f"{(r.stdout + r.stderr).strip()[-3000:]}")
        return r

    def stop(self, timeout: float = 30) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        # nspawn turns its first SIGTERM into a clean poweroff of the container.
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log(f"container {self.name} did not power off in {timeout}s: killing it")
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.pid1 = None


def host_leftovers(name: str, root: str) -> List[str]:
    """What of a container run could be left on the host."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ")
            except OSError:
                continue
            if f"--machine={name}".encode() in cmdline:
                found.append(f"process {pid}: {cmdline.decode(errors='replace')[:120]}")
    for line in open("/proc/self/mountinfo"):
        if root in line or f"/nspawn/propagate/{name}" in line:
            found.append(f"mount: {line.split()[4]}")
    if os.path.exists(f"/run/systemd/nspawn/propagate/{name}"):
        found.append(f"/run/systemd/nspawn/propagate/{name}")
    return found
