#!/usr/bin/env python3
"""Reads the console log of one run and decides: prints the time of every stage, every
check, the throughput figures and vnet/bridge ratios; exits 0 only if the guest side ran to
its end and every check it planned (E2E-PLAN) passed.

Usage: report.py CONSOLE_LOG QEMU_EXIT_STATUS [HOST_STAGE_NAME SECONDS]...
"""
import re
import sys

MARK = re.compile(r"^\[\s*([\d.]+)\]\s.*?(E2E-[A-Z]+)\s?(.*)$")


def main():
    log_path, qemu_rc = sys.argv[1], int(sys.argv[2])
    host_stages = [s.split() for s in sys.argv[3:]]
    with open(log_path, errors="replace") as f:
        lines = f.read().splitlines()

    plan, checks, stages, metrics, logs = [], {}, [], {}, []
    boot_at = end_rc = watchdog = None
    for line in lines:
        m = MARK.match(line)
        if not m:
            continue
        t, kind, rest = float(m.group(1)), m.group(2), m.group(3).strip()
        if kind == "E2E-BOOT" and boot_at is None:
            boot_at = t
        elif kind == "E2E-PLAN":
            plan = rest.split()
        elif kind == "E2E-CHECK":
            verdict, _, more = rest.partition(" ")
            name, _, detail = more.partition(" ")
            checks[name] = (verdict, detail)
        elif kind == "E2E-STAGE":
            name, _, secs = rest.rpartition(" ")
            stages.append((name, secs))
        elif kind == "E2E-METRIC":
            name, _, value = rest.partition(" ")
            metrics.setdefault(name, []).append(value)  # a flow measured twice: both
        elif kind == "E2E-END":
            end_rc = rest
        elif kind == "E2E-WATCHDOG":
            watchdog = rest
        elif kind == "E2E-LOG":
            logs.append(rest)

    print("\n== stages (seconds)")
    for name, secs in host_stages:
        print(f"  host  {name:<22} {secs:>6}")
    if boot_at is not None:
        print(f"  qemu  {'boot-to-dom0-init':<22} {boot_at:>6.1f}")
    for name, secs in stages:
        print(f"  dom0  {name:<22} {secs:>6}")

    print("\n== checks")
    failed = []
    for name in plan + [n for n in checks if n not in plan]:
        verdict, detail = checks.get(name, ("missing", "did not run"))
        print(f"  {verdict:<7} {name:<26} {detail}")
        if verdict != "ok":
            failed.append(name)

    if metrics:
        print("\n== throughput (3 s iperf3 per run, vnet and bridge interleaved; TCG: a "
              "correctness signal, not a benchmark)")
        for name, values in metrics.items():
            if name.endswith(".bps") and not name.startswith("bench."):
                base = name[: -len(".bps")]
                runs = ", ".join(f"{int(v) / 1e6:.0f}" for v in values)
                print(f"  {base:<24} {runs:>12} Mbit/s  retransmits "
                      f"{metrics.get(base + '.retransmits', ['?'])[-1]} of ~"
                      f"{metrics.get(base + '.segments', ['?'])[-1]} segments")
        for name, values in metrics.items():
            if name.startswith("ratio."):
                print(f"  vnet/bridge {name[len('ratio.'):]:<12} {values[-1]}")
        print_offload_bench(metrics)

    problems = []
    if boot_at is None:
        problems.append("dom0 never reached its /init (no E2E-BOOT): Xen or dom0 boot failed")
    if not plan and boot_at is not None:
        problems.append("the scenario never started (no E2E-PLAN)")
    if watchdog:
        problems.append(f"dom0 watchdog fired: {watchdog}")
    if end_rc is None:
        problems.append("the scenario did not finish (no E2E-END): hung guest or timeout")
    if qemu_rc != 0:
        problems.append(f"QEMU exited with status {qemu_rc}" + (" (timeout)" if qemu_rc == 124 else ""))
    if failed:
        problems.append(f"{len(failed)} check(s) failed or missing: {' '.join(failed)}")

    if problems:
        print("\n== console log tail (" + log_path + ")")
        for line in lines[-80:]:
            print("  " + line)
        print("\nFAIL: " + "; ".join(problems))
        return 1
    print(f"\nPASS: {len(plan)} checks")
    return 0


def print_offload_bench(metrics: dict) -> None:
    """The opt-in smart/dumb netfront benchmark (VNET_XEN_E2E_BENCH=offload): g1 -> g2 per
    mode and switch, each run and the ratio of the means."""
    def runs(mode, path):
        return [int(v) / 1e6 for v in metrics.get(f"bench.offload.{mode}.{path}.bps", [])]

    def retrans(mode, path):
        return sum(int(v) for v in metrics.get(f"bench.offload.{mode}.{path}.retransmits", []))

    def listed(xs):
        return ", ".join(f"{x:.0f}" for x in xs) or "none"

    if not any(name.startswith("bench.offload.") for name in metrics):
        return
    print("\n== offload bench: g1 -> g2 TCP, both guests' netfront smart (offloads on) or dumb "
          "(tx/sg/tso off); 3 s per run, rounds smart-dumb then dumb-smart")
    print("| switch | smart Mbit/s (runs) | dumb Mbit/s (runs) | smart/dumb (means) "
          "| retransmits smart / dumb |")
    print("|---|---|---|---:|---|")
    for path in ("vnet", "bridge"):
        smart, dumb = runs("smart", path), runs("dumb", path)
        if smart and dumb and sum(dumb) > 0:
            ratio = f"{(sum(smart) / len(smart)) / (sum(dumb) / len(dumb)):.2f}x"
        else:
            ratio = "n/a"
        print(f"| {path} | {listed(smart)} | {listed(dumb)} | {ratio} | "
              f"{retrans('smart', path)} / {retrans('dumb', path)} |")


if __name__ == "__main__":
    sys.exit(main())
