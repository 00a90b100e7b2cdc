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
    if pos > 0 and (state.src[pos - 1].isalnum() or state.src[pos - 1] in "_@"):
        return False
    match = _MENTION.match(state.src, pos)
    if match is None:
        return False
    name = match.group(1).rstrip(".")
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
