"""Renders the Grafana dashboard's panels to one PNG from Prometheus range
queries saved by the stack test (tests/e2e/prometheus_stack_test.cc with
INFINI_DASHBOARD_DUMP=DIR): DIR/dashboard.json and DIR/<panel id>-<refId>.json,
each a /api/v1/query_range response. A picture of what an operator sees, for
docs/deployment.md; it is not Grafana's own rendering.

    /usr/bin/python3 tools/dashboard/render_dashboard.py DIR OUT.png
"""

from __future__ import annotations

import json
import math
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLUMNS = 4


def legend(fmt: str, metric: dict) -> str:
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: metric.get(m.group(1), ""), fmt or "")
    return text or ", ".join(f"{k}={v}" for k, v in metric.items() if k != "__name__") or "value"


def scale(unit: str, values):
    """Values in a readable unit for the axis label."""
    top = max((abs(v) for v in values if not math.isnan(v)), default=0.0)
    if unit == "bytes":
        for factor, name in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
            if top >= factor:
                return [v / factor for v in values], name
        return values, "B"
    if unit == "s" and 0 < top < 1:
        return [v * 1e3 for v in values], "ms"
    if unit == "percentunit":
        return [v * 100 for v in values], "%"
    return values, {"reqps": "req/s", "short": "", "none": ""}.get(unit, unit)


def panels(dashboard: dict):
    for p in dashboard["panels"]:
        if p.get("type") == "row":
            continue
        yield p
        for inner in p.get("panels", []):
            yield inner


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    dump, out = sys.argv[1], sys.argv[2]
    with open(os.path.join(dump, "dashboard.json")) as f:
        dashboard = json.load(f)
    shown = sorted(panels(dashboard), key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"]))
    rows = math.ceil(len(shown) / COLUMNS)
    fig, axes = plt.subplots(rows, COLUMNS, figsize=(4.2 * COLUMNS, 2.6 * rows), squeeze=False)
    start = None
    missing = []
    for ax, panel in zip(axes.flat, shown):
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
        label_unit = ""
        for target in panel.get("targets", []):
            path = os.path.join(dump, f"{panel['id']}-{target['refId']}.json")
            if not os.path.exists(path):
                missing.append(path)
                continue
            with open(path) as f:
                result = json.load(f)["data"]["result"]
            for series in result:
                times = [float(t) for t, _ in series["values"]]
                values = [float(v) for _, v in series["values"]]
                if start is None or (times and times[0] < start):
                    start = times[0] if times else start
                values, label_unit = scale(unit, values)
                ax.plot([t - times[0] for t in times] if times else [], values,
                        label=legend(target.get("legendFormat", ""), series["metric"]), linewidth=1.2)
        ax.set_title(panel["title"], fontsize=9)
        ax.set_ylabel(label_unit, fontsize=7)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        if 1 < len(labels) <= 8:
            ax.legend(fontsize=5.5, loc="best")
    for ax in list(axes.flat)[len(shown):]:
        ax.axis("off")
    fig.suptitle(f"{dashboard.get('title', 'dashboard')}: panels from the stack test's Prometheus "
                 "(x: seconds into the traffic)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.savefig(out, dpi=80)
    if missing:
        print(f"render_dashboard: {len(missing)} query results missing, e.g. {missing[0]}",
              file=sys.stderr)
        return 1
    print(f"render_dashboard: wrote {out} ({len(shown)} panels)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
