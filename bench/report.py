"""Results: latest.json, a markdown table with every figure beside the baseline's (and the
ratio) and the ceiling's, and a PNG chart."""

from __future__ import annotations

import json
import statistics
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
        lines += scaling_lines(rows, asgi)
        lines += room_life_lines(rows, asgi)
        lines += formatted_lines(rows, asgi)
        lines += v2_lines(rows, asgi)
        lines += bigroom_lines(rows, asgi)
    lines += render_lines(rows)
    lines += search_lines(rows)
    return lines


def _search_backends(rows: Rows) -> list[str]:
    return list(dict.fromkeys(r["target"] for r in rows if r["scenario"] == "search"))


def search_lines(rows: Rows) -> Rows:
    """The search scenario's three targets (issue #16), per backend."""
    lines: Rows = []
    for backend in _search_backends(rows):
        mine = [r for r in rows if (r["scenario"], r["target"]) == ("search", backend)]
        queries = [r for r in mine if r["variant"] == "query"]

        def text(what: str, value: str, target: str, met: Any, backend: str = backend) -> Row:
            return {
                "figure": f"search: {what}",
                "asgi": backend,
                "text": value,
                "target": target,
                "met": met,
            }

        if queries:
            size = queries[0]["size"]
            worst = max(queries, key=lambda r: r["p50_ms"] or float("inf"))
            under = sum(r["p50_ms"] is not None and r["p50_ms"] < 100 for r in queries)
            slowest = (
                f"{worst['p50_ms']:g}"
                if worst["p50_ms"] is not None
                else f"> {worst['timed_out_s']:g} s (cut short)"
            )
            lines.append(
                text(
                    f"search() p50 ms over {size:,} messages, slowest of {len(queries)}",
                    f"{slowest} ({worst['kind']}, {worst['sort']}, "
                    f"{'room' if worst['room_filter'] else 'all rooms'}); "
                    f"{under} of {len(queries)} under 100 ms",
                    "< 100 ms p50" + (" (the issue's target)" if backend == "postgresql" else ""),
                    under == len(queries),
                )
            )
        posts = {
            v: [r["median_us"] for r in mine if r["variant"] == "post" and r["index"] == v]
            for v in ("indexed", "unindexed")
        }
        if posts["indexed"] and posts["unindexed"]:
            with_i = statistics.median(posts["indexed"])
            without = statistics.median(posts["unindexed"])
            r = ratio(with_i, without)
            cpu = {
                v: statistics.median(
                    r["client_cpu_us"] for r in mine if r["variant"] == "post" and r["index"] == v
                )
                for v in ("indexed", "unindexed")
            }
            server = {
                v: [
                    r["server_cpu_us"]
                    for r in mine
                    if r["variant"] == "post" and r["index"] == v and r.get("server_cpu_us")
                ]
                for v in ("indexed", "unindexed")
            }
            if server["indexed"] and server["unindexed"]:
                a, b = statistics.median(server["indexed"]), statistics.median(server["unindexed"])
                lines.append(
                    text(
                        "a post's PostgreSQL server CPU µs, with the index ÷ without",
                        f"{fmt(round(b))} → {fmt(round(a))}: {fmt(ratio(a, b))}x",
                        "",
                        None,
                    )
                )
            lines.append(
                text(
                    "a post's median µs, with the index ÷ without",
                    f"{fmt(round(without))} → {fmt(round(with_i))}: {fmt(r)}x (poster's CPU "
                    f"{fmt(round(cpu['unindexed']))} → {fmt(round(cpu['indexed']))}: "
                    f"{fmt(ratio(cpu['indexed'], cpu['unindexed']))}x)",
                    "<= 1.15x",
                    r is not None and r <= 1.15,
                )
            )
        exports = [r for r in mine if r["variant"] == "export"]
        if exports:
            size = max(r["size"] for r in exports)
            big = {r["format"]: r for r in exports if r["size"] == size}
            small = {r["format"]: r for r in exports if r["size"] != size}
            parts = [f"{f} {fmt(big[f]['messages_per_s'])}/s" for f in big]
            if small:
                parts += [
                    f"peak RSS {f} {fmt(small[f]['peak_rss_mib'])} → "
                    f"{fmt(big[f]['peak_rss_mib'])} MiB"
                    for f in big
                    if f in small
                ]
            lines.append(
                text(
                    f"export_room messages/s of {size:,}",
                    "; ".join(parts),
                    ">= 50,000/s",
                    all(b["messages_per_s"] >= 50_000 for b in big.values()),
                )
            )
    return lines


def search_table(rows: Rows) -> list[str]:
    out: list[str] = []
    for backend in _search_backends(rows):
        mine = [r for r in rows if (r["scenario"], r["target"]) == ("search", backend)]
        queries = [r for r in mine if r["variant"] == "query"]
        if queries:
            out += [
                "",
                f"search, {backend}: `chat.search.search` over {queries[0]['size']:,} messages "
                "(ms; hits at most 50)",
                "",
                "| kind | q | rooms | sort | hits | p50 ms | p95 ms | CPU p50 ms | samples |",
                "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
            ]
            for r in queries:
                rooms = "the room" if r["room_filter"] else "all"
                if r["p50_ms"] is None:
                    out.append(
                        f"| {r['kind']} | `{r['q']}` | {rooms} | {r['sort']} | - | "
                        f"> {r['timed_out_s']:g} s, cut short | - | - | 0 |"
                    )
                    continue
                out.append(
                    f"| {r['kind']} | `{r['q']}` | {rooms} | {r['sort']} | {r['hits']} | "
                    f"{fmt(r['p50_ms'])} | {fmt(r['p95_ms'])} | {fmt(r['cpu_p50_ms'])} | "
                    f"{r['samples']} |"
                )
        exports = [r for r in mine if r["variant"] == "export"]
        if exports:
            out += [
                "",
                f"export_room, {backend} (to /dev/null; the command's own process, Django's "
                "start included; the database server's CPU not included)",
                "",
                "| messages | format | wall s | CPU s | messages/s | messages per CPU s "
                "| peak RSS MiB |",
                "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
            ]
            for r in exports:
                out.append(
                    f"| {fmt(r['size'])} | {r['format']} | {fmt(r['wall_s'])} | "
                    f"{fmt(r['cpu_s'])} | {fmt(r['messages_per_s'])} | "
                    f"{fmt(r['messages_per_cpu_s'])} | {fmt(r['peak_rss_mib'])} |"
                )
        posts = [r for r in mine if r["variant"] == "post"]
        if posts:
            out += [
                "",
                f"post_messages, {backend}: one message per call, in alternating runs",
                "",
                "| index | pass | pair | posts | median µs | mean µs | p95 µs | poster CPU µs "
                "| server CPU µs |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            ]
            for r in posts:
                out.append(
                    f"| {r['index']} | {r.get('pass', 1)} | {r['pair']} | {r['posts']} | "
                    f"{fmt(r['median_us'])} | {fmt(r['mean_us'])} | {fmt(r['p95_us'])} | "
                    f"{fmt(r['client_cpu_us'])} | {fmt(r.get('server_cpu_us'))} |"
                )
        for r in mine:
            if r["variant"] == "seed":
                out += ["", f"seed, {backend}: {json.dumps(r['seconds'])} s, wall {r['wall_s']} s"]
    return out


def search_plans(rows: Rows) -> str:
    out = []
    for r in rows:
        if r["scenario"] == "search" and r.get("plan"):
            rooms = "the room" if r["room_filter"] else "all rooms"
            out += [
                f"== {r['target']}: {r['kind']} {r['q']!r}, {rooms}, {r['sort']}: "
                f"p50 {r['p50_ms'] or 'cut short'} ms",
                r.get("sql", ""),
                r["plan"],
                "",
            ]
    return "\n".join(out)


def _median(runs: Rows, key: str, digits: int = 1) -> float | None:
    values = [r[key] for r in runs if isinstance(r.get(key), int | float)]
    return round(statistics.median(values), digits) if values else None


def formatted_lines(rows: Rows, asgi: str) -> Rows:
    """The formatted scenario: the burst's deliveries/s with Markdown-heavy bodies against
    prose of the same length, as medians of the runs of each variant (alternated in the same
    run), and what each message carried."""
    return paired_lines(rows, asgi, "formatted", ("plain", "formatted"))


def v2_lines(rows: Rows, asgi: str) -> Rows:
    """The v2 scenario: the burst as version 2 lives it (home sockets, churn, typists,
    Markdown) against the plain burst, as medians of the runs of each variant, and the
    user's stream's frames per home socket."""
    out = paired_lines(rows, asgi, "v2", ("plain", "v2"))
    full = [r for r in rows if (r["scenario"], r["asgi"], r["variant"]) == ("v2", asgi, "v2")]
    if out and full:
        out.append(
            {
                "figure": "v2: per socket during a v2 burst",
                "asgi": asgi,
                "text": f"unread {fmt(_median(full, 'unread_per_home'))} (home socket), "
                f"presence {fmt(_median(full, 'presence_per_socket'))}, "
                f"typing {fmt(_median(full, 'typing_per_socket'))}; churn "
                f"{fmt(_median(full, 'churn_arrivals_per_s', 2))} arrivals/s",
                "target": "",
            }
        )
    return out


def paired_lines(rows: Rows, asgi: str, scenario: str, variants: tuple[str, str]) -> Rows:
    """A scenario of alternated pairs (plain and a variant): the ratio of their medians,
    each run in order, latency, and CPU per delivery."""
    base, other = variants
    runs = {
        v: [r for r in rows if (r["scenario"], r["asgi"], r["variant"]) == (scenario, asgi, v)]
        for v in variants
    }
    plain, rich = runs[base], runs[other]
    if not plain or not rich:
        return []

    def text(what: str, value: str) -> Row:
        return {"figure": f"{scenario}: {what}", "asgi": asgi, "text": value, "target": ""}

    n, m = plain[0]["receivers"], plain[0]["messages"]
    rate = ratio(_median(rich, "deliveries_per_s"), _median(plain, "deliveries_per_s"))
    lost = sum(r["lost"] + r["dup"] for r in plain + rich)
    arrow = f"{base} → {other}"
    out = [
        {
            "figure": f"{scenario}: burst deliveries/s, {arrow} ({n:,} sockets x "
            f"{m:,} messages, medians of {len(plain)} + {len(rich)})",
            "asgi": asgi,
            "site": rate,
            "one": _median(plain, "deliveries_per_s"),
            "two": _median(rich, "deliveries_per_s"),
            "lost": lost,
            "target": ">= 0.9x, 0 lost",
            "met": rate is not None and rate >= 0.9 and lost == 0,
        },
        text(
            "each run's deliveries/s, in order",
            ", ".join(
                f"{r['variant']} {fmt(r['deliveries_per_s'])}"
                for r in rows
                if (r["scenario"], r["asgi"]) == (scenario, asgi)
            ),
        ),
    ]
    for key in ("p50_ms", "p99_ms"):
        out.append(
            text(
                f"burst latency {key[:3]} ms, {arrow}",
                f"{fmt(_median(plain, key))} → {fmt(_median(rich, key))}",
            )
        )
    if "body_chars" in plain[0]:
        out.append(
            text(
                f"a message's body and html, chars, {arrow}",
                f"body {plain[0]['body_chars']} → {rich[0]['body_chars']}, "
                f"html {plain[0]['html_chars']} → {rich[0]['html_chars']}",
            )
        )
    if _median(plain, "client_cpu_us_per_delivery") is not None:
        out.append(
            text(
                f"CPU µs per delivery, server + load clients, {arrow}",
                f"{fmt(_median(plain, 'server_cpu_us_per_delivery'))} + "
                f"{fmt(_median(plain, 'client_cpu_us_per_delivery'))} → "
                f"{fmt(_median(rich, 'server_cpu_us_per_delivery'))} + "
                f"{fmt(_median(rich, 'client_cpu_us_per_delivery'))}",
            )
        )
    return out


def bigroom_lines(rows: Rows, asgi: str) -> Rows:
    """The room of 10,000: the join storm, one message to all, the burst, memory."""
    row = find(rows, "bigroom", asgi, "site")
    if not row:
        return []
    n = row["receivers"]

    def line(what: str, value: str, target: str = "", met: bool | None = None) -> Row:
        return {
            "figure": f"room of {n:,}: {what}",
            "asgi": asgi,
            "text": value,
            "target": target,
            "met": met,
        }

    return [
        line(
            "join storm seconds (all at once)",
            fmt(row["join_seconds"]),
            "< 20 s, none refused or dropped",
            row["join_seconds"] < 20 and row["refused"] == 0 and row["dropped"] == 0,
        ),
        line(
            "joined, refused, dropped; CPU ms per join, server + load clients",
            f"{row['joined']:,}, {row['refused']}, {row['dropped']}; "
            f"{fmt(row['join_server_cpu_ms_per_socket'])} + "
            f"{fmt(row['join_clients_cpu_ms_per_socket'])}",
        ),
        line(
            "one message to all, p50 / p99 ms (CPU ms, server + load clients)",
            f"{fmt(row['alone_p50_ms'])} / {fmt(row['alone_p99_ms'])} "
            f"({fmt(row.get('alone_server_cpu_ms'))} + {fmt(row.get('alone_clients_cpu_ms'))})",
            "p99 < 300 ms",
            row["alone_p99_ms"] is not None
            and row["alone_p99_ms"] < 300
            and row["alone_received"] == row["joined"],
        ),
        line(
            f"burst of {row['messages']}: deliveries/s (lost, duplicated)",
            f"{fmt(row['deliveries_per_s'])} ({row['lost']}, {row['dup']})",
            "0 lost",
            row["lost"] == 0 and row["dup"] == 0,
        ),
        line(
            "CPU µs per delivery in the burst, server + load clients",
            f"{fmt(row['server_cpu_us_per_delivery'])} + {fmt(row['client_cpu_us_per_delivery'])}",
        ),
        line("RSS KiB per socket, in the room", fmt(row["kib_per_socket"])),
    ]


def render_lines(rows: Rows) -> Rows:
    """The render scenario's summary: plain prose, the slowest body, and the typical one
    (the full table is render_table)."""
    runs = [r for r in rows if r["scenario"] == "render"]
    if not runs:
        return []
    slowest = max(runs, key=lambda r: r["median_ms"])
    by_kind = {r["kind"]: r for r in runs}
    prose, typical = by_kind.get("plain prose"), by_kind.get("typical 1,000 chars")
    parts = [
        f"slowest `{slowest['kind']}` {fmt(round(slowest['median_ms'], 1))} "
        f"(max {fmt(round(slowest['max_ms'], 1))})"
    ]
    if prose:
        parts.append(f"plain prose {fmt(prose['median_ms'])}")
        parts.append(f"slowest ÷ prose {fmt(slowest['vs_prose'])}x")
    if typical:
        parts.append(f"typical 1,000 chars {fmt(typical['median_ms'])}")
    return [
        {
            "figure": f"render: 4,000-character bodies, median CPU ms ({runs[0]['repeats']} "
            "repeats)",
            "asgi": "-",
            "text": ", ".join(parts),
            "target": "linear in length",
        }
    ]


def render_table(rows: Rows) -> list[str]:
    runs = [r for r in rows if r["scenario"] == "render"]
    if not runs:
        return []
    out = [
        "",
        f"chat.formatting.render, in the bench's process ({runs[0]['repeats']} repeats each; "
        "CPU time of the rendering thread, and wall-clock time):",
        "",
        "| body | chars | median ms | max ms | µs per char | ÷ plain prose | wall median ms "
        "| wall max ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        kind = r["kind"].replace("|", "\\|")
        out.append(
            f"| `{kind}` | {r['chars']:,} | {r['median_ms']:.2f} | {r['max_ms']:.2f} | "
            f"{r['us_per_char']:.2f} | {fmt(r['vs_prose'])} | "
            f"{r.get('wall_median_ms', 0):.2f} | {r.get('wall_max_ms', 0):.2f} |"
        )
    return out


def room_life_lines(rows: Rows, asgi: str) -> Rows:
    """The roomlife scenario: the burst's deliveries/s with room life against without, as
    medians of the runs of each variant (alternated in the same run), and what room life
    there was."""
    runs = {
        v: [r for r in rows if (r["scenario"], r["asgi"], r["variant"]) == ("roomlife", asgi, v)]
        for v in ("plain", "life")
    }
    plain, life = runs["plain"], runs["life"]
    if not plain or not life:
        return []

    def med(runs: Rows, key: str, digits: int = 1) -> float | None:
        values = [r[key] for r in runs if isinstance(r.get(key), int | float)]
        return round(statistics.median(values), digits) if values else None

    def text(what: str, value: str) -> Row:
        return {"figure": f"room life: {what}", "asgi": asgi, "text": value, "target": ""}

    n = plain[0]["receivers"]
    rate = ratio(med(life, "deliveries_per_s"), med(plain, "deliveries_per_s"))
    lost = sum(r["lost"] + r["dup"] for r in plain + life)
    out = [
        {
            "figure": f"room life: burst deliveries/s, plain → life ({n:,} sockets, "
            f"medians of {len(plain)} + {len(life)})",
            "asgi": asgi,
            "site": rate,
            "one": med(plain, "deliveries_per_s"),
            "two": med(life, "deliveries_per_s"),
            "lost": lost,
            "target": ">= 0.9x, 0 lost",
            "met": rate is not None and rate >= 0.9 and lost == 0,
        },
        text(
            "each run's deliveries/s, in order",
            ", ".join(
                f"{r['variant']} {fmt(r['deliveries_per_s'])}"
                for r in rows
                if (r["scenario"], r["asgi"]) == ("roomlife", asgi)
            ),
        ),
    ]
    for key in ("p50_ms", "p99_ms"):
        out.append(
            text(
                f"burst latency {key[:3]} ms, plain → life",
                f"{fmt(med(plain, key))} → {fmt(med(life, key))}",
            )
        )
    for r in plain + life:  # per second of the burst, what a socket of the room gets
        for kind in ("presence", "typing"):
            r[f"_{kind}_rate"] = r[f"{kind}_per_socket"] / max(1e-9, r["seconds"])

    def frames(kind: str) -> str:
        return (
            f"{kind} {fmt(med(plain, f'{kind}_per_socket'))} → "
            f"{fmt(med(life, f'{kind}_per_socket'))} ({fmt(med(life, f'_{kind}_rate', 2))}/s)"
        )

    out.append(
        text(
            "frames per socket during the burst, plain → life",
            f"{frames('presence')}, {frames('typing')}",
        )
    )
    for r in plain + life:
        r.pop("_presence_rate"), r.pop("_typing_rate")
    out.append(
        text(
            f"churn and typists (life, {life[0]['typists']} typists)",
            f"{fmt(med(life, 'churn_arrivals_per_s', 2))} arrivals/s, "
            f"{fmt(med(life, 'churn_departures_per_s', 2))} departures/s, "
            f"{sum(r.get('churn_failed', 0) for r in life)} failed, handshake p50 "
            f"{fmt(med(life, 'churn_open_p50_ms'))} ms; "
            f"{sum(r['typing_sent'] for r in life)} typing frames sent",
        )
    )
    if med(plain, "client_cpu_us_per_delivery") is not None:
        out.append(
            text(
                "CPU µs per delivery, server + load clients, plain → life",
                f"{fmt(med(plain, 'server_cpu_us_per_delivery'))} + "
                f"{fmt(med(plain, 'client_cpu_us_per_delivery'))} → "
                f"{fmt(med(life, 'server_cpu_us_per_delivery'))} + "
                f"{fmt(med(life, 'client_cpu_us_per_delivery'))}",
            )
        )
    return out


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


def scaling_lines(rows: Rows, asgi: str) -> Rows:
    """The site's server CPU per delivery on 1, 2 and 4 processes sharing Redis (the cross
    scenario): what a delivery costs as the site scales out, which two cores can show even
    where throughput cannot grow."""
    runs = [find(rows, "cross", asgi, "site", f"{n}proc") for n in (1, 2, 4)]
    runs = [r for r in runs if r]
    if len(runs) < 3:
        return []
    cpu = [r["server_cpu_us_per_delivery"] for r in runs]
    ratios = [ratio(c, cpu[0]) for c in cpu[1:]]
    return [
        {
            "figure": "Redis, site server CPU µs per delivery, 1 → 2 → 4 processes",
            "asgi": asgi,
            "text": " → ".join(fmt(c) for c in cpu)
            + f": {fmt(ratios[0])}x, {fmt(ratios[1])}x (lost {sum(r['lost'] for r in runs)})",
            "target": "<= 1.1x",
            "met": all(r is not None and r <= 1.1 for r in ratios),
        }
    ]


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
        if "text" in ln:
            out.append(
                f"| {ln['figure']} | {ln['asgi']} | {ln['text']} | - | - | - | - | "
                f"{ln['target']} | {fmt(ln.get('met'))} |"
            )
            continue
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
    out += render_table(data["results"])
    out += search_table(data["results"])
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
    # Only the scenarios this run measured (a run may pick them with --scenarios).
    panels = [p for p in panels if any(r["scenario"] == p[0] for r in rows)]
    pairs = [
        (scenario, variants, title)
        for scenario, variants, title in (
            ("roomlife", ("plain", "life"), "room life: site burst deliveries/s, medians"),
            ("formatted", ("plain", "formatted"), "formatted: site burst deliveries/s, medians"),
        )
        if any(r["scenario"] == scenario for r in rows)
    ]
    render = [r for r in rows if r["scenario"] == "render"]
    count = max(1, len(panels) + len(pairs) + bool(render))
    fig, axes = plt.subplots(1, count, figsize=(max(8, 5 * count), 4.5))
    axes = list(axes) if hasattr(axes, "__len__") else [axes]
    colours = {"site": "#2b7bb9", "tutorial": "#c0504d", "bare": "#9bbb59"}
    width = 0.25
    for ax, (scenario, key, title) in zip(axes, panels, strict=False):
        for i, target in enumerate(("site", "tutorial", "bare")):
            values = [find(rows, scenario, a, target).get(key) or 0 for a in asgis]
            xs = [j + (i - 1) * width for j in range(len(asgis))]
            bars = ax.bar(xs, values, width, label=target, color=colours[target])
            ax.bar_label(bars, labels=[fmt(round(v, 1)) for v in values], fontsize=7)
        ax.set_xticks(range(len(asgis)), asgis)
        ax.set_title(title, fontsize=9)
    if panels:
        axes[0].legend(fontsize=8)
    for ax, (scenario, variants, title) in zip(axes[len(panels) :], pairs, strict=False):
        for i, (variant, colour) in enumerate(zip(variants, ("#2b7bb9", "#e39b35"), strict=True)):
            values = []
            for a in asgis:
                runs = [
                    r["deliveries_per_s"]
                    for r in rows
                    if (r["scenario"], r["asgi"], r["variant"]) == (scenario, a, variant)
                ]
                values.append(statistics.median(runs) if runs else 0)
            xs = [j + (i - 0.5) * width for j in range(len(asgis))]
            bars = ax.bar(xs, values, width, label=variant, color=colour)
            ax.bar_label(bars, labels=[fmt(round(v, 1)) for v in values], fontsize=7)
        ax.set_xticks(range(len(asgis)), asgis)
        ax.set_title(f"{title} (higher is better)", fontsize=9)
        ax.legend(fontsize=8)
    if render:
        ax = axes[len(panels) + len(pairs)]
        ys = range(len(render))
        ax.barh(ys, [r["median_ms"] for r in render], color="#2b7bb9")
        ax.set_yticks(ys, [r["kind"] for r in render], fontsize=6)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_title("render: median CPU ms per body (log scale, lower is better)", fontsize=9)
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
    plans = search_plans(data["results"])
    if plans:
        paths["plans"] = out_dir / "plans.txt"
        paths["plans"].write_text(plans)
    chart(data, paths["png"])
    return paths
