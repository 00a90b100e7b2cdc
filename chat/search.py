"""Searching the history: what a user may read, and nothing else (docs/search.md).

A query is parsed here, once, into words, "quoted phrases" and -exclusions (the syntax of
PostgreSQL's websearch_to_tsquery, which people know from web search engines); it never
reaches a database as syntax. Each backend matches it with its own index, made by
migration 0009_search_retention:

- PostgreSQL: the stored `search` tsvector column (english: stemmed, so "release" finds
  "released") through websearch_to_tsquery and its GIN index, ranked by ts_rank; words of
  scripts written without spaces (Japanese, Chinese) by ILIKE through a trigram index,
  since the text parser sees a whole Japanese sentence as one word.
- SQLite: the FTS5 table of trigrams (any substring of 3 or more characters, any script);
  shorter words by LIKE.

Access is chat.selectors.visible_rooms, the rule of the pages and the sockets; deleted
messages are never found (their body is gone, and they are filtered out).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import BooleanField, FloatField, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _

from . import selectors
from .models import Message, Room

QUERY_MAX = 200  # characters
TERMS_MAX = 10
RESULTS_MAX = 50
EXCERPT = 160  # characters of context shown around the first match
# Scripts written without spaces between words: a tsvector cannot split them.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]")
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


class QueryError(ValueError):
    """A query that cannot be searched: what to tell the user."""


@dataclass(frozen=True)
class Term:
    text: str
    negated: bool = False

    @property
    def unspaced(self) -> bool:
        return bool(_UNSPACED.search(self.text))


@dataclass(frozen=True)
class Query:
    terms: tuple[Term, ...]
    room: str | None = None
    user: str | None = None
    after: date | None = None
    before: date | None = None
    relevance: bool = False

    @property
    def wanted(self) -> list[Term]:
        return [t for t in self.terms if not t.negated]


def parse_terms(text: str) -> tuple[Term, ...]:
    """Words, "phrases" (an unclosed quote runs to the end) and -exclusions."""
    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        raise QueryError(_("Type something to search for."))
    if len(text) > QUERY_MAX:
        raise QueryError(_("A search may be at most %(n)d characters.") % {"n": QUERY_MAX})
    terms: list[Term] = []
    for match in _TOKEN.finditer(text):
        minus, phrase, word = match.groups()
        if word is not None:
            negated = word.startswith("-") and len(word) > 1
            body = word[1:] if negated else word
        else:
            negated, body = bool(minus), " ".join(phrase.split())
        body = body.strip("\"'")
        if body:
            terms.append(Term(body, negated))
    if len(terms) > TERMS_MAX:
        raise QueryError(_("A search may have at most %(n)d words.") % {"n": TERMS_MAX})
    if not any(not t.negated for t in terms):
        raise QueryError(_("Say what to look for, not only what to leave out."))
    return tuple(terms)


def search(user: AbstractBaseUser, query: Query) -> list[Message]:
    """The newest (or best) RESULTS_MAX messages matching `query` that `user` may read."""
    rooms = selectors.visible_rooms(user).values("pk")
    if query.room:
        rooms = rooms.filter(slug=query.room)
    found = Message.objects.filter(room_id__in=rooms, deleted_at__isnull=True)
    if query.user:
        found = found.filter(author__username__iexact=query.user)
    if query.after:
        found = found.filter(created_at__gte=_midnight(query.after))
    if query.before:
        found = found.filter(created_at__lt=_midnight(query.before))
    postgres = connection.vendor == "postgresql"
    found, ranked = (_match_postgres if postgres else _match_sqlite)(found, query)
    # Newest first: PostgreSQL walks the created_at index; SQLite's FTS5 gives its rowids
    # (the messages' ids, in the order they were stored) newest first.
    newest = found.order_by("-created_at", "-id") if postgres else found.order_by("-id")
    if not query.relevance or ranked is None:  # LIKE alone ranks nothing
        return list(newest.select_related("author", "room")[:RESULTS_MAX])
    # The best of the newest RANKED_MAX matches: ranking every match of a common word in a
    # big room would read them all (500 ms and more at 1,000,000 messages).
    # Two queries, not a subquery: the match conditions name the table (chat_message), and
    # inside a subquery that would be the outer query's row.
    ids = list(newest.values_list("pk", flat=True)[:RANKED_MAX])
    pool = Message.objects.filter(pk__in=ids)
    best = ranked(pool).select_related("author", "room").order_by("-rank", "-id")
    return list(best[:RESULTS_MAX])


RANKED_MAX = 1000
Ranker = Callable[[QuerySet[Message]], QuerySet[Message]]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _match_postgres(
    found: QuerySet[Message], query: Query
) -> tuple[QuerySet[Message], Ranker | None]:
    spaced = [t for t in query.terms if not t.unspaced]
    for term in query.terms:
        if term.unspaced:  # LIKE, not ILIKE, so that the trigram index serves it
            found = (found.exclude if term.negated else found.filter)(body__contains=term.text)
    if not any(not t.negated for t in spaced):
        # Only unspaced words to find (and maybe spaced ones to leave out).
        for term in spaced:
            found = found.exclude(body__icontains=term.text)
        return found, None
    parts = [
        ("-" if t.negated else "") + (f'"{t.text}"' if " " in t.text else t.text) for t in spaced
    ]
    # A phrase's words again, unquoted: the same matches, and the planner then sees how few
    # there are and uses the GIN index (for a phrase alone it walks the created_at index).
    parts += [t.text for t in spaced if " " in t.text and not t.negated]
    websearch = " ".join(parts)
    tsquery = "websearch_to_tsquery('english'::regconfig, %s)"
    matches = RawSQL(f"chat_message.search @@ {tsquery}", [websearch], output_field=BooleanField())
    rank = RawSQL(f"ts_rank(chat_message.search, {tsquery})", [websearch], FloatField())
    return found.filter(matches), lambda pool: pool.annotate(rank=rank)


def _fts5_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _match_sqlite(
    found: QuerySet[Message], query: Query
) -> tuple[QuerySet[Message], Ranker | None]:
    """FTS5 for terms of 3 or more characters (the trigram tokenizer's least), quoted as
    FTS5 strings so that nothing in them is syntax; LIKE for shorter ones."""
    indexed = [t for t in query.terms if len(t.text) >= 3]
    for term in query.terms:
        if len(term.text) < 3:
            found = (found.exclude if term.negated else found.filter)(body__icontains=term.text)
    wanted = [_fts5_string(t.text) for t in indexed if not t.negated]
    unwanted = [_fts5_string(t.text) for t in indexed if t.negated]
    if not wanted:
        for term in indexed:  # exclusions only: LIKE them out
            found = found.exclude(body__icontains=term.text)
        return found, None
    expression = " AND ".join(wanted) + "".join(f" NOT {u}" for u in unwanted)

    def joined(rows: QuerySet[Message], **select: str) -> QuerySet[Message]:
        # A join with the FTS5 table, not a subquery per row: bm25() needs the MATCH of
        # its own query, and an IN (...) would repeat the whole search for every row.
        return rows.extra(
            tables=["chat_message_fts"],
            where=["chat_message_fts.rowid = chat_message.id", "chat_message_fts MATCH %s"],
            params=[expression],
            select=select,
        )

    return joined(found), lambda pool: joined(pool, rank="-bm25(chat_message_fts)")


# --- showing results ------------------------------------------------------------------------


@dataclass
class Hit:
    message: Message
    parts: list[tuple[str, bool]]  # the excerpt: (text, whether it matched), for the template


@dataclass
class Group:
    room: Room
    hits: list[Hit] = field(default_factory=list)


def grouped(messages: list[Message], query: Query) -> list[Group]:
    """Results by room, rooms in the order of their newest (or best) hit."""
    groups: dict[int, Group] = {}
    words = [t.text for t in query.wanted]
    for message in messages:
        group = groups.setdefault(message.room_id, Group(message.room))
        group.hits.append(Hit(message, highlight(message.body, words)))
    return list(groups.values())


def highlight(body: str, words: list[str]) -> list[tuple[str, bool]]:
    """An excerpt of `body` around its first match, cut into (text, matched) parts: the
    template escapes each, so no HTML is built from the body here. A stemmed match
    ("released" for "release") is found by the word's first letters."""
    stems = sorted({_stem(w) for w in words if w}, key=len, reverse=True)
    if not stems:
        return [(body[:EXCERPT], False)]
    pattern = re.compile("|".join(re.escape(s) for s in stems), re.IGNORECASE)
    first = pattern.search(body)
    start = 0 if first is None else max(0, first.start() - EXCERPT // 3)
    excerpt = body[start : start + EXCERPT]
    parts: list[tuple[str, bool]] = [("…", False)] if start else []
    last = 0
    for match in pattern.finditer(excerpt):
        if match.start() > last:
            parts.append((excerpt[last : match.start()], False))
        parts.append((match.group(), True))
        last = match.end()
    parts.append((excerpt[last:], False))
    if start + EXCERPT < len(body):
        parts.append(("…", False))
    return [p for p in parts if p[0]]


def _stem(word: str) -> str:
    lowered = word.lower()
    for suffix in ("ing", "ed", "es", "s"):
        if lowered.endswith(suffix) and len(lowered) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word
