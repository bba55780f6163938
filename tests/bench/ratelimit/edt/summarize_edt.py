#!/usr/bin/python3
"""Summarises the EDT-ROW lines of run_edt_bench.sh's console log: per row (kind, mode,
rate, horizon) the medians over the repetitions, as a Markdown table."""
import statistics
import sys


def rows(path):
    for line in open(path, errors="replace"):
        if line.startswith("EDT-ROW "):
            yield dict(kv.split("=", 1) for kv in line.split()[1:])


def med(values):
    nums = [float(v) for v in values if v not in ("nan", "")]
    return statistics.median(nums) if nums else float("nan")


def main(path):
    groups = {}
    for r in rows(path):
        groups.setdefault((r["kind"], r["mode"], r["rate_mbit"], r["horizon_ms"]), []).append(r)
    print("| row | reps | throughput / limit (median, min-max) | retransmits per run (median) "
          "| TCP srtt ms (median) | ping under load avg / max ms, loss % | load |")
    print("|---|---|---|---|---|---|---|")
    for (kind, mode, mbit, hz), rs in groups.items():
        limit = float(mbit) * 1e6
        ratios = [float(r["bps"]) / limit for r in rs if r["bps"] != "nan"]
        name = f"{kind} {mode} {mbit}M" + (f" horizon {hz} ms" if hz != "-" else "")
        ratio = (f"{statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})"
                 if ratios else "n/a")
        if kind.startswith("udp"):  # the retransmit column holds what the guest offered
            retr = med(r.get("offered_bps", "nan") for r in rs) / limit
            retr_text = f"offered {retr:.2f}x"
        else:
            retr_text = f"{med(r.get('retrans', 'nan') for r in rs):.0f}"
        srtt = med(r.get("srtt_us", "nan") for r in rs) / 1000
        loads = [float(r["load"]) for r in rs]
        print(f"| {name} | {len(rs)} | {ratio} | {retr_text} | {srtt:.1f} | "
              f"{med(r['ping_avg_ms'] for r in rs):.1f} / {med(r['ping_max_ms'] for r in rs):.1f},"
              f" {med(r['ping_loss_pct'] for r in rs):.0f} | {min(loads):.1f}-{max(loads):.1f} |")


if __name__ == "__main__":
    main(sys.argv[1])
