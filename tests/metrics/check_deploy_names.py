#!/usr/bin/python3
"""Every metric the deploy/ files use (alert rules, Grafana dashboard) is one vnetd exports.

Exported names are the "vnet_..." string literals in daemon/metrics/*.cc (histograms also
give _bucket, _sum and _count). Fails on a name that is used but not exported, on a
dashboard panel without a query, and on duplicate panel ids.
Usage: check_deploy_names.py SOURCE_ROOT
"""
import glob
import json
import os
import re
import sys

NAME = re.compile(r"\bvnet_[a-z0-9_]+\b")


def exported(root):
    names = set()
    for path in glob.glob(os.path.join(root, "daemon/metrics/*.cc")):
        text = open(path).read()
        for literal in re.findall(r'"(vnet_[a-z0-9_]+)"', text):
            names.add(literal)
            names.update(literal + s for s in ("_bucket", "_sum", "_count"))
    return names


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../..")
    known = exported(root)
    # Map names in the data-plane adapter are label values, not metric names.
    known.add("vnet_ctx")
    errors = []
    if "vnet_context_rx_bytes_total" not in known:
        errors.append("found no exported metric names in daemon/metrics/*.cc")

    rules = open(os.path.join(root, "deploy/prometheus/vnet-alerts.yml")).read()
    exprs = [("vnet-alerts.yml", m) for m in re.findall(r"expr:\s*(?:>-\s*)?([^\n]+(?:\n\s{12,}[^\n]+)*)", rules)]

    dash = json.load(open(os.path.join(root, "deploy/grafana/vnet-dashboard.json")))
    ids = []
    for panel in dash["panels"]:
        ids.append(panel["id"])
        if panel["type"] == "row":
            continue
        if not panel.get("targets"):
            errors.append(f"dashboard panel '{panel['title']}' has no query")
        for t in panel.get("targets", []):
            exprs.append((f"dashboard '{panel['title']}'", t["expr"]))
    for v in dash["templating"]["list"]:
        if v["type"] == "query":
            exprs.append((f"dashboard variable {v['name']}", v["definition"]))
    if len(ids) != len(set(ids)):
        errors.append("dashboard panel ids are not unique")
    if not exprs:
        errors.append("no expressions found")

    for where, expr in exprs:
        for name in NAME.findall(expr):
            if name not in known:
                errors.append(f"{where}: {name} is not exported by vnetd")
    for e in errors:
        print("FAIL:", e)
    print(f"checked {len(exprs)} expressions against {len(known)} exported names")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
