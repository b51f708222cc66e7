"""Text as the real servers shape it: Mastodon HTML content, Bluesky facets (UTF-8 byte offsets),
length rules (graphemes), and the timestamp formats of both APIs."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

import regex

# Mastodon's Account::MENTION_RE, close enough: `@user` or `@user@domain`, not inside a word or URL.
MASTODON_MENTION_RE = re.compile(
    r"(?<![=/\w])@([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)(?:@([\w.-]+\w))?", re.IGNORECASE
)
URL_RE = re.compile(r"https?://[^\s<>\"'\u200b-\u200f\u202a-\u202e]+")
HASHTAG_RE = re.compile(r"(?<![\w/&#])#(\w*[^\W\d_]\w*)")
# The official Bluesky client's mention detection: after start, whitespace or `(`.
BLUESKY_MENTION_RE = re.compile(r"(^|\s|\()@([a-zA-Z0-9.-]+)(\b)")
TRAILING_PUNCTUATION = ".,;:!?)]}'\""
URL_LENGTH = 23
"""Mastodon counts every URL as 23 characters (`characters_reserved_per_url`)."""


def iso_ms(at: datetime) -> str:
    """`2026-11-21T11:44:24.444Z`: the timestamp format of both APIs' JSON."""
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def http_date(at: datetime) -> str:
    """`Sat, 21 Nov 2026 11:44:25 GMT`: the `Date` header."""
    return format_datetime(at.astimezone(UTC).replace(microsecond=0), usegmt=True)


def graphemes(text: str) -> int:
    """User-perceived characters (extended grapheme clusters), as both networks count them."""
    return len(regex.findall(r"\X", text))


def _strip_url(url: str) -> str:
    while url and url[-1] in TRAILING_PUNCTUATION:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def find_urls(text: str) -> list[tuple[int, int, str]]:
    """(start, end, url) of every http(s) URL, trailing punctuation left out."""
    out = []
    for match in URL_RE.finditer(text):
        url = _strip_url(match.group(0))
        if len(url) > len("https://"):
            out.append((match.start(), match.start() + len(url), url))
    return out


# --- Mastodon -------------------------------------------------------------------------------------


def find_mastodon_mentions(text: str) -> list[tuple[int, int, str, str | None]]:
    """(start, end, username, domain or None) of every `@user` / `@user@domain` in `text`."""
    urls = find_urls(text)
    out = []
    for match in MASTODON_MENTION_RE.finditer(text):
        if any(start <= match.start() < end for start, end, _ in urls):
            continue
        out.append((match.start(), match.end(), match.group(1), match.group(2)))
    return out


def mastodon_length(text: str, spoiler_text: str = "") -> int:
    """Mastodon's status length: graphemes, URLs as 23, remote mentions as their local part."""
    countable = text
    for start, end, _url in reversed(find_urls(countable)):
        countable = countable[:start] + "x" * URL_LENGTH + countable[end:]
    countable = MASTODON_MENTION_RE.sub(lambda m: "@" + m.group(1), countable)
    return graphemes(countable) + graphemes(spoiler_text)


@dataclass(frozen=True)
class MentionSpan:
    """Where a resolved mention sits in a status text, and whom it names."""

    start: int
    end: int
    account_id: str
    username: str
    url: str


def _link_html(url: str) -> str:
    scheme = re.match(r"https?://(www\.)?", url)
    prefix = scheme.group(0) if scheme else ""
    rest = url[len(prefix) :]
    shown, hidden = rest[:30], rest[30:]
    cls = "ellipsis" if hidden else ""
    return (
        f'<a href="{html.escape(url)}" rel="nofollow noreferrer noopener" target="_blank">'
        f'<span class="invisible">{html.escape(prefix)}</span>'
        f'<span class="{cls}">{html.escape(shown)}</span>'
        f'<span class="invisible">{html.escape(hidden)}</span></a>'
    )


def _inline_html(text: str, base_url: str) -> str:
    """Escape a stretch of plain text, turning URLs and hashtags into links."""
    tokens: list[tuple[int, int, str]] = []
    for start, end, url in find_urls(text):
        tokens.append((start, end, _link_html(url)))
    for match in HASHTAG_RE.finditer(text):
        if any(s <= match.start() < e for s, e, _ in tokens):
            continue
        tag = match.group(1)
        tokens.append(
            (
                match.start(),
                match.end(),
                f'<a href="{html.escape(base_url)}/tags/{html.escape(tag.lower())}" '
                f'class="mention hashtag" rel="tag">#<span>{html.escape(tag)}</span></a>',
            )
        )
    tokens.sort()
    out, pos = [], 0
    for start, end, markup in tokens:
        out.append(html.escape(text[pos:start]))
        out.append(markup)
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)


def mastodon_html(text: str, mentions: list[MentionSpan], base_url: str) -> str:
    """The HTML `content` of a status: `<p>` per paragraph, `<br>` per line break, h-card mentions,
    links and hashtags; everything else escaped (strangers' text never becomes markup)."""
    text = text.replace("\r\n", "\n").strip("\n")
    pieces: list[str] = []
    pos = 0
    for span in sorted(mentions, key=lambda s: s.start):
        pieces.append(_with_breaks(text[pos : span.start], base_url))
        pieces.append(
            f'<span class="h-card"><a href="{html.escape(span.url)}" class="u-url mention" '
            f'rel="nofollow noreferrer noopener" target="_blank">@<span>{html.escape(span.username)}'
            "</span></a></span>"
        )
        pos = span.end
    pieces.append(_with_breaks(text[pos:], base_url))
    body = "".join(pieces)
    paragraphs = [p for p in re.split(r"(?:<br>){2,}", body) if p]
    return "".join(f"<p>{p}</p>" for p in paragraphs) or "<p></p>"


def _with_breaks(text: str, base_url: str) -> str:
    return "<br>".join(_inline_html(line, base_url) for line in text.split("\n"))


# --- Bluesky --------------------------------------------------------------------------------------


def byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def bluesky_facets(text: str, resolve_handle: Callable[[str], str | None]) -> list[dict]:
    """Facets as the official client detects them: mentions (with DIDs), links and tags, with
    UTF-8 byte offsets. Mentions whose handle does not resolve are left as plain text."""
    facets: list[dict] = []
    for match in BLUESKY_MENTION_RE.finditer(text):
        handle = match.group(2).rstrip(".")
        did = resolve_handle(handle.lower()) if "." in handle else None
        if not did:
            continue
        start = match.start(2) - 1
        end = match.start(2) + len(handle)
        facets.append(
            {
                "index": {"byteStart": byte_offset(text, start), "byteEnd": byte_offset(text, end)},
                "features": [{"$type": "app.bsky.richtext.facet#mention", "did": did}],
            }
        )
    for start, end, url in find_urls(text):
        facets.append(
            {
                "index": {"byteStart": byte_offset(text, start), "byteEnd": byte_offset(text, end)},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": url}],
            }
        )
    for match in HASHTAG_RE.finditer(text):
        facets.append(
            {
                "index": {
                    "byteStart": byte_offset(text, match.start()),
                    "byteEnd": byte_offset(text, match.end()),
                },
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": match.group(1)}],
            }
        )
    facets.sort(key=lambda f: f["index"]["byteStart"])
    return facets
