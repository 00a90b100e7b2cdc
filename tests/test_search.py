"""Search and transcripts as a user meets them: `/search/` and `/chat/<slug>/export.*`, on
whichever stack the suite runs (SQLite FTS5 in pass 1, PostgreSQL in pass 2), through the
one access rule (docs/search.md)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from chat import protocol, services
from chat.models import Message
from tests.support.accounts import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    return {name: make_user(name) for name in ("alice", "bob", "carol")}


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def say(room, user, *bodies):
    return [services.post_message(room=room, user=user, body=b).message for b in bodies]


def hits(client: Client, status: int = 200, **params) -> list[tuple[str, int, str]]:
    """(room slug, seq, excerpt text) of each result, in page order."""
    response = client.get("/search/", params)
    assert response.status_code == status, response.content.decode()[:2000]
    page = response.content.decode()
    found = re.findall(r'<a href="/chat/([\w-]+)/\?at=(\d+)">(.*?)</a>', page, re.S)
    return [(slug, int(seq), _text(inner)) for slug, seq, inner in found]


def _text(html: str) -> str:
    excerpt = re.search(r'<span class="search-excerpt">(.*?)</span>', html, re.S)
    return re.sub(r"<[^>]+>", "", excerpt.group(1)) if excerpt else ""


def test_words_find_the_newest_messages_first_with_a_link_to_each(people):
    alice, bob = people["alice"], people["bob"]
    lobby = services.create_room(slug="lobby", user=alice)
    say(lobby, bob, "the release is on Friday", "lunch?", "release notes are ready")
    found = hits(client_of(alice), q="release")
    assert [(slug, seq) for slug, seq, _ in found] == [("lobby", 3), ("lobby", 1)]
    assert found[0][2] == "release notes are ready"
    page = client_of(alice).get("/search/", {"q": "release"}).content.decode()
    assert "<mark>release</mark> notes" in page  # the matching words highlighted


def test_results_are_grouped_by_room(people):
    alice = people["alice"]
    one = services.create_room(slug="one", user=alice)
    two = services.create_room(slug="two", user=alice)
    say(one, alice, "deploy one")
    say(two, alice, "deploy two")
    say(one, alice, "deploy three")
    page = client_of(alice).get("/search/", {"q": "deploy"}).content.decode()
    headings = re.findall(r'<h2 id="search-room-([\w-]+)"', page)
    assert headings == ["one", "two"]  # the room with the newest hit first


def test_phrases_and_exclusions(people):
    alice = people["alice"]
    lobby = services.create_room(slug="lobby", user=alice)
    say(lobby, alice, "the release notes", "notes on the release", "release party notes")
    client = client_of(alice)
    assert [seq for _, seq, _ in hits(client, q='"release notes"')] == [1]
    assert [seq for _, seq, _ in hits(client, q="notes -party")] == [2, 1]
    assert [seq for _, seq, _ in hits(client, q='"release notes')] == [1]  # unclosed quote


def test_filters_room_user_and_dates(people):
    alice, bob = people["alice"], people["bob"]
    one = services.create_room(slug="one", user=alice)
    two = services.create_room(slug="two", user=alice)
    old, _ = say(one, alice, "budget draft", "budget final")
    say(two, bob, "budget question")
    Message.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    client = client_of(alice)
    assert {slug for slug, _, _ in hits(client, q="budget", room="two")} == {"two"}
    assert [(s, q) for s, q, _ in hits(client, q="budget", user="BOB")] == [("two", 1)]
    week_ago = (timezone.now() - timedelta(days=7)).date().isoformat()
    assert [(s, q) for s, q, _ in hits(client, q="budget", before=week_ago)] == [("one", 1)]
    assert ("one", 1) not in [(s, q) for s, q, _ in hits(client, q="budget", after=week_ago)]


def test_only_what_the_user_may_read_is_found(people):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    secret = services.new_room(user=alice, title="Secret", private=True)
    services.invite(room=secret, actor=alice, user="bob")
    say(secret, alice, "the launch code is tulip")
    dm = services.open_dm(user=alice, other="bob")
    say(dm, bob, "tulip bulbs for you")
    lobby = services.create_room(slug="lobby", user=alice)
    gone = say(lobby, alice, "tulip, said publicly")[0]
    services.delete_message(room=lobby, actor=alice, seq=gone.seq)
    assert {slug for slug, _, _ in hits(client_of(bob), q="tulip")} == {secret.slug, dm.slug}
    assert hits(client_of(carol), q="tulip") == []  # no private room, no DM, no deleted
    assert hits(client_of(carol), q="tulip", room=secret.slug) == []
    services.remove_member(room=secret, actor=alice, user="bob")
    assert {slug for slug, _, _ in hits(client_of(bob), q="tulip")} == {dm.slug}


def test_japanese_is_findable(people):
    alice = people["alice"]
    lobby = services.create_room(slug="lobby", user=alice)
    say(lobby, alice, "明日は東京タワーに行きます", "リリースノートを書きました", "hello")
    client = client_of(alice)
    for word, seq in (("東京", 1), ("東京タワー", 1), ("タワー", 1), ("リリース", 2), ("書き", 2)):
        assert [s for _, s, _ in hits(client, q=word)] == [seq], word
    assert [s for _, s, _ in hits(client, q="東京 -タワー")] == []


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '""',
        "*",
        "tulip*",
        "NEAR(a b)",
        "a NEAR b",
        "body:tulip",
        ":",
        "AND",
        "OR OR",
        "NOT tulip",
        "(tulip",
        "tulip)",
        "'",
        "a'b",
        "^tulip",
        "tulip -",
        "--",
        "\\",
        "%",
        "_",
        "%_%",
        "'; DROP TABLE chat_message; --",
        "x" * 200,
        "a " * 10,
        "🙂",
        "\u202etulip",
    ],
)
def test_search_syntax_is_never_an_error(people, query):
    alice = people["alice"]
    lobby = services.create_room(slug="lobby", user=alice)
    say(lobby, alice, "tulip")
    response = client_of(alice).get("/search/", {"q": query})
    assert response.status_code in (200, 400)
    page = response.content.decode()
    assert "Traceback" not in page and "fts5" not in page.lower() and "syntax" not in page
    assert Message.objects.filter(body="tulip").exists()


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"q": "x" * 201}, "at most 200 characters"),
        ({"q": " ".join("w" * 3 for _ in range(11))}, "at most 10 words"),
        ({"q": "-tulip"}, "not only what to leave out"),
        ({"q": "tulip", "after": "yesterday"}, "Enter a valid date"),
        ({"q": "tulip", "before": "2026-13-45"}, "Enter a valid date"),
    ],
)
def test_a_bad_search_says_what_is_wrong(people, params, says):
    client = client_of(people["alice"])
    response = client.get("/search/", params)
    assert response.status_code == 400
    assert says in response.content.decode()


def test_the_empty_search_page_is_a_form(people):
    response = client_of(people["alice"]).get("/search/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'role="search"' in page and "No messages found" not in page


def test_search_needs_a_login(people):
    response = Client().get("/search/", {"q": "x"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- transcripts ------------------------------------------------------------------------


def test_the_json_transcript_is_the_rooms_messages_exactly(people):
    alice, bob = people["alice"], people["bob"]
    lobby = services.create_room(slug="lobby", user=alice)
    say(lobby, alice, "**one**", "two", "three")
    services.edit_message(room=lobby, user=alice, seq=2, body="two, edited")
    services.toggle_reaction(room=lobby, user=bob, seq=1, emoji="👍")
    services.delete_message(room=lobby, actor=alice, seq=3)
    services.post_messages(room=lobby, user=bob, posts=[protocol.Post("re", "c-1", reply_to=1)])
    response = client_of(bob).get("/chat/lobby/export.json")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/json"
    assert 'attachment; filename="lobby-' in response["Content-Disposition"]
    data = json.loads(b"".join(response.streaming_content))
    assert data["room"]["slug"] == "lobby"
    expected = [
        protocol.message_data(m) for m in Message.objects.filter(room=lobby).order_by("seq")
    ]
    assert data["messages"] == expected
    assert data["messages"][1]["edited_ts"] and data["messages"][2]["deleted"]
    assert data["messages"][0]["reactions"] == [{"emoji": "👍", "users": ["bob"]}]
    assert data["messages"][3]["reply_to"] == 1


def test_the_json_transcript_writes_times_as_the_protocol_does(people):
    """The database writes an export's timestamps: a whole second (which SQLite stores
    without a fraction) and an edit or deletion time read as datetime.isoformat would."""
    alice = people["alice"]
    lobby = services.create_room(slug="lobby", user=alice)
    say(lobby, alice, "one", "two")
    whole = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    Message.objects.filter(room=lobby, seq=1).update(created_at=whole, edited_at=whole)
    Message.objects.filter(room=lobby, seq=2).update(deleted_at=whole.replace(microsecond=7))
    data = json.loads(b"".join(client_of(alice).get("/chat/lobby/export.json").streaming_content))
    first, second = data["messages"]
    assert first["ts"] == first["edited_ts"] == "2026-01-02T03:04:05.000000+00:00"
    assert second["deleted"] and second["body"] == ""
    expected = [
        protocol.message_data(m) for m in Message.objects.filter(room=lobby).order_by("seq")
    ]
    assert data["messages"] == expected


WHEN = st.datetimes(timezones=st.just(UTC))
TS = st.one_of(st.none(), WHEN)
REACTIONS = st.lists(
    st.fixed_dictionaries({"emoji": st.text(min_size=1, max_size=4), "users": st.lists(st.text())}),
    max_size=3,
)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 2**53),
    st.text(),
    st.text(),
    WHEN,
    st.one_of(st.none(), st.text(max_size=40)),
    TS,
    TS,
    st.lists(st.text(max_size=10), max_size=3),
    st.one_of(st.none(), st.integers(1, 2**53)),
    REACTIONS,
    st.booleans(),
)
def test_an_exports_message_is_written_as_the_protocol_encodes_it(
    seq, user, body, created, client_id, edited, deleted, mentions, reply_to, reactions, spaced
):
    """protocol.message_json (the export's fast writer, from a wire row: timestamps as the
    database writes them, JSON columns as it returns their text) writes exactly what
    encode(message_object(...)) does."""
    dumps = json.dumps if spaced else (lambda v: json.dumps(v, separators=(",", ":")))
    iso = lambda when: None if when is None else when.isoformat(timespec="microseconds")  # noqa: E731
    html = f"<p>{body}</p>"
    wire = (seq, user, body, iso(created), client_id, iso(edited), iso(deleted), html)
    fast = protocol.message_json(*wire, dumps(mentions), reply_to, dumps(reactions))
    row = (seq, user, body, created, client_id, edited, deleted, html)
    assert fast == protocol.encode(protocol.message_object(*row, mentions, reply_to, reactions))


def test_the_text_transcript_reads_like_the_room(people):
    alice = people["alice"]
    lobby = services.create_room(slug="lobby", user=alice, title="Lobby")
    say(lobby, alice, "hello\nsecond line", "bye")
    services.edit_message(room=lobby, user=alice, seq=2, body="bye!")
    services.toggle_reaction(room=lobby, user=alice, seq=1, emoji="🎉")
    response = client_of(alice).get("/chat/lobby/export.txt")
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    text = b"".join(response.streaming_content).decode()
    lines = text.splitlines()
    assert lines[0].startswith("# Lobby (lobby), exported ")
    assert re.fullmatch(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] #1 alice: hello", lines[1])
    assert lines[2] == "    second line"
    assert lines[3] == "    🎉 alice"
    assert lines[4].endswith("#2 alice (edited): bye!")


def test_a_transcript_is_for_those_who_may_read_the_room(people):
    alice, carol = people["alice"], people["carol"]
    secret = services.new_room(user=alice, title="Secret", private=True)
    say(secret, alice, "hush")
    for fmt in ("json", "txt"):
        assert client_of(carol).get(f"/chat/{secret.slug}/export.{fmt}").status_code == 404
        assert client_of(carol).get(f"/chat/nowhere/export.{fmt}").status_code == 404
        assert client_of(alice).get(f"/chat/{secret.slug}/export.{fmt}").status_code == 200
    assert Client().get(f"/chat/{secret.slug}/export.json").status_code == 302


def test_searches_and_downloads_are_rate_limited(people, settings):
    settings.CHAT_SEARCH_BURST, settings.CHAT_SEARCH_PER_MINUTE = 2, 1
    settings.CHAT_EXPORT_BURST, settings.CHAT_EXPORT_PER_HOUR = 1, 1
    alice = people["alice"]
    services.create_room(slug="lobby", user=alice)
    client = client_of(alice)
    assert hits(client, q="x") == [] and hits(client, q="y") == []
    response = client.get("/search/", {"q": "z"})
    assert response.status_code == 429
    assert "You are searching too fast" in response.content.decode()
    assert client.get("/chat/lobby/export.json").status_code == 200
    refused = client.get("/chat/lobby/export.txt")
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1


def test_a_bad_search_is_explained_in_japanese_too(people):
    client = client_of(people["alice"])
    client.cookies["django_language"] = "ja"
    response = client.get("/search/", {"q": " ".join(["word"] * 11)})
    assert response.status_code == 400
    assert "検索語は最大 10 語です。" in response.content.decode()


def test_a_direct_conversations_results_are_headed_by_the_other_side(people):
    alice, bob = people["alice"], people["bob"]
    dm = services.open_dm(user=alice, other="bob")
    say(dm, bob, "tulips for you")
    page = client_of(alice).get("/search/", {"q": "tulips"}).content.decode()
    heading = re.search(r'<h2 id="search-room-[\w-]+">(.*?)</h2>', page, re.S).group(1)
    assert ">bob</a>" in heading and "alice · bob" not in heading


def test_best_match_first_when_asked(people):
    alice = people["alice"]
    lobby = services.create_room(slug="lobby", user=alice)
    say(
        lobby,
        alice,
        "deploy deploy deploy: the deploy of the deploy tool",
        "one deploy, and a great many other words around it so that it weighs little here",
        "nothing to see",
    )
    client = client_of(alice)
    assert [seq for _, seq, _ in hits(client, q="deploy")] == [2, 1]  # newest first
    assert [seq for _, seq, _ in hits(client, q="deploy", sort="relevance")] == [1, 2]
    # LIKE-only words rank nothing: newest first again.
    say(lobby, alice, "東京 東京", "東京")
    assert [seq for _, seq, _ in hits(client, q="東京", sort="relevance")] == [5, 4]
