"""python -m bench run --quick | --full | --smoke [options]  (docs/benchmarks.md)"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from tests.support.processes import ROOT

from . import report
from .run import PRESETS, run_sync


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the scenarios and write the results")
    size = run.add_mutually_exclusive_group()
    for name in PRESETS:
        size.add_argument(f"--{name}", dest="preset", action="store_const", const=name)
    run.add_argument(
        "--servers",
        help="comma-separated: daphne,uvicorn,uvicorn-nodeflate,granian,hypercorn (default: "
        "daphne,uvicorn; "
        "smoke: daphne)",
    )
    run.add_argument(
        "--scenarios",
        help="comma-separated: burst,paced,slow,history,idle,cross,roomlife,render,formatted,"
        "search,v2,bigroom",
    )
    run.add_argument(
        "--search-databases",
        help="search: comma-separated database URLs to measure on (default: --database-url), "
        "e.g. sqlite:///bench/.data/search.sqlite3,postgres://postgres@127.0.0.1:5432/bench_search",
    )
    run.add_argument("--targets", help="comma-separated: site,tutorial,bare (default: all)")
    run.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    run.add_argument("--database-url", help="default: a SQLite file under bench/.data/")
    run.add_argument("--redis-url", help="for the cross scenario; default: a private redis-server")
    run.add_argument(
        "--site-settings",
        default="bench.site_settings",
        help="settings module of the site's servers (to measure a settings change)",
    )
    run.add_argument(
        "--churn-rate",
        type=float,
        help="roomlife: arrivals (and departures) per second in the life variant; 0: none",
    )
    run.add_argument(
        "--typists", type=int, help="roomlife: receivers typing in the life variant; 0: none"
    )
    run.add_argument("--roomlife-pairs", type=int, help="roomlife: plain/life pairs to run")
    run.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="py-spy record the site's server during each roomlife and formatted burst, into DIR",
    )
    args = parser.parse_args(argv)
    cfg = PRESETS[args.preset or "quick"]
    if args.servers:
        cfg = dataclasses.replace(cfg, servers=tuple(args.servers.split(",")))
    if args.scenarios:
        cfg = dataclasses.replace(cfg, scenarios=tuple(args.scenarios.split(",")))
    if args.targets:
        cfg = dataclasses.replace(cfg, targets=tuple(args.targets.split(",")))
    for name in ("churn_rate", "typists", "roomlife_pairs"):
        if getattr(args, name) is not None:
            cfg = dataclasses.replace(cfg, **{name: getattr(args, name)})
    data = run_sync(
        cfg,
        args.out,
        args.database_url,
        args.redis_url,
        args.site_settings,
        args.profile,
        args.search_databases.split(",") if args.search_databases else None,
    )
    paths = report.write(data, args.out)
    print(paths["markdown"].read_text())
    for kind, path in paths.items():
        print(f"{kind}: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
