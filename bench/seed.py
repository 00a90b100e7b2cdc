"""Database set-up for a bench run, executed inside Django (the site's settings) as
`python -m bench.seed <command> ...` with the bench DATABASE_URL.

Users and their sessions are written straight into the database (one bulk insert) rather
than logged in over HTTP one by one: the site's password hasher makes a login cost ~0.3 s
of CPU, which would dominate a 2,000-connection run. The sender still logs in over HTTP
through the login form, so that path is exercised on every run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import timedelta

import django


def setup_users(count: int, prefix: str, sender: str, password: str) -> dict[str, object]:
    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.db import transaction
    from django.utils import timezone

    User = get_user_model()
    names = [f"{prefix}{i}" for i in range(count)]
    with transaction.atomic():
        have = set(User.objects.filter(username__in=names).values_list("username", flat=True))
        unusable = make_password(None)
        User.objects.bulk_create(
            [User(username=n, password=unusable) for n in names if n not in have], batch_size=500
        )
        if not User.objects.filter(username=sender).exists():
            User.objects.create_user(sender, password=password)
        users = list(User.objects.filter(username__in=names))
        store = SessionStore()
        expires = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
        sessions, cookies = [], {}
        for user in users:
            key = store._get_new_session_key()
            data = {
                SESSION_KEY: str(user.pk),
                BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                HASH_SESSION_KEY: user.get_session_auth_hash(),
            }
            sessions.append(
                Session(session_key=key, session_data=store.encode(data), expire_date=expires)
            )
            cookies[user.username] = f"sessionid={key}"
        Session.objects.bulk_create(sessions, batch_size=500)
    return {"cookies": [cookies[n] for n in names]}


def seed_history(slug: str, count: int) -> dict[str, object]:
    """Room `slug` with exactly `count` messages, inserted with executemany in batches
    (the fast path: ~10x bulk_create). Reused when it already has them."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from chat.formatting import render
    from chat.models import Message, Room

    User = get_user_model()
    author, _ = User.objects.get_or_create(username="bench-history-author")
    room, _ = Room.objects.get_or_create(slug=slug, defaults={"title": slug, "created_by": author})
    if room.last_seq == count and Message.objects.filter(room=room).count() == count:
        return {"room": slug, "count": count, "seeded": False}
    Message.objects.filter(room=room).delete()
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    table = Message._meta.db_table
    # Raw SQL gets no model defaults: html (what chat.formatting.render makes of the body,
    # checked once below rather than rendered a million times), mentions, reactions.
    sql = (
        f"INSERT INTO {table} (room_id, seq, author_id, body, html, mentions, reactions, "
        "created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
    )
    body, html = "history message number {}", "<p>history message number {}</p>"
    if render(body.format(1)).html != html.format(1):
        raise RuntimeError(f"render no longer makes {html.format(1)!r} of {body.format(1)!r}")
    batch = 20_000
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(1, count + 1, batch):
            rows = [
                (room.pk, seq, author.pk, body.format(seq), html.format(seq), "[]", "[]", now)
                for seq in range(start, min(start + batch, count + 1))
            ]
            cursor.executemany(sql, rows)
        Room.objects.filter(pk=room.pk).update(last_seq=count, last_activity=timezone.now())
    return {"room": slug, "count": count, "seeded": True}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    django.setup()
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    users = sub.add_parser("users")
    users.add_argument("--count", type=int, required=True)
    users.add_argument("--prefix", required=True)
    users.add_argument("--sender", required=True)
    users.add_argument("--password", required=True)
    history = sub.add_parser("history")
    history.add_argument("--room", required=True)
    history.add_argument("--count", type=int, required=True)
    args = parser.parse_args()
    if args.command == "users":
        out = setup_users(args.count, args.prefix, args.sender, args.password)
    else:
        out = seed_history(args.room, args.count)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
