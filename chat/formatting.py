"""Message bodies as safe HTML: a Markdown subset rendered once per post or edit, on the server.

markdown-it-py parses (emphasis, strong, strikethrough, inline code, fenced code blocks,
block quotes, lists, links, autolinked URLs, @mentions); raw HTML in the source is escaped,
never passed. nh3 (Ammonia) then sanitizes the result against an allowlist of tags and
attributes, so even a bug in the renderer or a plugin cannot let a script, an event handler,
a `style` or a `javascript:` link through. Nothing else in the project builds HTML from what
a user typed: every client gets `html` from here, or shows `body` as text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_inline import StateInline

# Schemes that may become a link; anything else stays text (markdown-it's validateLink)
# and is stripped again by the sanitizer (url_schemes) should it get through.
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
# At most this many distinct @names are looked up per message (a body of 1,000 "@x"s must
# not become 1,000 lookups).
MENTIONS_MAX = 50

TAGS = {
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
ATTRIBUTES = {"a": {"href"}, "ol": {"start"}, "span": {"data-user"}}
CLASSES = {"span": {"mention"}}

# A username as Django's default validator allows it (letters, digits, . + - _; no @ so an
# e-mail address is not a mention), after "@" at a word start. A trailing "." ends a sentence.
_MENTION = re.compile(r"@([\w.+-]{1,150})")
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):", re.IGNORECASE)
# A body of one line without a character any enabled rule starts at (emphasis, code, links,
# autolinks, URLs, entities, escapes, mentions, quotes), nor a list marker at its start.
_PLAIN = re.compile(r"[^*_~`\[\]<>!&\\@:\n\r\x00]*")
_BLOCK_START = re.compile(r"([-+]|\d{1,9}[.)])(\s|$)")


@dataclass(frozen=True, slots=True)
class Rendered:
    html: str
    mentions: list[str]  # usernames mentioned, as stored (resolved), sorted


Resolve = Callable[[Iterable[str]], dict[str, str]]


def render(body: str, resolve: Resolve | None = None) -> Rendered:
    """`body` as sanitized HTML, and the users it mentions.

    `resolve` maps the @names found outside code (lowercased) to the usernames they name,
    leaving out the ones that do not exist or cannot see the room; only those are
    highlighted. It is asked once, with every candidate together (one query)."""
    if _PLAIN.fullmatch(body) and not _BLOCK_START.match(body):
        # Nothing any rule could act on (most messages): one paragraph of escaped text,
        # exactly what the parser would make, without its ~0.1 ms.
        return Rendered(html=_clean(f"<p>{escapeHtml(body)}</p>"), mentions=[])
    if _over_budget(body):
        return _as_text(body, resolve)
    md = _markdown()
    env: dict[str, Any] = {}
    tokens = md.parse(body, env)
    if _too_deep(tokens):
        md, env = _markdown(flat=True), {}
        tokens = md.parse(body, env)
    candidates = _candidates(tokens)
    names = resolve(candidates) if (resolve is not None and candidates) else {}
    env["mentions"] = names
    html = _clean(md.renderer.render(tokens, md.options, env))
    return Rendered(html=html, mentions=sorted(set(names.values())))


# The parse's budget. markdown-it-py runs its rules in Python, per character of markup
# (~5 us for a `[` or a `*` that opens nothing) and per line for every level of quote or
# list around it (~2.5 us): a 4,000-character body of nothing but markup, or of 2,000
# lines under a deep quote, took 20-50 ms. A body with more markup characters or more
# lines than people write, outside fenced code (which is scanned once, never parsed for
# markup), is shown as its text instead: escaped, its line breaks kept, its @mentions
# still found. Every body then renders in a few ms (docs/benchmarks.md, "Formatting").
MARKUP_MAX = 400
LINES_MAX = 150
_MARKUP = re.compile(r"[*_~`\[\]<>!&\\@]")
_URLISH = re.compile(r"[a-z][a-z0-9+.-]*://\S*", re.IGNORECASE)
# A fenced block (``` or ~~~) from its opening line to its closing one, or to the end.
_FENCED = re.compile(r"^ {0,3}(`{3,}|~{3,})[^\n]*\n(?:.*?^ {0,3}\1[`~]*[ \t]*$|.*\Z)", re.M | re.S)


def _over_budget(body: str) -> bool:
    if len(body) < LINES_MAX:
        return False  # too short to hold either
    outside = _FENCED.sub("", body) if "```" in body or "~~~" in body else body
    return outside.count("\n") >= LINES_MAX or len(_MARKUP.findall(outside)) > MARKUP_MAX


def _as_text(body: str, resolve: Resolve | None) -> Rendered:
    """`body` shown as typed (over the parse's budget): one paragraph of escaped text with
    its line breaks, and the @names the parser's rule would see (not in a word, an
    address or a URL) highlighted when they resolve: the first MENTIONS_MAX of them, and
    those are the users mentioned."""
    body = body.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "\ufffd")
    found = _mentions_in_text(body)
    candidates = list(dict.fromkeys(name.lower() for _, name in found))[:MENTIONS_MAX]
    names = resolve(candidates) if (resolve is not None and candidates) else {}
    parts, done, shown = [], 0, []
    for start, name in found:
        username = names.get(name.lower())
        if username is None:
            continue
        if len(shown) == MENTIONS_MAX:
            break  # a body of 1,000 mentions: the first are enough (each costs the cleaner)
        shown.append(username)
        end = start + 1 + len(name)
        parts.append(escapeHtml(body[done:start]))
        parts.append(f'<span class="mention" data-user="{escapeHtml(username)}">')
        parts.append(escapeHtml(body[start:end]) + "</span>")
        done = end
    parts.append(escapeHtml(body[done:]))
    html = "<p>" + "".join(parts).replace("\n", "<br>\n") + "</p>"
    return Rendered(html=_clean(html), mentions=sorted(set(shown)))


def _mentions_in_text(body: str) -> list[tuple[int, str]]:
    """(position, name) of each @mention in `body`, outside the URLs in it."""
    urls = [match.span() for match in _URLISH.finditer(body)]
    found, i = [], 0
    for match in _MENTION.finditer(body):
        start = match.start()
        while i < len(urls) and urls[i][1] <= start:
            i += 1
        if i < len(urls) and urls[i][0] <= start:
            continue  # https://example.com/@alice is an address
        name = _mention_at(body, match)
        if name:
            found.append((start, name))
    return found


def _mention_at(text: str, match: re.Match[str]) -> str:
    """The name of the @mention `match` found, or "" where the parser's rule would see none
    (inside a word or an address)."""
    pos = match.start()
    if pos > 0 and (text[pos - 1].isalnum() or text[pos - 1] in "_@"):
        return ""
    return match.group(1).rstrip(".")


def _candidates(tokens: list[Any]) -> list[str]:
    found: dict[str, None] = {}
    for token in tokens:
        for child in token.children or ():
            if child.type == "mention" and len(found) < MENTIONS_MAX:
                found[child.meta["name"].lower()] = None
    return list(found)


def _valid_link(url: str) -> bool:
    match = _SCHEME.match(url.strip())
    return match is not None and match.group(1).lower() in LINK_SCHEMES


def _mention_rule(state: StateInline, silent: bool) -> bool:
    """`@name` at a word start (not inside "bob@example.com")."""
    pos = state.pos
    if state.src[pos] != "@":
        return False
    match = _MENTION.match(state.src, pos)
    if match is None:
        return False
    name = _mention_at(state.src, match)
    if not name:
        return False
    if not silent:
        token = state.push("mention", "", 0)
        token.meta = {"name": name}
        token.content = "@" + name
    state.pos = pos + 1 + len(name)
    return True


def _render_mention(self: Any, tokens: list[Any], idx: int, options: Any, env: dict) -> str:
    token = tokens[idx]
    username = env.get("mentions", {}).get(token.meta["name"].lower())
    text = escapeHtml(token.content)
    if username is None:
        return text
    return f'<span class="mention" data-user="{escapeHtml(username)}">{text}</span>'


# Nesting limits. Blocks (quotes, lists) cost time per level on every line (a lazy line
# of a quote N deep is looked at N times), and markdown-it drops the rest of a body nested
# past its limit; so the limit is what people write (quotes in lists in quotes), and a
# body that reaches it is rendered again without quotes and lists, losing no text. Inline
# nesting (brackets in a link in emphasis) costs time per level on every "[", and text past
# its limit stays text: a small one.
BLOCK_NESTING = 10
INLINE_NESTING = 6


@lru_cache(maxsize=2)
def _markdown(flat: bool = False) -> MarkdownIt:
    inline = _configured(INLINE_NESTING)
    md = _configured(BLOCK_NESTING, containers=not flat)

    def parse_inline(state: Any) -> None:  # the core "inline" rule, with inline's limit
        for token in state.tokens:
            if token.type == "inline":
                inline.inline.parse(token.content, inline, state.env, token.children)

    md.core.ruler.at("inline", parse_inline)
    return md


def _too_deep(tokens: list[Any]) -> bool:
    """Whether the block parser reached its nesting limit (and so may have dropped text)."""
    return any(t.nesting == 1 and t.level >= BLOCK_NESTING - 1 for t in tokens)


def _configured(nesting: int, *, containers: bool = True) -> MarkdownIt:
    # "zero" enables nothing; the subset is switched on by name, so a markdown-it upgrade
    # adding a rule to a preset cannot widen what users may write.
    md = MarkdownIt("zero", {"breaks": True, "linkify": True, "html": False, "maxNesting": nesting})
    md.enable(
        [
            "emphasis",
            "strikethrough",
            "backticks",
            "fence",
            *(("blockquote", "list") if containers else ()),
            "link",
            "autolink",
            "linkify",
            "newline",
            "escape",
            "entity",
        ]
    )
    md.linkify.set({"fuzzy_link": False, "fuzzy_email": False})  # "file.py" is no link
    md.validateLink = _valid_link
    md.inline.ruler.before("emphasis", "mention", _mention_rule)
    md.add_render_rule("mention", _render_mention)
    md.add_render_rule("link_open", _render_link_open)
    return md


def _render_link_open(self: Any, tokens: list[Any], idx: int, options: Any, env: dict) -> str:
    # A link's "title" would pass nh3 (it keeps title and lang on any tag): not in our
    # allowlist, so it goes here, where the only other source of attributes is.
    tokens[idx].attrs.pop("title", None)
    return self.renderToken(tokens, idx, options, env)


@lru_cache(maxsize=1)
def _cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=TAGS,
        attributes=ATTRIBUTES,
        allowed_classes=CLASSES,
        url_schemes=set(LINK_SCHEMES),
        url_relative="deny",
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )


def _clean(html: str) -> str:
    return _cleaner().clean(html).strip()
