"""A trafgen flow that runs only in the windows it is given: started once, then stopped
(SIGSTOP) and continued. Several networks' flows can so take turns in short windows, and a
phase of this VM's speed (seconds to minutes) falls on all of them alike instead of on
whichever network was measuring then. Counters are read through /proc of processes in the
namespaces (no fork per reading): received = the receiver's `Ip InReceives` (IPv6:
`Ip6InReceives`), sent = the sending interface's tx packets."""

import os
import signal
import subprocess
import time
from typing import Callable, Dict, List, Optional

from topology import HarnessError, Topology, parse_snmp

TRAFGEN_COUNT_PER_SECOND = 5_000_000  # the count bound: far above what this machine sends


def trafgen_command(t: Topology, name: str, tx_if: str, conf: str, bound: int,
                    gap: Optional[str] = None) -> List[str]:
    """The command of a trafgen flow of frames `conf` (its config text, written to the run's
    directory as `name`) from tx_if on one CPU, paced by `gap` if given. Bounded twice, so
    it ends by itself whatever happens to the caller: by time (SIGINT after `bound` seconds)
    and by count."""
    path = os.path.join(t.tmpdir, f"trafgen-{name}.cfg")
    with open(path, "w") as f:
        f.write(conf)
    return (["timeout", "-s", "INT", "-k", "2", str(bound), "trafgen", "--dev", tx_if,
             "--conf", path, "--num", str(TRAFGEN_COUNT_PER_SECOND * bound), "--cpus", "1",
             "--no-sock-mem", "--notouch-irq", "--no-cpu-stats"] +
            (["--gap", gap] if gap else []))


def _children(pid: int) -> List[int]:
    """Every descendant of pid (ip netns exec and timeout exec or fork their commands)."""
    out: List[int] = []
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(x) for x in f.read().split()]
    except OSError:
        return out
    for k in kids:
        out += [k] + _children(k)
    return out


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def _rx_packets(pid: int, family: int) -> int:
    """Ip.InReceives (or Ip6InReceives) of the network namespace process pid lives in."""
    if family == 6:
        with open(f"/proc/{pid}/net/snmp6") as f:
            for line in f:
                if line.startswith("Ip6InReceives "):
                    return int(line.split()[1])
        raise HarnessError(f"no Ip6InReceives in /proc/{pid}/net/snmp6")
    with open(f"/proc/{pid}/net/snmp") as f:
        return parse_snmp(f.read())["Ip.InReceives"]


def _tx_packets(pid: int, ifname: str) -> int:
    """tx packets of ifname in the network namespace process pid lives in."""
    with open(f"/proc/{pid}/net/dev") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name.strip() == ifname:
                return int(rest.split()[9])
    raise HarnessError(f"{ifname} not in /proc/{pid}/net/dev")


def cpu_busy_ns() -> List[int]:
    """Busy time of each CPU so far (user, nice, system, irq, softirq), in ns."""
    tick = 1e9 / os.sysconf("SC_CLK_TCK")
    out = []
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                v = [int(x) for x in line.split()[1:8]]
                out.append(int((v[0] + v[1] + v[2] + v[5] + v[6]) * tick))
    return out


class PausedFlow:
    """trafgen `conf` from tx_if in tx_ns, received in rx_ns as IPv`family` packets; bounded
    by time (`bound` seconds) and by count, so it ends by itself whatever happens to the
    caller."""

    def __init__(self, t: Topology, name: str, tx_ns: str, tx_if: str, rx_ns: str, conf: str,
                 bound: int, family: int = 4):
        self.name, self.tx_if, self.family = name, tx_if, family
        cmd = trafgen_command(t, f"paused-{name}", tx_if, conf, bound)
        self.pids: List[int] = []
        self.gen = t.popen(tx_ns, cmd, stdout=subprocess.DEVNULL)
        # Lives in the receiver's namespace, for reading its counters through /proc.
        self.rx_proc = t.popen(rx_ns, ["sleep", str(bound)], stdout=subprocess.DEVNULL)
        end = time.monotonic() + 5
        while not self.pids and time.monotonic() < end:
            if self.gen.poll() is not None:
                raise HarnessError(f"{name}: trafgen exited: {self.gen.stderr.read()[-300:]}")
            self.pids = [p for p in _children(self.gen.pid) if _comm(p) == "trafgen"]
            time.sleep(0.05)
        if not self.pids:
            raise HarnessError(f"{name}: trafgen did not start")
        self.pause()

    def _signal(self, sig: int) -> None:
        for p in self.pids:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                raise HarnessError(f"{self.name}: trafgen ended before the run did")

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)

    def resume_quietly(self) -> None:
        """Continues the flow whatever state it is in: a stopped trafgen would not end on
        the topology's SIGINT and would outlive the run. For cleanup paths."""
        for p in self.pids:
            try:
                os.kill(p, signal.SIGCONT)
            except ProcessLookupError:
                pass

    def close(self, t: Topology) -> None:
        """Ends the flow and its reader (continued first: a stopped trafgen would not end on
        SIGINT). Safe in cleanup paths."""
        self.resume_quietly()
        t.stop(self.gen, signal.SIGINT)
        t.stop(self.rx_proc)

    def window(self, settle: float, seconds: float) -> Dict[str, float]:
        """Runs the flow for settle + seconds; what was received, sent and spent in the
        measured `seconds`."""
        self._signal(signal.SIGCONT)
        try:
            time.sleep(settle)
            tx_pid = self.pids[0]
            rx0, tx0 = _rx_packets(self.rx_proc.pid, self.family), _tx_packets(tx_pid, self.tx_if)
            cpu0, t0 = cpu_busy_ns(), time.monotonic()
            time.sleep(seconds)
            rx1, tx1 = _rx_packets(self.rx_proc.pid, self.family), _tx_packets(tx_pid, self.tx_if)
            cpu1, t1 = cpu_busy_ns(), time.monotonic()
        finally:
            self.pause()
        return {"rx": rx1 - rx0, "tx": tx1 - tx0, "seconds": t1 - t0,
                "busy_ns": [b - a for a, b in zip(cpu0, cpu1)]}


def in_turns(items: List, rounds: int, step: Callable, failed: Optional[Dict] = None) -> None:
    """step(item) for every item (anything with a .name), `rounds` times, each round starting
    at the next item: none always runs first, or right after another's traffic. With
    `failed` (by name), an item whose step raised HarnessError is recorded there and skipped
    from then on; without it, the error propagates."""
    for r in range(rounds):
        k = r % len(items) if items else 0
        for it in items[k:] + items[:k]:
            if failed is None:
                step(it)
                continue
            if it.name in failed:
                continue
            try:
                step(it)
            except HarnessError as e:
                failed[it.name] = e


def take_turns(flows: List[PausedFlow], rounds: int, settle: float,
               seconds: float) -> Dict[str, List[Dict[str, float]]]:
    """`rounds` windows per flow, the flows taking turns. Returns each flow's windows in
    order, by name."""
    out: Dict[str, List[Dict[str, float]]] = {f.name: [] for f in flows}
    in_turns(flows, rounds, lambda f: out[f.name].append(f.window(settle, seconds)))
    return out
