"""Text from strangers: HTML to plain text with a real parser, control characters out, graphemes counted.

Everything here is pure. The result is plain text: never markup, never a control sequence.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import regex

from socialtui.text import strip_controls

_GRAPHEME_RE = regex.compile(r"\X")


def clean_line(value: object) -> str:
    """`socialtui.text.strip_controls`, on one line (display names, handles): newlines and tabs become
    spaces."""
    return " ".join(strip_controls(value).split())


def graphemes(text: str) -> int:
    """User-perceived characters (extended grapheme clusters): an emoji ZWJ sequence counts 1."""
    return len(_GRAPHEME_RE.findall(text))


_BLOCKS = frozenset(
    {"p", "div", "blockquote", "pre", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article"}
)
_VOID = frozenset(
    {"br", "img", "hr", "input", "meta", "link", "area", "base", "col", "embed", "source", "wbr"}
)
_PARAGRAPH = "\x00P"  # placeholders, out of band: control chars were removed from the data first
_NEWLINE = "\x00N"


class _TextParser(HTMLParser):
    """Mastodon content as a Mastodon client reads it.

    Paragraphs are separated by a blank line, `<br>` is a newline, mention and hashtag links keep
    their text (`@<span>user</span>` -> `@user`), and a link's `invisible` spans are hidden while an
    `ellipsis` span ends with `…` (Mastodon shortens long URLs that way). The fallback `RE: <link>`
    paragraph of a quote (`quote-inline`) is hidden, as quote-aware clients do. `<script>`/`<style>`
    content is shown as the text it is: nothing here runs anything.
    """

    def __init__(self, shorten_links: bool = True) -> None:
        super().__init__(convert_charrefs=True)
        self.shorten_links = shorten_links
        self.out: list[str] = []
        self._stack: list[tuple[str, bool, bool]] = []  # (tag, hidden, ellipsis)
        self._hidden = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = set()
        for name, value in attrs:
            if name == "class" and value:
                classes.update(value.split())
        if tag == "br":
            if not self._hidden:
                self.out.append(_NEWLINE)
            return
        if tag in _VOID:
            return
        if tag in _BLOCKS:
            self.out.append(_PARAGRAPH)
        elif tag == "li":
            self.out.append(_NEWLINE + "- ")
        if tag == "pre":
            self._pre += 1
        hidden = "quote-inline" in classes or (self.shorten_links and "invisible" in classes)
        if hidden:
            self._hidden += 1
        self._stack.append((tag, hidden, self.shorten_links and "ellipsis" in classes))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" and not self._hidden:
            self.out.append(_NEWLINE)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        # Close up to the matching open tag (HTML from strangers is not always well nested).
        for index in range(len(self._stack) - 1, -1, -1):
            if self._stack[index][0] == tag:
                break
        else:
            return
        while len(self._stack) > index:
            open_tag, hidden, ellipsis = self._stack.pop()
            if hidden:
                self._hidden -= 1
            if ellipsis and not self._hidden:
                self.out.append("…")
            if open_tag == "pre":
                self._pre -= 1
            if open_tag in _BLOCKS:
                self.out.append(_PARAGRAPH)

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        data = strip_controls(data)
        if not self._pre:
            data = re.sub(r"\s+", " ", data)
        else:
            data = data.replace("\n", _NEWLINE)
        self.out.append(data)

    def text(self) -> str:
        raw = "".join(self.out)
        parts = re.split(r"((?:\x00[PN])+)", raw)
        lines: list[str] = []
        for index, part in enumerate(parts):
            if index % 2 == 0:
                lines.append(part)
            else:
                lines.append("\n\n" if _PARAGRAPH in part else "\n" * part.count(_NEWLINE))
        text = "".join(lines)
        # Trim the spaces around line breaks that HTML layout would not show.
        text = re.sub(r"[ \t]*\n[ \t]*", "\n", text)
        text = re.sub(r"\n{3,}", "\n\n", text)
        return text.strip()


def html_to_text(html: str | None, *, shorten_links: bool = True) -> str:
    """Mastodon status HTML (or any HTML from a stranger) as plain text.

    `shorten_links=False` keeps links whole (the `invisible` parts shown, no `…`): for comparing
    with the text that was sent.
    """
    if not html:
        return ""
    parser = _TextParser(shorten_links)
    parser.feed(html)
    parser.close()
    return parser.text()


__all__ = ["clean_line", "graphemes", "html_to_text"]
