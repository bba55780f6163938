#!/usr/bin/python3
"""The Grafana dashboard against Grafana's dashboard model for the schemaVersion it
declares, without a Grafana: deploy/grafana/vnet-dashboard.json must pass, and copies of it
with one mistake each must fail, naming the mistake (so the checker is known to catch it).

What is checked:
  schema    grafana_dashboard_v37.schema.json (JSON Schema, python3-jsonschema): field
            types and bounds, required fields of the dashboard, panels, rows, targets,
            variables, thresholds; panel types among Grafana's built-in panel plugins;
            schemaVersion 37 itself (another version needs its own schema file)
  refs      every datasource reference (panels, targets, variables, annotations) names a
            datasource variable of the dashboard (uid "${name}") or an __inputs entry
            ("${DS_...}") of the same plugin type; legacy string references (migrated away
            at schemaVersion 36) are refused; `$name` in a query names a variable or one
            of Grafana's built-ins
  ids       panel ids unique across the dashboard, rows' panels included; refIds unique
            within a panel; variable names unique
  layout    no two panels overlap on the 24-column grid (top level, and the panels of each
            collapsed row among themselves), a row's panels sit below it and above the
            next row, nothing is wider than 24 columns

Queries are not evaluated here: metrics_dashboard_e2e runs them against a real Prometheus.

    dashboard_schema.py SOURCE_DIR
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys

import jsonschema  # Debian's python3-jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = {37: os.path.join(HERE, "grafana_dashboard_v37.schema.json")}
# Grafana's own variables, usable in any query.
BUILTIN_VARS = {"__interval", "__interval_ms", "__rate_interval", "__range", "__range_s",
                "__range_ms", "__dashboard", "__from", "__to", "__all", "__name", "__org",
                "__user", "timeFilter", "__timeFilter"}
GRID_COLUMNS = 24


def schema_errors(d: dict) -> list:
    version = d.get("schemaVersion")
    if version not in SCHEMAS:
        return [f"schemaVersion {version!r}: no schema here for it (have {sorted(SCHEMAS)})"]
    with open(SCHEMAS[version]) as f:
        schema = json.load(f)
    v = jsonschema.Draft7Validator(schema)
    out = []
    for e in sorted(v.iter_errors(d), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in e.absolute_path) or "(top)"
        # For if/then/else a failing branch reports its own errors as context.
        causes = [c.message for c in e.context] if e.context else []
        out.append(f"schema: {where}: {e.message}" + (f" ({'; '.join(causes[:3])})"
                                                       if causes else ""))
    return out


def all_panels(d: dict):
    """(path, panel) for every panel, rows' nested panels included."""
    for i, p in enumerate(d.get("panels", [])):
        yield f"panels/{i}", p
        if isinstance(p, dict):
            for j, q in enumerate(p.get("panels", []) or []):
                yield f"panels/{i}/panels/{j}", q


def ref_errors(d: dict) -> list:
    out = []
    variables = d.get("templating", {}).get("list", [])
    names = [v.get("name") for v in variables if isinstance(v, dict)]
    for n in {n for n in names if names.count(n) > 1}:
        out.append(f"ids: variable name {n!r} is used {names.count(n)} times")
    # uid "${name}" -> plugin type it stands for
    sources = {f"${{{v['name']}}}": v.get("query") for v in variables
               if isinstance(v, dict) and v.get("type") == "datasource" and "name" in v}
    sources.update({f"${{{i['name']}}}": i.get("pluginId") for i in d.get("__inputs", [])
                    if isinstance(i, dict) and "name" in i})

    def check_ref(where: str, ref) -> None:
        if ref is None:
            return
        if not isinstance(ref, dict):
            out.append(f"refs: {where}: datasource {ref!r} is a legacy string reference "
                       f"(schemaVersion 36+ needs {{type, uid}})")
            return
        uid, typ = ref.get("uid"), ref.get("type")
        if uid not in sources:
            out.append(f"refs: {where}: datasource uid {uid!r} is no datasource variable or "
                       f"input of the dashboard (have {sorted(sources)})")
        elif typ != sources[uid]:
            out.append(f"refs: {where}: datasource type {typ!r} but {uid} is a "
                       f"{sources[uid]!r} datasource")

    known = set(names) | BUILTIN_VARS

    def check_vars(where: str, text) -> None:
        if not isinstance(text, str):
            return
        for m in re.finditer(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))", text):
            name = m.group(1) or m.group(2)
            if name not in known:
                out.append(f"refs: {where}: ${name} is no variable of the dashboard")

    for i, v in enumerate(variables):
        if isinstance(v, dict) and v.get("type") != "datasource":
            check_ref(f"templating/list/{i} ({v.get('name')})", v.get("datasource"))
            q = v.get("query")
            check_vars(f"templating/list/{i}", q.get("query") if isinstance(q, dict) else q)
    for i, a in enumerate(d.get("annotations", {}).get("list", [])):
        if isinstance(a, dict) and not a.get("builtIn"):
            check_ref(f"annotations/list/{i}", a.get("datasource"))
    for where, p in all_panels(d):
        if not isinstance(p, dict):
            continue
        check_ref(f"{where} ({p.get('title')})", p.get("datasource"))
        refids = []
        for k, t in enumerate(p.get("targets", []) or []):
            if isinstance(t, dict):
                check_ref(f"{where}/targets/{k}", t.get("datasource"))
                check_vars(f"{where}/targets/{k}", t.get("expr"))
                refids.append(t.get("refId"))
        for r in {r for r in refids if refids.count(r) > 1}:
            out.append(f"ids: {where} ({p.get('title')}): refId {r!r} is used "
                       f"{refids.count(r)} times")
    return out


def id_errors(d: dict) -> list:
    seen, out = {}, []
    for where, p in all_panels(d):
        if isinstance(p, dict) and "id" in p:
            if p["id"] in seen:
                out.append(f"ids: panel id {p['id']} of {where} ({p.get('title')}) is also "
                           f"{seen[p['id']]}")
            else:
                seen[p["id"]] = f"{where} ({p.get('title')})"
    return out


def _box(p: dict):
    g = p.get("gridPos")
    if not isinstance(g, dict) or not all(isinstance(g.get(k), int) for k in "hwxy"):
        return None
    return g["x"], g["y"], g["w"], g["h"]


def _overlaps(items: list) -> list:
    out = []
    boxes = [(w, p, _box(p)) for w, p in items if isinstance(p, dict)]
    boxes = [(w, p, b) for w, p, b in boxes if b is not None]
    for i, (w1, p1, (x1, y1, wd1, h1)) in enumerate(boxes):
        if x1 + wd1 > GRID_COLUMNS:
            out.append(f"layout: {w1} ({p1.get('title')}) reaches column {x1 + wd1} of "
                       f"{GRID_COLUMNS}")
        for w2, p2, (x2, y2, wd2, h2) in boxes[i + 1:]:
            if x1 < x2 + wd2 and x2 < x1 + wd1 and y1 < y2 + h2 and y2 < y1 + h1:
                out.append(f"layout: {w1} ({p1.get('title')}) overlaps {w2} "
                           f"({p2.get('title')})")
    return out


def layout_errors(d: dict) -> list:
    top = [(f"panels/{i}", p) for i, p in enumerate(d.get("panels", []))]
    out = _overlaps(top)
    rows = [(i, p) for i, p in enumerate(d.get("panels", []))
            if isinstance(p, dict) and p.get("type") == "row" and _box(p)]
    for i, row in rows:
        if not row.get("collapsed"):
            if row.get("panels"):
                out.append(f"layout: panels/{i} ({row.get('title')}) is expanded but holds "
                           f"panels (an expanded row's panels follow it at the top level)")
            continue
        inner = [(f"panels/{i}/panels/{j}", q) for j, q in enumerate(row.get("panels", []))]
        out += _overlaps(inner)
        below = _box(row)[1] + 1
        for w, q in inner:
            b = _box(q) if isinstance(q, dict) else None
            if b and b[1] < below:
                out.append(f"layout: {w} ({q.get('title')}) sits above its row")
    return out


def problems(d: dict) -> list:
    if not isinstance(d, dict):
        return ["schema: (top): not a JSON object"]
    return schema_errors(d) + ref_errors(d) + id_errors(d) + layout_errors(d)


# ---- the checker's own test: one mistake at a time -----------------------------------
def _panel(d, title):
    return next(p for _, p in all_panels(d) if p.get("title") == title)


def mutations(d: dict):
    """(what, expected substring of a problem, mutate(copy)) for each kind of mistake."""
    first = next(p for _, p in all_panels(d) if p.get("type") not in ("row", None))
    second = [p for _, p in all_panels(d) if p.get("type") == "timeseries"][1]
    t1 = first["title"]
    yield ("a string where gridPos wants an integer", "is not of type 'integer'",
           (lambda c: _panel(c, t1)["gridPos"].update(h="8")))
    yield ("a string where editable wants a boolean", "is not of type 'boolean'",
           (lambda c: c.update(editable="yes")))
    yield ("a panel type Grafana does not have", "'timeseriez' is not one of",
           (lambda c: _panel(c, t1).update(type="timeseriez")))
    yield ("a panel without its type", "'type' is a required property",
           (lambda c: _panel(c, t1).pop("type")))
    yield ("a panel without gridPos", "'gridPos' is a required property",
           (lambda c: _panel(c, t1).pop("gridPos")))
    yield ("a target without refId", "'refId' is a required property",
           (lambda c: _panel(c, t1)["targets"][0].pop("refId")))
    yield ("a row without collapsed", "'collapsed' is a required property",
           (lambda c: next(p for p in c["panels"] if p.get("type") == "row")
                .pop("collapsed")))
    yield ("another schemaVersion", "schemaVersion 36",
           (lambda c: c.update(schemaVersion=36)))
    yield ("a hidden legend (migrated to showLegend at 37)", "'hidden' is not one of",
           (lambda c: _panel(c, second["title"])["options"].setdefault("legend", {})
                .update(displayMode="hidden")))
    yield ("a threshold step without a color", "'color' is a required property",
           (lambda c: [p for _, p in all_panels(c) if p.get("type") == "stat"][0]
                ["fieldConfig"]["defaults"]["thresholds"]["steps"][0].pop("color")))
    yield ("a panel datasource uid that does not exist", "uid '${prom}' is no datasource",
           (lambda c: _panel(c, t1).update(datasource={"type": "prometheus",
                                                            "uid": "${prom}"})))
    yield ("a target datasource of the wrong type", "but ${datasource} is a 'prometheus'",
           (lambda c: _panel(c, t1)["targets"][0].update(
               datasource={"type": "loki", "uid": "${datasource}"})))
    yield ("a legacy string datasource", "legacy string reference",
           (lambda c: _panel(c, t1).update(datasource="Prometheus")))
    yield ("a query naming a variable that does not exist", "$dom0 is no variable",
           (lambda c: _panel(c, t1)["targets"][0].update(
               expr=_panel(c, t1)["targets"][0]["expr"].replace("$instance", "$dom0"))))
    yield ("two panels with one id", f"panel id {first['id']} of",
           (lambda c: _panel(c, second["title"]).update(id=first["id"])))
    yield ("two targets with one refId", "refId 'A' is used 2 times",
           (lambda c: _panel(c, t1)["targets"].append(
               dict(_panel(c, t1)["targets"][0]))))
    yield ("two panels on one spot", "overlaps",
           (lambda c: _panel(c, second["title"]).update(
               gridPos=dict(_panel(c, t1)["gridPos"]))))
    yield ("a panel wider than the grid", "reaches column",
           (lambda c: _panel(c, second["title"])["gridPos"].update(x=20)))
    yield ("a row panel that is not a full-width line", "24 was expected",
           (lambda c: next(p for p in c["panels"] if p.get("type") == "row")
                ["gridPos"].update(w=12)))


def main() -> int:
    src = os.path.abspath(sys.argv[1])
    path = os.path.join(src, "deploy", "grafana", "vnet-dashboard.json")
    with open(path) as f:
        d = json.load(f)
    failed = False
    found = problems(d)
    if found:
        failed = True
        print(f"FAIL: {path} against Grafana's schemaVersion {d.get('schemaVersion')}:")
        for p in found:
            print(f"  {p}")
    else:
        print(f"  ok: {os.path.relpath(path, src)}: schemaVersion {d['schemaVersion']}, "
              f"{sum(1 for _ in all_panels(d))} panels, "
              f"{len(d.get('templating', {}).get('list', []))} variables")
    for what, expect, mutate in mutations(d):
        c = copy.deepcopy(d)
        mutate(c)
        got = problems(c)
        if any(expect in p for p in got):
            hit = next(p for p in got if expect in p)
            print(f"  ok: caught {what}: {hit[:150]}")
        else:
            failed = True
            print(f"FAIL: {what} not caught (expected {expect!r}); problems: {got[:3]}")
    print("FAIL" if failed else "PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
