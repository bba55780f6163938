#!/usr/bin/python3
"""deploy/systemd/vnetd.service's sandbox is enough for vnetd's real work.

Runs vnetd (from the build tree) as a transient systemd service with every [Service]
setting of the unit, only renamed to run-unique paths (state, runtime directory, pins),
then checks, on a test uplink veth and guest veth (tests/netns/topology.py):
  * the process's effective capabilities are exactly CAP_NET_ADMIN, CAP_BPF, CAP_PERFMON;
  * the fast path loads and the uplink's XDP program attaches (libxdp dispatcher);
  * a context is assigned and reaches ACTIVE (TC program on the guest's interface);
  * the guest reaches the wire through vnet;
  * stop is clean (SIGTERM, exit 0) and nothing of the run is left;
  * each of those capabilities is needed: without any one of them (setpriv), vnetd cannot
    bring a guest's context to ACTIVE.
Where systemd is not PID 1 (a container), the unit's capability and no-new-privileges
settings are applied with setpriv instead, and only `systemd-analyze verify` checks the
rest of the unit; the log says which mode ran. Needs root; fails (never skips) without it.
Usage: systemd_unit_test.py --build-dir BUILD --unit deploy/systemd/vnetd.service
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "netns"))
from topology import HarnessError, Topology, check_clean, remove_xdp_dispatcher_pins  # noqa: E402

CAP_NET_ADMIN, CAP_PERFMON, CAP_BPF = 12, 38, 39
# Managed by the test itself, or meaningless for a transient run.
SKIPPED = {"ExecStart", "Restart", "RestartSec", "Type"}


def log(msg: str) -> None:
    print(f"[unit-test] {msg}", flush=True)


def service_settings(unit_path: str, name: str) -> list:
    """The unit's [Service] settings, with its directories renamed to `name`."""
    settings, section = [], None
    for raw in open(unit_path):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
            continue
        if section != "[Service]":
            continue
        key, value = line.split("=", 1)
        if key in SKIPPED:
            continue
        if key in ("StateDirectory", "RuntimeDirectory"):
            value = name
        if key == "ReadWritePaths":
            value = value.replace("/var/lib/vnet", f"/var/lib/{name}").replace(
                "/run/vnet", f"/run/{name}")
        settings.append(f"{key}={value}")
    if not any(s.startswith("CapabilityBoundingSet=") for s in settings):
        raise HarnessError("the unit sets no CapabilityBoundingSet")
    return settings


def setting(settings: list, key: str) -> str:
    for s in settings:
        if s.startswith(key + "="):
            return s.split("=", 1)[1]
    raise HarnessError(f"the unit sets no {key}")


def verify_unit(unit_path: str, vnetd: str, tmpdir: str) -> None:
    """systemd-analyze verify on a copy that runs the build tree's vnetd."""
    copy = os.path.join(tmpdir, "vnetd.service")
    with open(unit_path) as src, open(copy, "w") as dst:
        dst.write(src.read().replace("/usr/sbin/vnetd", vnetd))
    r = subprocess.run(["systemd-analyze", "verify", copy], capture_output=True, text=True,
                       timeout=60)
    problems = [line for line in (r.stdout + r.stderr).splitlines()
                if line.strip() and "xen-domains" not in line and "xendomains" not in line]
    if r.returncode != 0 or problems:
        raise HarnessError("systemd-analyze verify: " + "; ".join(problems))


def works_with(t: Topology, vnetd: str, vnetctl: str, caps: list, g, name: str) -> bool:
    """True if vnetd with only `caps` (no uplink) brings g's context to ACTIVE."""
    pin_dir, run_dir, state_dir = f"/sys/fs/bpf/{name}", f"/run/{name}", f"/var/lib/{name}"
    sock = f"{run_dir}/vnetd.sock"
    os.makedirs(run_dir, exist_ok=True)
    plus = ",".join("+" + c for c in caps)
    proc = t.popen(None, ["setpriv", f"--inh-caps=-all,{plus}", f"--ambient-caps=-all,{plus}",
                          f"--bounding-set=-all,{plus}", "--no-new-privs", vnetd,
                          "--fast_path=bpf", f"--unix_socket={sock}", f"--state_dir={state_dir}",
                          f"--bpf_pin_dir={pin_dir}", "--metrics_address=127.0.0.1:0"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ctl(*args):
        return subprocess.run([vnetctl, "--socket", sock, "--timeout", "3"] + list(args),
                              capture_output=True, text=True, timeout=20)
    active = False
    try:
        end = time.monotonic() + 10
        while time.monotonic() < end and proc.poll() is None:
            if os.path.exists(sock) and ctl("status").returncode == 0:
                ctl("context", "assign", "--domain", "8", "--device", "0", "--interface",
                    g.host_if, "--mac", g.mac, "--ip", g.ipv4)
                r = ctl("context", "get", "--interface", g.host_if, "-o", "json")
                active = r.returncode == 0 and \
                    json.loads(r.stdout).get("state") == "CONTEXT_STATE_ACTIVE"
                ctl("context", "release", "--domain", "8", "--device", "0", "--allow-missing")
                break
            time.sleep(0.2)
    finally:
        t.stop(proc)
        for d in (pin_dir, run_dir, state_dir):
            shutil.rmtree(d, ignore_errors=True)
    return active


def main_pid(unit: str) -> int:
    r = subprocess.run(["systemctl", "show", "-p", "MainPID", "--value", unit],
                       capture_output=True, text=True, timeout=10)
    return int(r.stdout.strip() or 0)


def effective_caps(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    raise HarnessError("no CapEff")


def run(build_dir: str, unit_path: str) -> int:
    if os.geteuid() != 0:
        log("FAIL: needs root")
        return 1
    with_systemd = os.path.isdir("/run/systemd/system")
    vnetd = os.path.join(build_dir, "daemon", "vnetd")
    vnetctl = os.path.join(build_dir, "cli", "vnetctl")
    failures = []
    with Topology(prefix="vu") as t:
        name = f"vnet-{t.tag}"
        unit = f"{name}.service"
        pin_dir = f"/sys/fs/bpf/{name}"
        sock = f"/run/{name}/vnetd.sock"
        wire = t.add_wire("w")
        g = t.add_guest("g", gro=True)
        uplink_ifindex = t.ifindex(wire.host_if)

        def cleanup():
            subprocess.run(["systemctl", "stop", unit], capture_output=True, timeout=30)
            subprocess.run(["systemctl", "reset-failed", unit], capture_output=True, timeout=10)
            for d in (f"/var/lib/{name}", f"/var/lib/private/{name}"):
                shutil.rmtree(d, ignore_errors=True)

        def remove_pins():
            shutil.rmtree(pin_dir, ignore_errors=True)
            remove_xdp_dispatcher_pins(uplink_ifindex, wire.host_if)

        t.add_cleanup(cleanup)
        t.add_cleanup(remove_pins, final=True)

        settings = service_settings(unit_path, name)
        verify_unit(unit_path, vnetd, t.tmpdir)
        log("ok   systemd-analyze verify")
        args = [vnetd, "--fast_path=bpf", f"--uplink={wire.host_if}", f"--unix_socket={sock}",
                f"--state_dir=/var/lib/{name}", f"--bpf_pin_dir={pin_dir}",
                "--metrics_address=127.0.0.1:0"]
        proc = None
        if with_systemd:
            log("mode: systemd-run with every [Service] setting of the unit")
            cmd = ["systemd-run", f"--unit={unit}", "--quiet"]
            for s in settings:
                cmd += ["-p", s]
            r = subprocess.run(cmd + ["--"] + args, capture_output=True, text=True, timeout=30)
            if r.returncode != 0:
                raise HarnessError(f"systemd-run: {r.stderr.strip()}")
        else:
            log("mode: systemd is not PID 1 here; the unit's capabilities through setpriv")
            caps = setting(settings, "AmbientCapabilities").lower().replace("cap_", "")
            bound = setting(settings, "CapabilityBoundingSet").lower().replace("cap_", "")
            as_list = lambda text: ",".join("+" + c for c in text.split())  # noqa: E731
            os.makedirs(f"/run/{name}", exist_ok=True)
            t.add_cleanup(lambda: shutil.rmtree(f"/run/{name}", ignore_errors=True))
            log_path = os.path.join(t.tmpdir, "vnetd.log")
            with open(log_path, "w") as logf:
                proc = t.popen(None, ["setpriv", f"--inh-caps=-all,{as_list(caps)}",
                                      f"--ambient-caps=-all,{as_list(caps)}",
                                      f"--bounding-set=-all,{as_list(bound)}",
                                      "--no-new-privs"] + args,
                               stdout=logf, stderr=subprocess.STDOUT)
            journal = lambda: open(log_path).read()[-1500:]  # noqa: E731

        def ctl(*args, check=True):
            r = subprocess.run([vnetctl, "--socket", sock] + list(args), capture_output=True,
                               text=True, timeout=20)
            if check and r.returncode != 0:
                raise HarnessError(f"vnetctl {' '.join(args)}: {r.stderr.strip()}")
            return r

        if with_systemd:
            def journal():
                return subprocess.run(["journalctl", "-u", unit, "-n", "15", "--no-pager",
                                       "-o", "cat"], capture_output=True, text=True).stdout

        end = time.monotonic() + 20
        while time.monotonic() < end:
            if os.path.exists(sock) and ctl("status", check=False).returncode == 0:
                break
            if proc is not None:
                state = "failed" if proc.poll() is not None else "active"
            else:
                state = subprocess.run(["systemctl", "is-active", unit], capture_output=True,
                                       text=True).stdout.strip()
            if state in ("failed", "inactive"):
                raise HarnessError(f"vnetd under the unit's sandbox died:\n{journal()}")
            time.sleep(0.2)
        else:
            raise HarnessError(f"vnetd did not answer:\n{journal()}")

        caps = effective_caps(main_pid(unit) if proc is None else proc.pid)
        want = (1 << CAP_NET_ADMIN) | (1 << CAP_BPF) | (1 << CAP_PERFMON)
        if caps != want:
            failures.append(f"effective capabilities {caps:#x}, expected {want:#x}")
        else:
            log("ok   capabilities: exactly CAP_NET_ADMIN, CAP_BPF, CAP_PERFMON")

        status = ctl("status").stdout
        fast = [line for line in status.splitlines() if "fast path:" in line]
        if not fast or "xdp" not in fast[0] or "none" in fast[0].split(":", 1)[1][:6]:
            failures.append(f"fast path not up under the sandbox: {fast}")
        else:
            log(f"ok   {fast[0].strip()}")

        ctl("context", "assign", "--domain", "7", "--device", "0", "--interface", g.host_if,
            "--mac", g.mac, "--ip", g.ipv4, "--ip", g.ipv6)
        ctx = json.loads(ctl("context", "get", "--interface", g.host_if, "-o", "json").stdout)
        if ctx.get("state") != "CONTEXT_STATE_ACTIVE":
            failures.append(f"context state {ctx.get('state')}:\n{journal()}")
        else:
            log("ok   context ACTIVE (guest TC program attached)")
        if not t.wait_ping(g.ns, wire.ipv4, deadline=5):
            failures.append("guest cannot reach the wire through vnet")
        else:
            log("ok   guest reaches the wire")
        ctl("context", "release", "--domain", "7", "--device", "0")

        if proc is None:
            subprocess.run(["systemctl", "stop", unit], capture_output=True, timeout=30)
            result = subprocess.run(["systemctl", "show", "-p", "Result", "--value", unit],
                                    capture_output=True, text=True).stdout.strip()
        else:
            proc.terminate()
            result = "success" if proc.wait(timeout=20) == 0 else f"exit {proc.returncode}"
        if result not in ("success", ""):
            failures.append(f"stop: {result}:\n{journal()}")
        else:
            log("ok   SIGTERM stop, exit 0")
        bound = setting(settings, "CapabilityBoundingSet").lower().replace("cap_", "").split()
        # The probe must work with the whole set, or "needed" below would prove nothing.
        if not works_with(t, vnetd, vnetctl, bound, g, f"{name}-all"):
            failures.append("the capability probe fails even with every capability")
        for dropped in bound:
            rest = [c for c in bound if c != dropped]
            if works_with(t, vnetd, vnetctl, rest, g, f"{name}-{dropped[:3]}"):
                failures.append(f"vnetd works without cap_{dropped}: drop it from the unit")
            else:
                log(f"ok   cap_{dropped} is needed")
        tag = t.tag
    left = glob.glob(f"/sys/fs/bpf/vnet-{tag}") + glob.glob(f"/var/lib/vnet-{tag}")
    if left:
        failures.append(f"left behind: {left}")
    check_clean(tag)
    for f in failures:
        log(f"FAIL: {f}")
    log("PASS" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--unit", required=True)
    args = parser.parse_args()
    try:
        return run(os.path.abspath(args.build_dir), os.path.abspath(args.unit))
    except HarnessError as e:
        log(f"FAIL: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
