"""The search scenario (docs/benchmarks.md, "Search, export and indexing"): the targets of
issue #16, on each database given (SQLite and PostgreSQL):

1. `chat.search.search(user, Query(...))` (the view's work) over a room of `search_size`
   messages of Zipf-distributed words (5 % Japanese), for a mix of query kinds, with and
   without a room filter, newest first and by relevance: p50/p95 ms, CPU ms; the plan
   (EXPLAIN ANALYZE on PostgreSQL, EXPLAIN QUERY PLAN on SQLite) of every kind slower than
   100 ms at p50.
2. What the index adds to a post: `services.post_messages` timed on a database migrated
   fully and on one whose search index objects are dropped, in alternating pairs.
3. `manage.py export_room` (json and text) of the big room and of a room a tenth its size,
   to /dev/null: wall and CPU seconds, messages/s, peak RSS.

The parent side (`measure`) runs in the bench's process; the database side runs inside
Django as `python -m bench.search <command>` with the database's DATABASE_URL, as
bench.seed does. Rows are seeded straight into chat_message (COPY on PostgreSQL, executemany
on SQLite); the database's own machinery maintains the index: the generated column and
the GIN indexes (built by CREATE INDEX after the load, the migration's own statements) on
PostgreSQL, the FTS5 triggers on SQLite.
"""

from __future__ import annotations

import argparse
import html as html_lib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from itertools import accumulate
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

SEED = 16  # the number: the same text on every run and backend
AUTHORS = 50
JAPANESE_SHARE = 0.05
SLOW_MS = 100.0  # the target, p50 on PostgreSQL

# Chat-like English at the top of the Zipf ranks (stop words first: the parser of
# PostgreSQL's english config drops them; FTS5's trigrams do not), then made-up words, so a
# word's rank says how many messages it is in (rank r: ~ 1 / (r * H) of the words).
COMMON = [
    "the",
    "to",
    "and",
    "is",
    "we",
    "it",
    "on",
    "for",
    "that",
    "this",
    "in",
    "of",
    "you",
    "be",
    "with",
    "at",
    "have",
    "can",
    "are",
    "just",
    "not",
    "release",
    "today",
    "deploy",
    "build",
    "friday",
    "meeting",
    "notes",
    "server",
    "test",
    "please",
    "check",
    "branch",
    "fix",
    "update",
    "review",
    "team",
    "looks",
    "good",
    "thanks",
    "issue",
    "ticket",
    "merge",
    "staging",
    "prod",
    "before",
    "after",
    "tomorrow",
    "week",
    "morning",
    "customer",
    "bug",
    "crash",
    "logs",
    "error",
    "config",
    "database",
    "migration",
    "login",
    "page",
    "mobile",
    "design",
    "docs",
    "feature",
    "flag",
    "rollback",
    "version",
    "client",
    "api",
    "cache",
    "queue",
    "worker",
    "metrics",
    "alert",
    "monitor",
    "dashboard",
    "latency",
    "timeout",
    "retry",
    "backup",
    "restore",
    "schema",
    "index",
    "query",
    "search",
    "export",
    "import",
    "report",
    "draft",
    "plan",
    "sprint",
    "demo",
    "call",
    "lunch",
    "coffee",
    "weekend",
]
SYLLABLES = [
    "ka",
    "ri",
    "to",
    "mo",
    "na",
    "sel",
    "vin",
    "dor",
    "pra",
    "lek",
    "ta",
    "su",
    "mi",
    "quo",
    "zen",
    "bar",
    "tel",
    "fos",
    "gri",
    "hal",
    "ne",
    "ur",
    "ost",
    "ple",
    "dra",
    "vex",
    "cor",
    "lin",
    "pa",
    "ro",
    "shi",
    "te",
]
VOCABULARY_SIZE = 20_000
JAPANESE = [
    "今日",
    "会議",
    "確認",
    "お願いします",
    "リリース",
    "明日",
    "資料",
    "東京",
    "大阪",
    "更新",
    "修正",
    "テスト",
    "本番",
    "ありがとう",
    "了解です",
    "共有",
    "予定",
    "東京タワー",
    "障害",
    "対応",
    "検索",
    "設定",
    "週末",
    "ランチ",
]

# (kind, query text): the mix. The rare word sits at rank 15,000 (~60 messages in
# a million), "release" at rank 21 (~4 % of messages).
QUERIES = (
    ("rare word", None),  # filled in from the vocabulary: VOCABULARY[15_000]
    ("common word", "release"),
    ("two words", "deploy friday"),
    ("phrase", '"release notes"'),
    ("exclusion", "release -friday"),
    ("japanese 5 chars", "東京タワー"),
    ("japanese 2 chars", "東京"),
)


def vocabulary() -> list[str]:
    rng = random.Random(SEED)
    words, seen = list(COMMON), set(COMMON)
    while len(words) < VOCABULARY_SIZE:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def queries() -> list[tuple[str, str]]:
    rare = vocabulary()[15_000]
    return [(kind, text if text is not None else rare) for kind, text in QUERIES]


class Bodies:
    """Message bodies: 3-20 words of the Zipf vocabulary, or (5 %) Japanese."""

    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(seed)
        self.words = vocabulary()
        self.cum = list(accumulate(1 / r for r in range(1, len(self.words) + 1)))
        self.ja_cum = list(accumulate(1 / r for r in range(1, len(JAPANESE) + 1)))

    def next(self) -> str:
        rng = self.rng
        if rng.random() < JAPANESE_SHARE:
            return "".join(rng.choices(JAPANESE, cum_weights=self.ja_cum, k=rng.randint(3, 8)))
        return " ".join(rng.choices(self.words, cum_weights=self.cum, k=rng.randint(3, 20)))


def _html(body: str) -> str:
    return f"<p>{html_lib.escape(body, quote=False)}</p>"


# --- inside Django ---------------------------------------------------------------------------


def _authors() -> list[int]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    User = get_user_model()
    names = [f"bench-search-{i}" for i in range(AUTHORS)]
    have = set(User.objects.filter(username__in=names).values_list("username", flat=True))
    unusable = make_password(None)
    User.objects.bulk_create([User(username=n, password=unusable) for n in names if n not in have])
    return list(User.objects.filter(username__in=names).order_by("pk").values_list("pk", flat=True))


def _pg_index_statements() -> list[tuple[str, str]]:
    """(index name, CREATE INDEX statement) of migration 0009's GIN indexes."""
    from importlib import import_module

    migration = import_module("chat.migrations.0009_search_retention")
    return [(s.split()[2], s) for s in migration.POSTGRES if s.startswith("CREATE INDEX")]


def seed(rooms: list[tuple[str, int]]) -> dict[str, Any]:
    """Rooms with exactly their counts of messages (reused when they have them)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from chat.formatting import render
    from chat.models import Message, Room

    bodies = Bodies()
    for _ in range(200):  # the html the seed writes is what the site would render
        body = bodies.next()
        if render(body).html != _html(body):
            raise RuntimeError(f"render no longer makes {_html(body)!r} of {body!r}")
    authors = _authors()
    todo = []
    for slug, count in rooms:
        room = Room.objects.filter(slug=slug).first()
        if room and room.last_seq == count and Message.objects.filter(room=room).count() == count:
            continue
        todo.append((slug, count))
    out: dict[str, Any] = {"seeded": [s for s, _ in todo], "seconds": {}}
    if not todo:
        return out
    started = time.perf_counter()
    postgres = connection.vendor == "postgresql"
    recreate: list[str] = []
    with transaction.atomic():
        for slug, _ in todo:
            Message.objects.filter(room__slug=slug).delete()
        if postgres:
            # A bulk load builds a GIN index once, after the rows (CREATE INDEX, the
            # migration's statement), rather than entry by entry; the generated column is
            # computed by the database for every row COPY writes.
            with connection.cursor() as cursor:
                cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename='chat_message'")
                present = {r[0] for r in cursor.fetchall()}
                for name, statement in _pg_index_statements():
                    if name in present:
                        cursor.execute(f"DROP INDEX {name}")
                        recreate.append(statement)
    for slug, count in todo:
        t0 = time.perf_counter()
        author = authors[0]
        room, _ = Room.objects.get_or_create(
            slug=slug, defaults={"title": slug, "created_by_id": author}
        )
        bodies = Bodies(SEED + count)
        start = datetime_start(count)
        with transaction.atomic(), connection.cursor() as cursor:
            columns = "room_id, seq, author_id, body, html, mentions, reactions, created_at"
            if postgres:
                with cursor.cursor.copy(f"COPY chat_message ({columns}) FROM STDIN") as copy:
                    for seq in range(1, count + 1):
                        body = bodies.next()
                        copy.write_row(
                            (
                                room.pk,
                                seq,
                                authors[seq % AUTHORS],
                                body,
                                _html(body),
                                "[]",
                                "[]",
                                _utc(start + seq * 30),
                            )
                        )
            else:
                sql = f"INSERT INTO chat_message ({columns}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)"
                for first in range(1, count + 1, 20_000):
                    rows = []
                    for seq in range(first, min(first + 20_000, count + 1)):
                        body = bodies.next()
                        when = connection.ops.adapt_datetimefield_value(_utc(start + seq * 30))
                        rows.append(
                            (
                                room.pk,
                                seq,
                                authors[seq % AUTHORS],
                                body,
                                _html(body),
                                "[]",
                                "[]",
                                when,
                            )
                        )
                    cursor.executemany(sql, rows)
            Room.objects.filter(pk=room.pk).update(last_seq=count, last_activity=timezone.now())
        out["seconds"][slug] = round(time.perf_counter() - t0, 1)
    with connection.cursor() as cursor:
        t0 = time.perf_counter()
        if postgres:
            cursor.execute("SET maintenance_work_mem = '256MB'")
            for statement in recreate:
                cursor.execute(statement)
            out["seconds"]["create_index"] = round(time.perf_counter() - t0, 1)
            t0 = time.perf_counter()
            cursor.execute("VACUUM (ANALYZE) chat_message")
            out["seconds"]["vacuum_analyze"] = round(time.perf_counter() - t0, 1)
        else:
            cursor.execute("ANALYZE")
            out["seconds"]["analyze"] = round(time.perf_counter() - t0, 1)
    out["seconds"]["total"] = round(time.perf_counter() - started, 1)
    return out


def datetime_start(count: int) -> float:
    """Epoch seconds of the first message: 30 s apart, the last one about now."""
    return time.time() - count * 30 - 3600


def _utc(epoch: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC)


def _explain(sql: str, analyze: bool = True) -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        prefix = "EXPLAIN (ANALYZE, BUFFERS) " if analyze else "EXPLAIN "
    else:
        prefix = "EXPLAIN QUERY PLAN "
    with connection.cursor() as cursor:
        cursor.execute(prefix + sql)
        rows = cursor.fetchall()
    return "\n".join(" | ".join(str(c) for c in row) for row in rows)


def _set_timeout(seconds: float) -> None:
    """A query longer than `seconds` is cut short (and reported as such)."""
    from django.db import connection

    connection.ensure_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = '{int(seconds * 1000)}ms'")
        return
    state = {"deadline": 0.0}

    def handler() -> int:
        return int(time.perf_counter() > state["deadline"])

    def execute_wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        state["deadline"] = time.perf_counter() + seconds
        return execute(sql, params, many, context)

    connection.connection.set_progress_handler(handler, 10_000)
    connection.execute_wrappers.append(execute_wrapper)


def time_queries(room: str, samples: int, timeout: float) -> dict[str, Any]:
    """Every query kind x room filter x sort: p50/p95 of wall ms, median CPU ms, hits."""
    from django.contrib.auth import get_user_model
    from django.db import DatabaseError, OperationalError, connection
    from django.test.utils import CaptureQueriesContext

    from chat import search

    user, _ = get_user_model().objects.get_or_create(username="bench-search-reader")
    results = []
    _set_timeout(timeout)
    for kind, text in queries():
        for scope in (room, None):
            for relevance in (False, True):
                query = search.Query(search.parse_terms(text), room=scope, relevance=relevance)
                row: dict[str, Any] = {
                    "kind": kind,
                    "q": text,
                    "room_filter": scope is not None,
                    "sort": "relevance" if relevance else "newest",
                }
                with CaptureQueriesContext(connection) as captured:
                    w0 = time.perf_counter()
                    try:  # warm-up; its SQL for EXPLAIN
                        hits = len(search.search(user, query))
                    except OperationalError:  # the timeout (SQLite: interrupted)
                        hits = None
                    except DatabaseError as err:  # PostgreSQL: statement_timeout
                        if "statement timeout" not in str(err):
                            raise
                        hits = None
                    first_ms = (time.perf_counter() - w0) * 1000
                walls, cpus = [], []
                if hits is None:
                    row.update(hits=None, samples=0, timed_out_s=timeout)
                    row.update(p50_ms=None, p95_ms=None, cpu_p50_ms=None)
                elif first_ms > 5000:  # slow: the warm-up is the one sample
                    walls, cpus = [first_ms], [first_ms]
                budget = time.perf_counter() + 15.0
                for _ in range(samples if hits is not None and not walls else 0):
                    w0, c0 = time.perf_counter(), time.process_time()
                    search.search(user, query)
                    walls.append((time.perf_counter() - w0) * 1000)
                    cpus.append((time.process_time() - c0) * 1000)
                    if time.perf_counter() > budget and len(walls) >= 3:
                        break
                if walls:
                    walls.sort()
                    row.update(
                        hits=hits,
                        samples=len(walls),
                        p50_ms=round(statistics.median(walls), 2),
                        p95_ms=round(walls[min(len(walls) - 1, int(len(walls) * 0.95))], 2),
                        cpu_p50_ms=round(statistics.median(cpus), 2),
                    )
                slow = row["p50_ms"] is None or row["p50_ms"] >= SLOW_MS
                if slow and captured.captured_queries:
                    sql = captured.captured_queries[-1]["sql"]
                    try:
                        row["plan"] = _explain(sql, analyze=hits is not None)
                    except Exception as err:
                        row["plan"] = f"(EXPLAIN failed: {err})"
                    row["sql"] = sql
                results.append(row)
    counts = {}
    from chat.models import Message

    for kind, text in queries():
        if kind.startswith("japanese") or (" " not in text and "-" not in text):
            counts[text] = Message.objects.filter(room__slug=room, body__contains=text).count()
    return {"rows": results, "substring_counts": counts}


def drop_index() -> dict[str, Any]:
    """Drop the search index objects: what a post costs without them."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP INDEX IF EXISTS chat_message_body_trgm")
            cursor.execute("DROP INDEX IF EXISTS chat_message_search")
            cursor.execute("ALTER TABLE chat_message DROP COLUMN IF EXISTS search")
        else:
            for name in ("insert", "delete", "update"):
                cursor.execute(f"DROP TRIGGER IF EXISTS chat_message_fts_{name}")
    return {"dropped": True}


def time_posts(room: str, posts: int) -> dict[str, Any]:
    """`posts` posts of one message each through services.post_messages (the socket's
    path: render, lock, insert, commit, broadcast), after a warm-up."""
    from django.contrib.auth import get_user_model

    from chat import protocol
    from chat.models import Room
    from chat.services.messages import post_messages

    user, _ = get_user_model().objects.get_or_create(username="bench-search-poster")
    target = Room.objects.get(slug=room)
    bodies = Bodies(SEED + 7)
    for _ in range(20):
        post_messages(
            room=target, user=user, posts=[protocol.Post(bodies.next())], rate_limit=False
        )
    walls = []
    server = _server_cpu()
    c0 = time.process_time()
    t0 = time.perf_counter()
    for _ in range(posts):
        body = bodies.next()
        w0 = time.perf_counter()
        post_messages(room=target, user=user, posts=[protocol.Post(body)], rate_limit=False)
        walls.append((time.perf_counter() - w0) * 1e6)
    total = time.perf_counter() - t0
    return {
        "posts": posts,
        "median_us": round(statistics.median(walls)),
        "mean_us": round(total / posts * 1e6),
        "p95_us": round(sorted(walls)[int(posts * 0.95)]),
        "client_cpu_us": round((time.process_time() - c0) / posts * 1e6),
        # PostgreSQL: the CPU of this connection's server process (where the index is
        # maintained); SQLite does it in the poster's process.
        "server_cpu_us": round((_server_cpu() - server) / posts * 1e6) if server else None,
    }


def _server_cpu() -> float:
    """CPU seconds of this connection's PostgreSQL backend (0.0 on SQLite)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def inside() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    django.setup()
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("seed")
    s.add_argument("--room", action="append", required=True, help="slug:count")
    q = sub.add_parser("queries")
    q.add_argument("--room", required=True)
    q.add_argument("--samples", type=int, required=True)
    q.add_argument("--timeout", type=float, default=30.0)
    sub.add_parser("drop-index")
    p = sub.add_parser("posts")
    p.add_argument("--room", required=True)
    p.add_argument("--posts", type=int, required=True)
    args = parser.parse_args()
    if args.command == "seed":
        pairs = [(r.rsplit(":", 1)[0], int(r.rsplit(":", 1)[1])) for r in args.room]
        out = seed(pairs)
    elif args.command == "queries":
        out = time_queries(args.room, args.samples, args.timeout)
    elif args.command == "drop-index":
        out = drop_index()
    else:
        out = time_posts(args.room, args.posts)
    json.dump(out, sys.stdout)


# --- the bench's side ------------------------------------------------------------------------


def backend_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def sibling_url(url: str, suffix: str) -> str:
    """Another database beside `url`: a file beside it, or a database of the same server."""
    if url.startswith("sqlite"):
        path = Path(url.split("sqlite:///", 1)[1])
        return f"sqlite:///{path.with_name(path.stem + suffix + path.suffix)}"
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path + suffix))


def _pg_admin(url: str, sql: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql)


def create_database(url: str, fresh: bool) -> None:
    if url.startswith("sqlite"):
        path = Path(url.split("sqlite:///", 1)[1])
        if fresh:
            for extra in ("", "-wal", "-shm"):
                Path(str(path) + extra).unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        return
    name = urlsplit(url).path.lstrip("/")
    if fresh:
        _pg_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    try:
        _pg_admin(url, f'CREATE DATABASE "{name}"')
    except Exception as err:
        if "already exists" not in str(err):
            raise


def clone_database(source: str, target: str) -> None:
    drop_database(target)
    if source.startswith("sqlite"):
        src = Path(source.split("sqlite:///", 1)[1])
        dst = Path(target.split("sqlite:///", 1)[1])
        for extra in ("", "-wal"):
            if Path(str(src) + extra).exists():
                shutil.copyfile(str(src) + extra, str(dst) + extra)
        return
    name = urlsplit(target).path.lstrip("/")
    template = urlsplit(source).path.lstrip("/")
    _pg_admin(target, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def drop_database(url: str) -> None:
    if url.startswith("sqlite"):
        path = Path(url.split("sqlite:///", 1)[1])
        for extra in ("", "-wal", "-shm"):
            Path(str(path) + extra).unlink(missing_ok=True)
        return
    name = urlsplit(url).path.lstrip("/")
    _pg_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _inside(env: dict[str, str], *args: str, timeout: float = 3600) -> dict[str, Any]:
    from tests.support.processes import run_python

    return json.loads(run_python(env, "-m", "bench.search", *args, timeout=timeout))


def export_time(env: dict[str, str], slug: str, fmt: str, count: int) -> dict[str, Any]:
    """`manage.py export_room slug --format fmt > /dev/null`: its own rusage (os.wait4)."""
    from tests.support.processes import ROOT

    with open(os.devnull, "wb") as null:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "export_room", slug, "--format", fmt],
            cwd=ROOT,
            env=env,
            stdout=null,
            stderr=subprocess.PIPE,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"export_room {slug} failed: {err[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "format": fmt,
        "messages": count,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "messages_per_s": round(count / wall),
        "messages_per_cpu_s": round(count / cpu) if cpu else None,
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
    }


def measure(cfg: Any, urls: list[str], add: Any, progress: Any) -> None:
    """The scenario on each database URL; each result row through add(variant, row)."""
    from .servers import server_env

    big = cfg.search_size
    small = max(1, big // 10)
    big_slug, small_slug = f"bench_search_{big}", f"bench_search_{small}"
    for url in urls:
        backend = backend_of(url)
        env = server_env(url)
        create_database(url, fresh=False)
        from tests.support.processes import manage

        manage(env, "migrate", "--noinput", timeout=1800)
        progress(f"search/{backend}: seeding {big:,} + {small:,} messages (reused when present)")
        t0 = time.perf_counter()
        seeded = _inside(
            env, "seed", "--room", f"{big_slug}:{big}", "--room", f"{small_slug}:{small}"
        )
        add(
            backend,
            "seed",
            {
                **seeded,
                "wall_s": round(time.perf_counter() - t0, 1),
                "messages": big + small if seeded["seeded"] else 0,
            },
        )
        progress(f"search/{backend}: queries, {cfg.search_samples} samples each")
        timed = _inside(
            env,
            "queries",
            "--room",
            big_slug,
            "--samples",
            str(cfg.search_samples),
            "--timeout",
            str(cfg.search_timeout),
        )
        for row in timed["rows"]:
            add(backend, "query", {"size": big, **row})
        add(backend, "counts", {"size": big, "substring_counts": timed["substring_counts"]})
        sizes = ((small_slug, small), (big_slug, big)) if cfg.search_export_small else ()
        sizes = sizes or ((big_slug, big),)
        progress(
            f"search/{backend}: export_room json/text of {', '.join(f'{n:,}' for _, n in sizes)}"
        )
        for slug, count in sizes:
            for fmt in ("json", "text"):
                add(backend, "export", {"size": count, **export_time(env, slug, fmt, count)})
        post_cost(cfg, url, backend, big_slug, add, progress)


def post_cost(cfg: Any, url: str, backend: str, room: str, add: Any, progress: Any) -> None:
    """A post's time in the big room on two copies of the measured database: as migrated
    (`indexed`) and with its search index objects dropped (`unindexed`), in alternating
    pairs (indexed, unindexed, unindexed, indexed, ...)."""
    from .servers import server_env

    urls = {v: sibling_url(url, f"_post_{v}") for v in ("indexed", "unindexed")}
    try:
        for vurl in urls.values():
            clone_database(url, vurl)
        _inside(server_env(urls["unindexed"]), "drop-index")
        order = []
        for pair in range(cfg.search_post_pairs):
            order += [("indexed", pair), ("unindexed", pair)][:: 1 if pair % 2 == 0 else -1]
        progress(f"search/{backend}: {cfg.search_posts} posts x {' '.join(v for v, _ in order)}")
        for variant, pair in order:
            env = server_env(urls[variant])
            row = _inside(env, "posts", "--room", room, "--posts", str(cfg.search_posts))
            add(backend, "post", {"index": variant, "pair": pair, **row})
    finally:
        for vurl in urls.values():
            drop_database(vurl)


if __name__ == "__main__":
    inside()
