"""iperf3 flows run at once between namespaces, each end optionally pinned to one CPU
(taskset), and what each flow's server received."""

import json
import time
from typing import Callable, List, NamedTuple, Optional

UDP_FRAME_OVERHEAD = 14 + 20 + 8  # Ethernet, IPv4, UDP headers of an iperf3 datagram


class Flow(NamedTuple):
    client_ns: str
    server_ns: str
    addr: str
    udp: bool = False
    rate: int = 0  # UDP only: bit/s to offer, 0 as fast as iperf3 sends
    cpu: Optional[int] = None  # both ends on this CPU; None: wherever the scheduler puts them
    nice: int = 0  # both ends at this niceness


def on_cpu(cpu: Optional[int], argv: List[str], nice: int = 0) -> List[str]:
    """argv pinned to `cpu` (None: not pinned) at niceness `nice`."""
    if nice:
        argv = ["nice", "-n", str(nice)] + argv
    return argv if cpu is None else ["taskset", "-c", str(cpu)] + argv


def run_flows(t, secs: int, omit: int, specs: List[Flow],
              during: Optional[Callable[[], object]] = None) -> list:
    """Runs the flows at once in topology t; returns each flow's received bit/s as its
    server measured it, after the first `omit` seconds (-O: a bucket starts full, so the
    first second carries the burst on top of the rate; what is left is the long-run rate).
    UDP counts whole Ethernet frames (the unit the buckets count): payload plus 42 bytes of
    headers per datagram received. during(): called once the clients run; its result is
    appended."""
    servers, clients = [], []
    for i, f in enumerate(specs):
        servers.append(t.popen(f.server_ns, on_cpu(f.cpu, ["iperf3", "-s", "-1", "-J", "-B",
                                                           f.addr, "-p", str(5301 + i)],
                                                  f.nice)))
    try:
        time.sleep(0.5)  # servers listening
        for i, f in enumerate(specs):
            args = ["iperf3", "-c", f.addr, "-p", str(5301 + i), "-t", str(secs), "-J",
                    "--connect-timeout", "3000", "-O", str(omit)]
            if f.udp:
                args += ["-u", "-b", str(f.rate), "-l", "1400"]
            clients.append(t.popen(f.client_ns, on_cpu(f.cpu, args, f.nice)))
        extra = [during()] if during else []
        for c in clients:
            c.communicate(timeout=secs + 20)
        out = []
        for s in servers:
            text, _ = s.communicate(timeout=10)
            end = json.loads(text or "{}").get("end", {})
            if "sum_received" in end:  # TCP
                out.append(float(end["sum_received"].get("bits_per_second", 0.0)))
                continue
            udp = end.get("sum", {})
            frames = udp.get("packets", 0) - udp.get("lost_packets", 0)
            seconds = max(udp.get("seconds", 0.0), 1e-3)
            out.append((udp.get("bytes", 0) + UDP_FRAME_OVERHEAD * frames) * 8 / seconds)
        return out + extra
    finally:
        for p in servers + clients:
            t.stop(p)
