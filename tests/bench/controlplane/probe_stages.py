#!/usr/bin/python3
"""Where the probe's Validate+Complete rounds spent their time, from the probe's stage file
(--probe_stages) and a `perf record -k CLOCK_MONOTONIC -a` of sched_switch/sched_wakeup and
uprobes on vnetd's BufferServiceImpl::ValidateDescriptors/CompleteDescriptors (entry and
return). Each call is split into: in (client send -> handler entry), handler,
out (handler return -> client answered). "in" is split further by what the thread that ran
the handler was doing: running (other work first), runnable (waiting for a core) or asleep;
"out" by what the probe's thread was doing. For the time a thread waited for a core, it
says whose threads had the cores. Prints percentiles over all calls and over the slowest 5%.

  probe_stages.py STAGES_FILE PERF_DATA [--probe_pid PID]

Recording (as root; delete the probes afterwards with `perf probe -d 'probe_vnetd:vc_*'`):
  for m in ValidateDescriptors CompleteDescriptors; do  # the mangled names, from `nm vnetd`
    perf probe -x build/daemon/vnetd --no-demangle -a "vc_$m=$SYMBOL"
    perf probe -x build/daemon/vnetd --no-demangle -a "vc_${m}_ret=$SYMBOL%return"; done
  vnet_controlplane_bench --clients=1000 --writers_percent=98 --readers_percent=2 \
      --probe_stages=stages.txt &   # no buffer clients: only the probe calls the handlers
  perf record -k CLOCK_MONOTONIC -a -e sched:sched_switch -e sched:sched_wakeup \
      -e 'probe_vnetd:*' -o perf.data -- sleep 7   # once the probe is ready
"""
import argparse
import bisect
import collections
import re
import subprocess
import sys

SWITCH = re.compile(r"prev_comm=(.*) prev_pid=(\d+) prev_prio=\d+ prev_state=(\S+) ==> "
                    r"next_comm=(.*) next_pid=(\d+)")
WAKEUP = re.compile(r"comm=(.*) pid=(\d+) prio=")
LINE = re.compile(r"^\s*(.*?)\s+(\d+)/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)$")


def read_events(perf_data):
    out = subprocess.run(["perf", "script", "-i", perf_data, "-F",
                          "comm,pid,tid,cpu,time,event,trace"],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        m = LINE.match(line)
        if m:
            comm, pid, tid, cpu, t, event, rest = m.groups()
            yield comm, int(pid), int(tid), int(cpu), int(round(float(t) * 1e9)), event, rest


class Threads:
    """Per thread, the intervals in which it ran, waited for a core, or slept."""

    def __init__(self):
        self.state = {}  # tid -> (state, since)
        self.spans = collections.defaultdict(list)  # tid -> [(start, end, state)]
        self.on_cpu = collections.defaultdict(list)  # cpu -> [(start, end, tid)]
        self.cpu_since = {}
        self.pid_of = {}
        self.names = collections.defaultdict(set)  # pid -> its threads' names
        self.tid_comm = {}

    def _set(self, tid, state, t):
        old = self.state.get(tid)
        if old is not None:
            self.spans[tid].append((old[1], t, old[0]))
        self.state[tid] = (state, t)

    def switch(self, cpu, t, prev, prev_state, nxt):
        self._set(prev, "runnable" if prev_state.startswith("R") else "asleep", t)
        self._set(nxt, "running", t)
        if cpu in self.cpu_since:
            since, tid = self.cpu_since[cpu]
            self.on_cpu[cpu].append((since, t, tid))
        self.cpu_since[cpu] = (t, nxt)

    def wakeup(self, tid, t):
        if self.state.get(tid, ("asleep",))[0] == "asleep":
            self._set(tid, "runnable", t)

    def split(self, tid, start, end):
        """Nanoseconds running / runnable / asleep / unknown of `tid` within [start, end]."""
        out = collections.Counter()
        spans = self.spans.get(tid, [])
        i = bisect.bisect_left(spans, (start,)) - 1
        covered = 0
        for s, e, state in spans[max(i, 0):]:
            if s >= end:
                break
            d = min(e, end) - max(s, start)
            if d > 0:
                out[state] += d
                covered += d
        out["unknown"] += max(0, end - start - covered)
        return out

    def who_ran(self, start, end):
        """Nanoseconds of CPU by process (pid) within [start, end], over all CPUs."""
        out = collections.Counter()
        for spans in self.on_cpu.values():
            i = bisect.bisect_left(spans, (start,)) - 1
            for s, e, tid in spans[max(i, 0):]:
                if s >= end:
                    break
                d = min(e, end) - max(s, start)
                if d > 0:
                    out[(self.pid_of.get(tid, tid), self.tid_comm.get(tid, "?"))] += d
        return out

    def runnable_windows(self, tid, start, end):
        for s, e, state in self.spans.get(tid, []):
            if state == "runnable" and e > start and s < end:
                yield max(s, start), min(e, end)


def percentile(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stages")
    ap.add_argument("perf_data")
    ap.add_argument("--probe_pid", type=int, help="default: the pid that sent most rounds")
    args = ap.parse_args()

    threads = Threads()
    handlers = {"ValidateDescriptors": [], "CompleteDescriptors": []}
    pending = {}
    for comm, pid, tid, cpu, t, event, rest in read_events(args.perf_data):
        threads.pid_of[tid] = pid
        threads.names[pid].add(comm)
        threads.tid_comm[tid] = comm
        if event == "sched:sched_switch":
            m = SWITCH.search(rest)
            if m:
                threads.switch(cpu, t, int(m.group(2)), m.group(3), int(m.group(5)))
        elif event in ("sched:sched_wakeup", "sched:sched_wakeup_new"):
            m = WAKEUP.search(rest)
            if m:
                threads.wakeup(int(m.group(2)), t)
        elif event.startswith("probe_vnetd:vc_"):
            name = event.split("vc_")[1]
            method = name.split("_ret")[0]
            if "_ret" in name:
                if tid in pending:
                    handlers[method].append((pending.pop(tid), t, tid))
            else:
                pending[tid] = t
    for v in handlers.values():
        v.sort()
    rounds = [tuple(map(int, line.split())) for line in open(args.stages) if line.strip()]
    if not handlers["ValidateDescriptors"]:
        sys.exit("no vc_ValidateDescriptors events in the perf data (uprobes not recorded?)")
    lo = handlers["ValidateDescriptors"][0][0]
    hi = handlers["CompleteDescriptors"][-1][1]
    rounds = [r for r in rounds if r[0] >= lo and r[3] <= hi]

    calls = []
    for r in rounds:
        for method, (sent, answered) in (("ValidateDescriptors", r[0:2]),
                                         ("CompleteDescriptors", r[2:4])):
            hs = handlers[method]
            i = bisect.bisect_left(hs, (sent,))
            if i >= len(hs) or hs[i][1] > answered:
                continue  # not matched (another client's call, or no event)
            entry, exit_, tid = hs[i]
            calls.append(dict(method=method, sent=sent, answered=answered, entry=entry,
                              exit=exit_, tid=tid))
    if not calls:
        sys.exit("no probe call matched a handler event")
    probe_tid = args.probe_pid
    if probe_tid is None:
        # The thread asleep in the probe process from send to answer: the one that woke
        # right before the most answers. Only the bench's own threads (its main thread's
        # name) are candidates: another process's thread that happened to run then is not.
        votes = collections.Counter()
        for c in calls[:200]:
            for tid, spans in threads.spans.items():
                if threads.tid_comm.get(tid) != "vnet_controlpla":
                    continue
                for s, e, state in spans:
                    if state == "running" and s <= c["answered"] <= e:
                        votes[tid] += 1
        probe_tid = votes.most_common(1)[0][0]

    rows = []
    blame = collections.Counter()
    blame_slow = collections.Counter()
    total = [c["answered"] - c["sent"] for c in calls]
    slow_cut = percentile(total, 0.95)
    for c in calls:
        inb = threads.split(c["tid"], c["sent"], c["entry"])
        outb = threads.split(probe_tid, c["exit"], c["answered"])
        row = dict(total=c["answered"] - c["sent"], inbound=c["entry"] - c["sent"],
                   handler=c["exit"] - c["entry"], outbound=c["answered"] - c["exit"],
                   in_running=inb["running"], in_runnable=inb["runnable"],
                   in_asleep=inb["asleep"], out_asleep=outb["asleep"],
                   out_runnable=outb["runnable"], out_running=outb["running"])
        rows.append(row)
        for tid, s, e in [(c["tid"], c["sent"], c["entry"]), (probe_tid, c["exit"], c["answered"])]:
            for ws, we in threads.runnable_windows(tid, s, e):
                ran = threads.who_ran(ws, we)
                blame.update(ran)
                if row["total"] >= slow_cut:
                    blame_slow.update(ran)

    cols = ["total", "inbound", "in_running", "in_runnable", "in_asleep", "handler",
            "outbound", "out_asleep", "out_runnable", "out_running"]
    slow = [r for r in rows if r["total"] >= slow_cut]
    print(f"{len(calls)} calls of {len(rounds)} probe rounds matched; probe thread {probe_tid}; "
          f"slowest 5%: {len(slow)} calls of >= {slow_cut / 1e6:.2f} ms\n")
    print("| stage (ms) | p50 | p90 | p99 | mean | mean, slowest 5% |")
    print("|---|---:|---:|---:|---:|---:|")
    for k in cols:
        v = [r[k] / 1e6 for r in rows]
        vs = [r[k] / 1e6 for r in slow]
        print(f"| {k} | {percentile(v, .5):.3f} | {percentile(v, .9):.3f} | "
              f"{percentile(v, .99):.3f} | {sum(v) / len(v):.3f} | {sum(vs) / max(len(vs), 1):.3f} |")
    vnetd_pid = threads.pid_of.get(calls[0]["tid"])
    probe_pid = threads.pid_of.get(probe_tid)

    def label(pid, comm):
        if pid == vnetd_pid:
            return f"vnetd ({pid}): {comm}"
        if pid == probe_pid:
            return f"probe ({pid})"
        if "vnet_controlpla" in threads.names[pid]:
            return f"load generator ({pid})"
        if pid == 0:
            return "idle"
        return "other: " + ", ".join(sorted(threads.names[pid]))[:40]

    for title, by_pid in (("all calls", blame), ("slowest 5%", blame_slow)):
        b = collections.Counter()
        for (pid, comm), ns in by_pid.items():
            b[label(pid, comm)] += ns
        tot = sum(b.values()) or 1
        print(f"\nWho had the cores while the handler's or the probe's thread waited for one "
              f"({title}; CPU ms summed over both cores):\n")
        print("| process | CPU ms | share |\n|---|---:|---:|")
        for name, ns in b.most_common(10):
            print(f"| {name} | {ns / 1e6:.1f} | {ns / tot:.0%} |")


if __name__ == "__main__":
    main()
