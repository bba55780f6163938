#!/usr/bin/python3
"""vnetd at a pool size: start-up and restart (restore) time, RSS, the pinned maps' memlock,
and the assign rate through vnetctl, one process per assign as a hotplug script runs it.

A benchmark, not a test: prints one Markdown row per (contexts, fast path) and asserts
nothing. For --fast-path=bpf it creates one veth pair per context (host side in the root
namespace, peer in a namespace of its own, one `ip -batch`), pins under
/sys/fs/bpf/vnet-bench-<pid>, and removes all of it when done. Needs root for bpf.

  startup_bench.py [--build build] [--contexts 0,1000,4096] [--fast-path none,bpf]
                   [--cli-assigns 20] [--vnetd PATH] [--vnetctl PATH]
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def vlan(i):
    return 1 + (i - 1) // 2048  # a VLAN floods to at most 4096 members


def state_text(n, names):
    lines = ["format_version: 2"]
    for i in range(1, n + 1):
        lines.append(
            f'contexts {{ id: {i} domain_id: {i} interface_name: "{names(i)}" '
            f'mac: "02:00:00:41:{i >> 8:02x}:{i & 0xff:02x}" '
            f'ipv4_addresses: "198.18.{i >> 8}.{i & 0xff}" vlan: {vlan(i)} mtu: 1500 '
            f'create_time {{ seconds: 1700000000 }} }}')
    return "\n".join(lines) + "\n"


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, capture_output=True, text=True, **kw)


class Veths:
    """n veth pairs: vsb<i> in the root namespace, their peers in namespace `ns`."""

    def __init__(self, n):
        self.ns = f"vnetsb{os.getpid()}"
        self.n = n
        sh(f"ip netns add {self.ns}")
        batch = tempfile.NamedTemporaryFile("w", suffix=".batch", delete=False)
        for i in range(1, n + 1):
            batch.write(f"link add {self.name(i)} type veth peer name p{i} netns {self.ns}\n"
                        f"link set {self.name(i)} addrgenmode none up\n")
        batch.close()
        try:
            sh(f"ip -batch {batch.name}")
        finally:
            os.unlink(batch.name)

    @staticmethod
    def name(i):
        return f"vsb{i}"

    def remove(self):
        # Deleting the namespace deletes the peers and with them the host sides.
        subprocess.run(f"ip netns del {self.ns}", shell=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and os.path.exists(f"/sys/class/net/{self.name(1)}"):
            time.sleep(0.2)


def proc_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def maps_memlock(pin_dir):
    out = subprocess.run(["bpftool", "-j", "-f", "map", "show"], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    total, count = 0, 0
    for m in json.loads(out.stdout or "[]"):
        if any(p.startswith(pin_dir + "/") for p in m.get("pinned", [])):
            total += int(m.get("bytes_memlock", 0))
            count += 1
    return total, count


class Daemon:
    def __init__(self, args, work, n, fast_path, pin_dir):
        self.vnetctl, self.work, self.pin_dir = args.vnetctl, work, pin_dir
        self.sock = f"{work}/vnetd.sock"
        conf = f"{work}/vnetd.conf"
        with open(conf, "w") as f:
            f.write("")
        self.argv = [args.vnetd, f"--unix_socket={self.sock}",
                     f"--state_dir={work}/state", f"--config={conf}",
                     f"--capacity={max(n + 100, 128)}", f"--fast_path={fast_path}",
                     "--metrics_address=off", f"--bpf_pin_dir={pin_dir}"]
        self.proc = None

    def ctl(self, *args):
        return subprocess.run([self.vnetctl, "--socket", self.sock, *args],
                              capture_output=True, text=True)

    def start(self):
        """Seconds until `vnetctl status` answers."""
        t0 = time.monotonic()
        self.log = open(f"{self.work}/vnetd.log", "a")
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=self.log)
        while time.monotonic() - t0 < 600:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vnetd exited {self.proc.returncode}: see {self.work}")
            if os.path.exists(self.sock) and self.ctl("status").returncode == 0:
                return time.monotonic() - t0
            time.sleep(0.02)
        raise RuntimeError("vnetd did not answer within 600 s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=120)
        self.log.close()


def row(args, n, fast_path):
    work = tempfile.mkdtemp(prefix="vnet-startup-bench-", dir="/var/tmp")
    pin_dir = f"/sys/fs/bpf/vnet-bench-{os.getpid()}"
    veths = None
    daemon = None
    try:
        total = n + args.cli_assigns
        names = Veths.name if fast_path == "bpf" else (lambda i: f"vif{i}.0")
        if fast_path == "bpf":
            t = time.monotonic()
            veths = Veths(total)
            print(f"  ({total} veth pairs in {time.monotonic() - t:.1f} s)", file=sys.stderr)
        os.makedirs(f"{work}/state")
        with open(f"{work}/state/contexts.state", "w") as f:
            f.write(state_text(n, names))
        daemon = Daemon(args, work, n, fast_path, pin_dir)
        first = daemon.start()
        rss = proc_kib(daemon.proc.pid, "VmRSS")
        t = time.monotonic()
        for i in range(n + 1, total + 1):
            r = daemon.ctl("context", "assign", "--domain", str(i), "--device", "0",
                           "--interface", names(i), "--mac", f"02:00:00:41:{i >> 8:02x}:{i & 0xff:02x}",
                           "--ip", f"198.18.{i >> 8}.{i & 0xff}", "--vlan", str(vlan(i)))
            if r.returncode != 0:
                raise RuntimeError(f"vnetctl context assign: {r.stderr.strip()}")
        cli_rate = args.cli_assigns / (time.monotonic() - t) if args.cli_assigns else 0
        memlock = maps_memlock(pin_dir) if fast_path == "bpf" else None
        daemon.stop()
        again = daemon.start()
        rss_again = proc_kib(daemon.proc.pid, "VmRSS")
        hwm = proc_kib(daemon.proc.pid, "VmHWM")
        state_kib = os.path.getsize(f"{work}/state/contexts.state") / 1024
        mem = f"{memlock[0] / 1024:.0f} ({memlock[1]} maps)" if memlock else "-"
        print(f"| {n} | {fast_path} | {first:.2f} | {again:.2f} | {rss / 1024:.1f} | "
              f"{rss_again / 1024:.1f} ({hwm / 1024:.1f}) | {mem} | {cli_rate:.1f} | "
              f"{state_kib:.0f} |", flush=True)
    finally:
        if daemon:
            daemon.stop()
        if fast_path == "bpf":
            subprocess.run([args.vnetd, "--remove_fast_path",
                            f"--bpf_pin_dir={pin_dir}", f"--state_dir={work}/state",
                            f"--config={work}/vnetd.conf"], capture_output=True)
            shutil.rmtree(pin_dir, ignore_errors=True)
        if veths:
            veths.remove()
        shutil.rmtree(work, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default="build")
    p.add_argument("--contexts", default="0,1000,4096")
    p.add_argument("--fast-path", default="none")
    p.add_argument("--cli-assigns", type=int, default=20)
    p.add_argument("--vnetd", help="default BUILD/daemon/vnetd")
    p.add_argument("--vnetctl", help="default BUILD/cli/vnetctl")
    args = p.parse_args()
    args.vnetd = os.path.abspath(args.vnetd or f"{args.build}/daemon/vnetd")
    args.vnetctl = os.path.abspath(args.vnetctl or f"{args.build}/cli/vnetctl")
    print(f"load average {open('/proc/loadavg').read().split()[:3]}")
    print("| contexts | fast path | start s | restart s | RSS MiB | RSS after restart MiB "
          "(peak) | pinned maps memlock KiB | vnetctl assigns/s | state KiB |\n"
          "|---|---|---|---|---|---|---|---|---|")
    for fp in args.fast_path.split(","):
        for n in [int(x) for x in args.contexts.split(",")]:
            row(args, n, fp)


if __name__ == "__main__":
    main()
