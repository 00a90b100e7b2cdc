"""chat.formatting.render: message bodies as safe HTML (docs/protocol.md, "Rich messages").

Three parts:
- the XSS corpus (tests/xss_corpus.py): every payload's HTML is parsed with the standard
  library's parser and must be inert (allowlisted tags and attributes only, no event
  handler, no style, links only to http/https/mailto with rel and target set);
- what a user expects of the Markdown subset (bold, code, links, mentions, line breaks...);
- a hypothesis property: any text at all renders without raising, and inert.

No timing here: render's speed is measured by the benchmark (`python -m bench run
--scenarios render`, docs/benchmarks.md "Formatting"); the pathological bodies it times are
only rendered and checked below.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.formatting import KINDS as PATHOLOGICAL
from chat import formatting
from chat.formatting import LINES_MAX, MARKUP_MAX, MENTIONS_MAX, render
from tests.xss_corpus import PAYLOADS

ALLOWED_TAGS = {
    "p",
    "br",
    "em",
    "strong",
    "s",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "span",
}
# Attributes that may appear at all, per tag. `title` on `a` is nh3's default generic
# attribute, reached by a Markdown link title ([x](url "title")): text, never code, but
# wider than docs/protocol.md's list (see test_allowlist_is_the_documented_one).
ALLOWED_ATTRIBUTES = {
    "a": {"href", "rel", "target", "title"},
    "ol": {"start"},
    "span": {"class", "data-user"},
}
FORBIDDEN_ATTRIBUTES = {"style", "srcdoc", "src", "action", "formaction"}
LINK_SCHEMES = {"http", "https", "mailto"}
REL = {"noopener", "noreferrer", "nofollow"}
# What a browser ignores in a URL: leading/trailing C0 controls and spaces, and tab/CR/LF
# anywhere (WHATWG URL parsing). Stripped everywhere, to be conservative.
_IGNORED_IN_URL = re.compile(r"[\x00-\x20\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):", re.IGNORECASE)


class _Inspector(HTMLParser):
    """Collects every problem with an HTML fragment (an empty list: inert)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._check(tag, attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._check(tag, attrs)

    def handle_comment(self, data: str) -> None:
        self.problems.append(f"comment <!--{data}-->")

    def handle_decl(self, decl: str) -> None:
        self.problems.append(f"declaration <!{decl}>")

    def handle_pi(self, data: str) -> None:
        self.problems.append(f"processing instruction <?{data}>")

    def unknown_decl(self, data: str) -> None:
        self.problems.append(f"unknown declaration {data}")

    def _check(self, tag: str, attr_list: list[tuple[str, str | None]]) -> None:
        attrs = dict(attr_list)
        self.tags.append((tag, attrs))
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        for name, value in attr_list:
            if name.startswith("on"):
                self.problems.append(f"event handler {name}={value!r} on <{tag}>")
            if name in FORBIDDEN_ATTRIBUTES:
                self.problems.append(f"attribute {name}={value!r} on <{tag}>")
            if name not in ALLOWED_ATTRIBUTES.get(tag, set()):
                self.problems.append(f"attribute {name} not allowed on <{tag}>")
        if tag == "a":
            href = attrs.get("href")
            # An <a> without href goes nowhere (nh3 drops an href it cannot parse, such as
            # "https:javascript:alert(1)", which markdown-it let through as https).
            if href is not None and (scheme := link_scheme(href)) not in LINK_SCHEMES:
                self.problems.append(f"href {href!r} (scheme {scheme!r})")
            if set((attrs.get("rel") or "").split()) != REL:
                self.problems.append(f"rel={attrs.get('rel')!r}")
            if attrs.get("target") != "_blank":
                self.problems.append(f"target={attrs.get('target')!r}")
        if tag == "span" and attrs.get("class") != "mention":
            self.problems.append(f"span class={attrs.get('class')!r}")
        if tag == "ol" and not re.fullmatch(r"\d{1,9}", attrs.get("start") or "1"):
            self.problems.append(f"ol start={attrs.get('start')!r}")


def link_scheme(href: str) -> str | None:
    """The scheme a browser would see: entities decoded (html.parser decoded them once;
    again, in case of double encoding), ignored characters stripped, lowercased."""
    url = _IGNORED_IN_URL.sub("", html.unescape(href))
    match = _SCHEME.match(url)
    return match.group(1).lower() if match else None


def problems(fragment: str) -> list[str]:
    inspector = _Inspector()
    inspector.feed(fragment)
    inspector.close()
    return inspector.problems


def tags(fragment: str) -> list[tuple[str, dict[str, str | None]]]:
    inspector = _Inspector()
    inspector.feed(fragment)
    inspector.close()
    return inspector.tags


def text(fragment: str) -> str:
    """The fragment's text, as a browser's textContent would read it."""
    return html.unescape(re.sub(r"<[^>]*>", "", fragment))


def assert_inert(fragment: str) -> None:
    found = problems(fragment)
    assert not found, f"{fragment!r}: {found}"


def everyone(names: Iterable[str]) -> dict[str, str]:
    """A resolve that knows every name (the worst case: every candidate highlighted)."""
    return {name: name for name in names}


# --- the inspector itself: it must catch what it looks for ---------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "<script>alert(1)</script>",
        "<img src=x>",
        '<p onclick="x">a</p>',
        '<a href="javascript:alert(1)" rel="noopener noreferrer nofollow" target="_blank">x</a>',
        '<a href="&#106;avascript:x" rel="noopener noreferrer nofollow" target="_blank">x</a>',
        '<a href="&amp;#106;avascript:x" rel="noopener noreferrer nofollow" target="_blank">x</a>',
        '<a href=" \tjava\nscript:x" rel="noopener noreferrer nofollow" target="_blank">x</a>',
        '<a href="/relative" rel="noopener noreferrer nofollow" target="_blank">x</a>',
        '<a href="https://x">no rel, no target</a>',
        "<a>no rel, no target</a>",
        '<span class="evil">x</span>',
        '<p style="color:red">x</p>',
        "<!-- a comment -->",
        '<code class="language-x">x</code>',
    ],
)
def test_the_inspector_catches(bad: str) -> None:
    assert problems(bad)


def test_the_inspector_passes_safe_html() -> None:
    assert_inert(
        '<p><strong>a</strong> <a href="https://x" target="_blank" '
        'rel="noopener noreferrer nofollow">x</a> '
        '<span class="mention" data-user="alice">@alice</span></p><ol start="3"><li>x</li></ol>'
    )


# --- the corpus ------------------------------------------------------------------------------


@pytest.mark.parametrize(("label", "payload"), PAYLOADS, ids=[label for label, _ in PAYLOADS])
def test_corpus_payload_is_inert(label: str, payload: str) -> None:
    for resolve in (None, everyone):
        out = render(payload, resolve)
        assert_inert(out.html)
        # Whatever was typed, no tag survives as markup: a "<" is text.
        assert "<script" not in out.html.lower() and "<img" not in out.html.lower()


def test_the_corpus_is_large_enough() -> None:
    assert len(PAYLOADS) >= 60


def test_hostile_usernames_from_resolve_stay_in_their_attribute() -> None:
    """resolve returns usernames from the database; should one hold markup (names are
    validated at sign-up, but the admin or an import could store anything), it stays in
    data-user and in no other attribute or element."""
    hostile = '"><img src=x onerror=alert(1)>'
    out = render("hi @alice and @bob", lambda names: dict.fromkeys(names, hostile))
    assert_inert(out.html)
    spans = [attrs for tag, attrs in tags(out.html) if tag == "span"]
    assert [s["data-user"] for s in spans] == [hostile, hostile]
    assert out.mentions == [hostile]


# --- what a user expects -------------------------------------------------------------------


def test_bold_emphasis_strike_and_inline_code() -> None:
    out = render("**bold** *em* _em2_ ~~gone~~ `x < y`").html
    assert out == (
        "<p><strong>bold</strong> <em>em</em> <em>em2</em> <s>gone</s> <code>x &lt; y</code></p>"
    )


def test_a_fence_is_monospace_and_keeps_its_text() -> None:
    out = render("```python\ndef f():\n    return '<b>'\n```").html
    assert out == "<pre><code>def f():\n    return '&lt;b&gt;'\n</code></pre>"  # no class


def test_quotes_and_lists() -> None:
    assert render("> quoted").html == "<blockquote>\n<p>quoted</p>\n</blockquote>"
    assert render("- one\n- two").html == "<ul>\n<li>one</li>\n<li>two</li>\n</ul>"
    assert render("1. one\n2. two").html == "<ol>\n<li>one</li>\n<li>two</li>\n</ol>"
    assert render("3. three").html == '<ol start="3">\n<li>three</li>\n</ol>'


def _links(fragment: str) -> list[tuple[str | None, str]]:
    found = re.findall(r"<a ([^>]*)>(.*?)</a>", fragment)
    return [(dict(tags(f"<a {a}>")[0][1]).get("href"), text(t)) for a, t in found]


def test_a_bare_url_becomes_a_link_without_the_sentence_period() -> None:
    out = render("Docs: https://www.djangoproject.com/.").html
    assert _links(out) == [("https://www.djangoproject.com/", "https://www.djangoproject.com/")]
    assert text(out) == "Docs: https://www.djangoproject.com/."
    assert 'target="_blank"' in out and 'rel="noopener noreferrer nofollow"' in out
    assert_inert(out)


def test_markdown_links_and_autolinks() -> None:
    assert _links(render("[the docs](https://x.example/a?b=1&c=2)").html) == [
        ("https://x.example/a?b=1&c=2", "the docs")
    ]
    assert _links(render("<https://x.example/>").html) == [
        ("https://x.example/", "https://x.example/")
    ]
    assert _links(render("[write](mailto:bob@example.com)").html) == [
        ("mailto:bob@example.com", "write")
    ]
    assert _links(render("<mailto:bob@example.com>").html) == [
        ("mailto:bob@example.com", "mailto:bob@example.com")
    ]


@pytest.mark.parametrize(
    "body",
    [
        "[r](/relative/path)",
        "[r](relative.html)",
        "[q](?next=/x)",
        "[h](#top)",
        "[p](//evil.example/)",
        "[f](ftp://files.example/x)",
        "[t](tel:+123)",
        "[s](ssh://host)",
        "<ftp://files.example/x>",
        "www.example.com",  # no fuzzy links
        "file.py",
        "bob@example.com",  # no fuzzy e-mail
    ],
)
def test_relative_and_other_scheme_links_stay_plain_text(body: str) -> None:
    out = render(body).html
    assert "<a" not in out
    assert text(out) == body


@pytest.mark.parametrize("body", ["# Heading", "## Sub", "| a | b |\n| - | - |\n| 1 | 2 |"])
def test_headings_and_tables_stay_text(body: str) -> None:
    out = render(body).html
    assert not re.search(r"<(h\d|table|tr|td|th)\b", out)
    assert text(out).replace("\n", "") == body.replace("\n", "")


def test_an_image_is_never_an_img() -> None:
    out = render("![cat](https://x.example/cat.png)").html
    assert "<img" not in out
    assert_inert(out)


def test_an_image_shows_as_a_bang_and_a_link_to_it() -> None:
    # docs/protocol.md: nothing is loaded from it; the reader may follow the link.
    out = render("![cat](https://x.example/cat.png)").html
    assert text(out) == "!cat"
    assert '<a href="https://x.example/cat.png"' in out


def test_a_single_newline_is_a_line_break() -> None:
    assert render("one\ntwo").html == "<p>one<br>\ntwo</p>"
    assert render("one\n\ntwo").html == "<p>one</p>\n<p>two</p>"


def test_raw_html_is_escaped_not_dropped() -> None:
    body = '<b>bold?</b> <i onclick="x">y</i> <a href=/x>x</a>'
    out = render(body).html
    assert "<b>" not in out and "<i" not in out and "<a" not in out
    assert text(out) == body


def test_entities_and_escapes() -> None:
    assert text(render("&lt;b&gt; &amp; &copy;").html) == "<b> & ©"
    assert text(render("\\*not em\\*").html) == "*not em*"


# --- mentions ------------------------------------------------------------------------------


class Resolver:
    """A resolve that knows some users and records what it was asked."""

    def __init__(self, *usernames: str) -> None:
        self.users = {name.lower(): name for name in usernames}
        self.calls: list[list[str]] = []

    def __call__(self, names: Iterable[str]) -> dict[str, str]:
        names = list(names)
        self.calls.append(names)
        return {n: self.users[n] for n in names if n in self.users}


def _mentions(fragment: str) -> list[tuple[str | None, str]]:
    found = re.findall(r'<span class="mention" data-user="([^"]*)">(.*?)</span>', fragment)
    return [(html.unescape(user), text(shown)) for user, shown in found]


def test_a_mention_is_resolved_case_insensitively_and_keeps_what_was_typed() -> None:
    resolve = Resolver("Alice", "bob")
    out = render("hi @ALICE and @Bob, and @nobody.", resolve)
    assert resolve.calls == [["alice", "bob", "nobody"]]
    assert _mentions(out.html) == [("Alice", "@ALICE"), ("bob", "@Bob")]
    assert out.mentions == ["Alice", "bob"]
    assert "@nobody." in text(out.html)  # names nobody: plain text


def test_a_trailing_period_ends_the_name() -> None:
    out = render("thanks @alice.", Resolver("alice"))
    assert _mentions(out.html) == [("alice", "@alice")]
    assert text(out.html) == "thanks @alice."
    # A dot inside a name is part of it.
    assert render("@a.b.", Resolver("a.b")).mentions == ["a.b"]


@pytest.mark.parametrize(
    "body",
    [
        "`@alice`",
        "```\n@alice\n```",
        "mail alice@example.com",
        "bob@alice",
        "x_@alice",
        "https://example.com/@alice",
    ],
)
def test_no_mention_in_code_in_addresses_or_in_urls(body: str) -> None:
    resolve = Resolver("alice")
    out = render(body, resolve)
    assert out.mentions == []
    assert 'class="mention"' not in out.html
    assert resolve.calls == []  # nothing to look up: not even asked


def test_without_resolve_nothing_is_a_mention() -> None:
    out = render("@alice")
    assert out.mentions == [] and out.html == "<p>@alice</p>"


def test_mentions_in_markup_still_count() -> None:
    resolve = Resolver("alice", "bob", "carol")
    out = render("**@alice** [@bob](https://x.example) > @carol\n> @carol", resolve)
    assert out.mentions == ["alice", "bob", "carol"]
    assert_inert(out.html)


def test_at_most_mentions_max_candidates_are_looked_up() -> None:
    names = [f"user{i}" for i in range(MENTIONS_MAX + 30)]
    resolve = Resolver(*names)
    out = render(" ".join(f"@{n} @{n.upper()}" for n in names), resolve)
    assert len(resolve.calls) == 1  # one lookup, for every candidate together
    assert resolve.calls[0] == names[:MENTIONS_MAX]
    assert out.mentions == sorted(names[:MENTIONS_MAX])
    assert len(_mentions(out.html)) == 2 * MENTIONS_MAX  # both spellings of each
    assert text(out.html).count("@") == 2 * len(names)  # the rest stays text


# --- bodies that are slow for some Markdown parsers ----------------------------------------


@pytest.mark.parametrize(("kind", "body"), list(PATHOLOGICAL.items()), ids=list(PATHOLOGICAL))
def test_pathological_bodies_render_inert(kind: str, body: str) -> None:
    """The benchmark's bodies (bench/formatting.py KINDS): they render, and stay inert.
    How long they take is the benchmark's business, never a unit test's."""
    out = render(body, everyone)
    assert_inert(out.html)
    assert out.html  # nothing is lost entirely


@pytest.mark.parametrize(
    "body",
    [
        "> > > > > > > deep",
        "- - - - - - - deep\n\nthe rest of the message",
        "> " * 12 + "deep\n\nthe rest of the message",  # past the limit: rendered flat
        "".join("  " * i + "- item\n" for i in range(8)) + "deep\n\nthe rest of the message",
    ],
    ids=["quote", "list", "quote past the limit", "list past the limit"],
)
def test_deep_nesting_loses_no_text(body: str) -> None:
    shown = text(render(body).html)
    assert "deep" in shown and ("rest" in shown or "rest" not in body)


# --- over the parse's budget: shown as typed ------------------------------------------------


def test_a_body_dense_with_markup_is_shown_as_typed() -> None:
    under = "**x** " * (MARKUP_MAX // 4)
    assert render(under).html.count("<strong>x</strong>") == MARKUP_MAX // 4
    over = "**x** [y](https://y.example) " * (MARKUP_MAX // 4)  # 6 markup characters each
    out = render(over)
    assert text(out.html) == over
    assert "<strong>" not in out.html and "<a " not in out.html
    assert render("<b>hi</b> " * 200).html.startswith("<p>&lt;b&gt;hi&lt;/b&gt; ")


def test_many_lines_are_shown_as_typed_with_their_breaks_and_mentions() -> None:
    body = "hi @ALICE, see below\n" + "> - x\n" * LINES_MAX + "thanks @bob."
    resolve = Resolver("alice", "bob")
    out = render(body, resolve)
    assert "<blockquote>" not in out.html
    assert text(out.html) == body  # every line, each after a <br>
    assert out.html.count("<br>") == body.count("\n")
    assert resolve.calls == [["alice", "bob"]]
    assert _mentions(out.html) == [("alice", "@ALICE"), ("bob", "@bob")]
    assert out.mentions == ["alice", "bob"]


def test_fenced_code_does_not_count_against_the_budget() -> None:
    body = "```\n" + "if a[i] < b[j] and *p: x_y(&q)\n" * LINES_MAX + "```\nthat was **it**"
    out = render(body)
    assert "<pre><code>" in out.html and "<strong>it</strong>" in out.html


@pytest.mark.parametrize(
    "body",
    ["mail alice@example.com", "bob@alice", "x_@alice", "https://example.com/@alice", "@@alice"],
)
def test_shown_as_typed_there_is_no_mention_in_addresses_or_urls(body: str) -> None:
    resolve = Resolver("alice")
    out = render(body + "\n" * LINES_MAX, resolve)
    assert out.mentions == [] and 'class="mention"' not in out.html


def test_shown_as_typed_at_most_mentions_max_candidates_are_looked_up() -> None:
    names = [f"user{i}" for i in range(MENTIONS_MAX + 30)]
    resolve = Resolver(*names)
    out = render("\n".join(f"@{n}" for n in names) + "\n" * LINES_MAX, resolve)
    assert resolve.calls == [names[:MENTIONS_MAX]]
    assert out.mentions == sorted(names[:MENTIONS_MAX])
    # And at most that many are highlighted: the rest of 1,000 "@bob"s stays text.
    out = render("@bob " * 1000, Resolver("bob"))
    assert len(_mentions(out.html)) == MENTIONS_MAX and out.mentions == ["bob"]
    assert text(out.html) == "@bob " * 1000


@pytest.mark.parametrize(("label", "payload"), PAYLOADS, ids=[label for label, _ in PAYLOADS])
def test_corpus_payload_shown_as_typed_is_inert(label: str, payload: str) -> None:
    for padded in (payload + "\n" * LINES_MAX, payload + "[" * MARKUP_MAX + "@x "):
        assert_inert(render(padded, everyone).html)


def test_a_link_title_is_dropped() -> None:
    out = render('[x](https://x.example "a title")').html
    assert "title=" not in out


def test_the_allowlists_are_the_documented_ones() -> None:
    assert formatting.TAGS == ALLOWED_TAGS
    assert formatting.LINK_SCHEMES == LINK_SCHEMES
    documented = {"a": {"href"}, "ol": {"start"}, "span": {"data-user"}}
    assert documented == formatting.ATTRIBUTES


# --- any text at all -----------------------------------------------------------------------

MARKDOWN_ALPHABET = st.sampled_from(
    list("*_~`[]()!<>\"'&#;:/\\@.-+=|>\n\t ") + list("ajvscriptJS0123456789") + ["\u202e", "é"]
)
FRAGMENTS = st.sampled_from(
    [
        "javascript:",
        "JaVaScRiPt:",
        "java\tscript:",
        "&#106;",
        "&#x6A;",
        "&colon;",
        "data:",
        "vbscript:",
        "https://",
        "mailto:",
        "http://x.example/",
        "<img src=x onerror=alert(1)>",
        "<script>",
        "</script>",
        "<svg onload=alert(1)>",
        "<!--",
        "-->",
        "```",
        "`",
        "**",
        "~~",
        "> ",
        "- ",
        "1. ",
        "](",
        "[",
        "](<",
        ">)",
        ' "',
        "' ",
        "@alice",
        "@",
        "\n",
        "\n\n",
        "onerror=",
        "style=",
        "<a href=",
    ]
)
BODIES = st.one_of(
    st.text(max_size=300),
    st.text(MARKDOWN_ALPHABET, max_size=300),
    st.lists(st.one_of(FRAGMENTS, st.text(MARKDOWN_ALPHABET, max_size=5)), max_size=40).map(
        "".join
    ),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(BODIES)
def test_any_text_renders_inert(body: str) -> None:
    out = render(body, everyone)
    assert_inert(out.html)
    assert isinstance(out.mentions, list)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(MARKDOWN_ALPHABET, min_size=1, max_size=40))
def test_any_text_over_the_budget_renders_inert_and_as_typed(line: str) -> None:
    body = (line + "\n") * (LINES_MAX + 1)
    out = render(body, everyone)
    assert_inert(out.html)
    if formatting._over_budget(body):
        shown = body.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "\ufffd")
        assert text(out.html) == shown


def _parsed(body: str) -> str:
    """What the Markdown parser itself makes of `body` (render's fast path skips it)."""
    md = formatting._markdown()
    env: dict = {}
    return formatting._clean(md.renderer.render(md.parse(body, env), md.options, env))


PLAINISH = (
    st.text(alphabet=st.sampled_from(list("abcXYZ019 .,;?'\"-+=#%$()/|{}^é東\u00a0\t")), min_size=1)
    .map(str.strip)
    .filter(bool)
)


@settings(max_examples=400, deadline=None)
@given(PLAINISH)
def test_the_fast_path_for_plain_text_renders_what_the_parser_would(body: str) -> None:
    assert render(body).html == _parsed(body)
