"""Results: latest.json, a markdown table with every figure beside the baseline's (and the
ratio) and the ceiling's, and a PNG chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Row = dict[str, Any]
Rows = list[Row]


def find(rows: Rows, scenario: str, asgi: str, target: str, variant: str = "") -> dict[str, Any]:
    for row in rows:
        if (row["scenario"], row["asgi"], row["target"], row["variant"]) == (
            scenario,
            asgi,
            target,
            variant,
        ):
            return row
    if target == "bare":  # bare runs on its own server: take it from any ASGI pass
        for row in rows:
            if (row["scenario"], row["target"], row["variant"]) == (scenario, target, variant):
                return row
    return {}


def ratio(a: Any, b: Any) -> float | None:
    if isinstance(a, int | float) and isinstance(b, int | float) and b:
        return round(a / b, 2)
    return None


def summary(data: dict[str, Any]) -> Rows:
    """One line per figure: site, tutorial, site/tutorial, bare, site/bare, target, met."""
    rows, lines = data["results"], []
    asgis = data["config"]["servers"]

    def line(what: str, asgi: str, site: Any, tut: Any, bare: Any, target: str, met: Any):
        lines.append(
            {
                "figure": what,
                "asgi": asgi,
                "site": site,
                "tutorial": tut,
                "site_vs_tutorial": ratio(site, tut),
                "bare": bare,
                "site_vs_bare": ratio(site, bare),
                "target": target,
                "met": met,
            }
        )

    for asgi in asgis:
        s, t, b = (find(rows, "burst", asgi, x) for x in ("site", "tutorial", "bare"))
        if s:
            r_t, r_b = (
                ratio(s["deliveries_per_s"], t.get("deliveries_per_s")),
                ratio(s["deliveries_per_s"], b.get("deliveries_per_s")),
            )
            if asgi == "daphne":
                target, met = ">= 5x tutorial, 0 lost", (r_t or 0) >= 5 and s["lost"] == 0
            elif asgi == "uvicorn":
                target, met = ">= 0.7x bare, 0 lost", (r_b or 0) >= 0.7 and s["lost"] == 0
            else:
                target, met = "", None
            line(
                "burst deliveries/s",
                asgi,
                s["deliveries_per_s"],
                t.get("deliveries_per_s"),
                b.get("deliveries_per_s"),
                target,
                met,
            )
            line("burst lost", asgi, s["lost"], t.get("lost"), b.get("lost"), "0", s["lost"] == 0)
            for key in ("p50_ms", "p99_ms"):
                line(f"burst latency {key[:3]} ms", asgi, s[key], t.get(key), b.get(key), "", None)
        s, t, b = (find(rows, "paced", asgi, x) for x in ("site", "tutorial", "bare"))
        if s:
            for key in ("p50_ms", "p99_ms", "max_ms"):
                target, met = "", None
                if key == "p99_ms":
                    r = ratio(s[key], b.get(key))
                    target, met = "<= 2x bare", r is not None and r <= 2
                line(
                    f"paced latency {key[:-3]} ms",
                    asgi,
                    s[key],
                    t.get(key),
                    b.get(key),
                    target,
                    met,
                )
            line("paced lost", asgi, s["lost"], t.get("lost"), b.get("lost"), "0", s["lost"] == 0)
        s, t, b = (find(rows, "idle", asgi, x) for x in ("site", "tutorial", "bare"))
        if s:
            k = "kib_per_connection"
            line(
                f"idle KiB/connection ({s['connections']})",
                asgi,
                s[k],
                t.get(k),
                b.get(k),
                "<= 20",
                s[k] <= 20,
            )
        for target_name in ("site", "tutorial", "bare"):
            c = find(rows, "slow", asgi, target_name, "control")
            st = find(rows, "slow", asgi, target_name, "stalled")
            if c and st:
                st["_ratio"] = ratio(st["deliveries_per_s"], c["deliveries_per_s"])
        s, t, b = (find(rows, "slow", asgi, x, "stalled") for x in ("site", "tutorial", "bare"))
        if s:
            line(
                "slow: room rate with stalled / without",
                asgi,
                s.get("_ratio"),
                t.get("_ratio"),
                b.get("_ratio"),
                ">= 0.8",
                (s.get("_ratio") or 0) >= 0.8,
            )
            line(
                f"slow: stalled clients disconnected (of {s['stalled']})",
                asgi,
                s["stalled_disconnected"],
                t.get("stalled_disconnected"),
                b.get("stalled_disconnected"),
                "all",
                s["stalled_disconnected"] == s["stalled"],
            )
            lost = s["lost"] + s["stalled_lost"]
            line(
                "slow: lost after resume (all clients)",
                asgi,
                lost,
                t.get("lost", 0) + t.get("stalled_lost", 0) if t else None,
                b.get("lost", 0) + b.get("stalled_lost", 0) if b else None,
                "0",
                lost == 0,
            )
        sizes = data["config"]["history_sizes"]
        small, big = (find(rows, "history", asgi, "site", str(n)) for n in sizes)
        if small and big:
            for where in ("end", "middle"):
                key = f"{where}_p50_ms"
                r = ratio(big[key], small[key])
                lines.append(
                    {
                        "figure": f"history page p50 ms, {where}: {sizes[1]:,} vs {sizes[0]:,}",
                        "asgi": asgi,
                        "site": big[key],
                        "tutorial": None,
                        "site_vs_tutorial": None,
                        "bare": None,
                        "site_vs_bare": None,
                        "small": small[key],
                        "big_vs_small": r,
                        "target": "<= 1.3x",
                        "met": r is not None and r <= 1.3,
                    }
                )
        for target_name in ("site", "tutorial"):
            one = find(rows, "cross", asgi, target_name, "1proc")
            two = find(rows, "cross", asgi, target_name, "2proc")
            if one and two:
                r = ratio(two["deliveries_per_s"], one["deliveries_per_s"])
                lines.append(
                    {
                        "figure": f"Redis, 2 processes vs 1: deliveries/s ({target_name})",
                        "asgi": asgi,
                        "site" if target_name == "site" else "tutorial": r,
                        "one": one["deliveries_per_s"],
                        "two": two["deliveries_per_s"],
                        "lost": one["lost"] + two["lost"],
                        "target": ">= 1.6x" if target_name == "site" else "",
                        "met": (r or 0) >= 1.6 if target_name == "site" else None,
                    }
                )
                if one.get("client_cpu_us_per_delivery") is not None:
                    lines.append(cpu_line(asgi, target_name, one, two))
    return lines


def cpu_line(asgi: str, target: str, one: Row, two: Row) -> Row:
    """CPU per delivery of the servers and of the load clients (receivers and sender), one
    process against two: what a delivery costs, whatever share of the cores each part got.
    On a machine whose cores all run the servers and their load clients, throughput cannot
    pass cores / (server + clients) per delivery."""

    def text(row: Row) -> str:
        server, clients = row["server_cpu_us_per_delivery"], row["client_cpu_us_per_delivery"]
        return f"{server:.1f} + {clients:.1f}"

    total = [r["server_cpu_us_per_delivery"] + r["client_cpu_us_per_delivery"] for r in (one, two)]
    return {
        "figure": f"Redis, CPU µs per delivery, server + load clients ({target})",
        "asgi": asgi,
        "site" if target == "site" else "tutorial": ratio(total[1], total[0]),
        "one": text(one),
        "two": text(two),
        "target": "",
        "met": None,
    }


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown(data: dict[str, Any], lines: Rows) -> str:
    meta = data["meta"]
    out = [
        f"Run {meta['started']} ({data['config']['name']}), commit {meta['commit']}, "
        f"{meta['cpus']} CPUs ({meta['cpu']}), Python {meta['python']}, "
        f"{meta['duration_s']} s, load average at the end {meta['load_avg_at_end']}.",
        "",
        "| figure | server | site | tutorial | site ÷ tutorial | bare | site ÷ bare "
        "| target | met |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for ln in lines:
        if "big_vs_small" in ln:
            site = f"{fmt(ln['site'])} (vs {fmt(ln['small'])}: {fmt(ln['big_vs_small'])}x)"
            out.append(
                f"| {ln['figure']} | {ln['asgi']} | {site} | - | - | - | - | {ln['target']} "
                f"| {fmt(ln['met'])} |"
            )
            continue
        if "two" in ln:
            value = ln.get("site", ln.get("tutorial"))
            text = f"{fmt(ln['one'])} → {fmt(ln['two'])}: {fmt(value)}x"
            if "lost" in ln:
                text += f" (lost {ln['lost']})"
            site, tut = (text, "-") if "site" in ln else ("-", text)
            out.append(
                f"| {ln['figure']} | {ln['asgi']} | {site} | {tut} | - | - | - | {ln['target']} "
                f"| {fmt(ln['met'])} |"
            )
            continue
        out.append(
            f"| {ln['figure']} | {ln['asgi']} | {fmt(ln['site'])} | {fmt(ln['tutorial'])} | "
            f"{fmt(ln['site_vs_tutorial'])} | {fmt(ln['bare'])} | {fmt(ln['site_vs_bare'])} | "
            f"{ln['target']} | {fmt(ln['met'])} |"
        )
    return "\n".join(out) + "\n"


def chart(data: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = data["results"]
    asgis = data["config"]["servers"]
    panels = [
        ("burst", "deliveries_per_s", "burst fan-out: deliveries/s (higher is better)"),
        ("paced", "p99_ms", "paced 30 msg/s: p99 latency ms (lower is better)"),
        ("idle", "kib_per_connection", "idle: server KiB per connection (lower is better)"),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(15, 4.5))
    colours = {"site": "#2b7bb9", "tutorial": "#c0504d", "bare": "#9bbb59"}
    for ax, (scenario, key, title) in zip(axes, panels, strict=True):
        width = 0.25
        for i, target in enumerate(("site", "tutorial", "bare")):
            values = [find(rows, scenario, a, target).get(key) or 0 for a in asgis]
            xs = [j + (i - 1) * width for j in range(len(asgis))]
            bars = ax.bar(xs, values, width, label=target, color=colours[target])
            ax.bar_label(bars, labels=[fmt(round(v, 1)) for v in values], fontsize=7)
        ax.set_xticks(range(len(asgis)), asgis)
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"chat site vs Channels tutorial vs bare websockets ({data['meta']['started']})")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write(data: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    lines = summary(data)
    data["summary"] = lines
    for row in data["results"]:
        row.pop("_ratio", None)
    paths = {
        "json": out_dir / "latest.json",
        "markdown": out_dir / "latest.md",
        "png": out_dir / "latest.png",
    }
    paths["json"].write_text(json.dumps(data, indent=1) + "\n")
    paths["markdown"].write_text(markdown(data, lines))
    chart(data, paths["png"])
    return paths
