"""The detail pane: the whole item, the thread around it (fetched on demand), and what the team knows
about its author: notes, tags and past conversations with any of our accounts.

Also the pieces the composer shows: `post_content` and `contact_content`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from socialtui.care import QueueEntry
from socialtui.config import AccountConfig
from socialtui.model import Author, Item, OutboxEntry, Post
from socialtui.timespec import local_time, zone_label
from socialtui.tui.data import ContactView
from socialtui.tui.render import (
    STATE_STYLE,
    account_label,
    account_style,
    age,
    author_label,
    claim_text,
    inert,
    line_of,
    preview,
)

Part = str | tuple[str, str] | Content


@dataclass(frozen=True)
class ThreadState:
    """The thread around an item, as far as we know it."""

    item_id: str = ""
    state: str = "idle"
    """`idle` (not asked for), `loading`, `ok` or `error`."""
    posts: tuple[Post, ...] = ()
    error: str = ""


def _when(at: datetime, tz: tzinfo) -> str:
    """`18 Nov 14:00 CET`: each time in the pane stands in a line of its own, so each is labelled."""
    return local_time(at, tz, "%d %b %H:%M")


def post_content(
    post: Post,
    accounts: Mapping[str, AccountConfig],
    tz: tzinfo,
    *,
    focus: bool = False,
    indent: str = "  ",
    labelled: bool = True,
) -> Content:
    """One post: author, time, then its text, indented. Our own posts carry their account's colour.

    `labelled=False` in a thread, whose title names the zone once (`thread_title`)."""
    account = accounts.get(post.account)
    ours = post.own or (
        account is not None and account.handle.lstrip("@").lower() == post.author.handle.lower()
    )
    author_style = account_style(account) if ours else ("bold $foreground" if focus else "bold")
    head: list[Part] = [
        ("▶ " if focus else "  ", "$accent bold"),
        (author_label(post.author, 60), author_style),
    ]
    when = local_time(post.created_at, tz, "%d %b %H:%M", labelled=labelled)
    head.append((f" · {when}", "$text-muted"))
    if post.visibility and post.visibility != "public":
        head.append((f" · {post.visibility}", "$warning"))
    lines = [Content.assemble(*head)]
    if post.spoiler_text:
        lines.append(
            Content.assemble(indent, ("CW: ", "$warning bold"), (line_of(post.spoiler_text, 200), "$warning"))
        )
    body_style = "" if focus else "$text-muted" if not ours else ""
    for text_line in (inert(post.text) or " ").split("\n"):
        lines.append(Content.assemble(indent, (text_line, body_style)))
    return Content("\n").join(lines)


def thread_title(title: str, posts: Iterable[Post], tz: tzinfo) -> Content:
    """`── replies (CET times)`: a thread's posts are a list of times, so the zone is said once."""
    zone = zone_label(tz, *(post.created_at for post in posts))
    return Content.assemble((f"── {title} ", "bold $secondary"), (f"({zone} times)", "$text-muted"))


def thread_around(
    thread: ThreadState, item: Item, accounts: Mapping[str, AccountConfig], tz: tzinfo
) -> tuple[Content, Content]:
    """The thread split around the item: (what came before it, what came after it)."""
    if thread.state == "loading":
        return Content.styled("fetching the thread…", "$text-muted"), Content("")
    if thread.state == "error":
        problem = f"could not fetch the thread: {line_of(thread.error, 200)}"
        return Content.styled(problem, "$error"), Content("")
    if thread.state != "ok":
        return Content(""), Content("")
    ids = [post.remote_id for post in thread.posts]
    at = ids.index(item.post.remote_id) if item.post.remote_id in ids else len(ids)
    earlier, later = thread.posts[:at], thread.posts[at + 1 :]
    before = [post_content(post, accounts, tz, labelled=False) for post in earlier]
    after = [post_content(post, accounts, tz, labelled=False) for post in later]
    above = (
        Content("\n").join([thread_title("thread, before it", earlier, tz), *before])
        if before
        else Content("")
    )
    below = Content("\n").join([thread_title("replies", later, tz), *after]) if after else Content("")
    if not before and not after:
        above = Content.styled("(no other posts in this thread)", "$text-muted")
    return above, below


def contact_name(view: ContactView) -> Content:
    """Who the dossier is about, as an operator reads people (`Riley (riley.bsky.social)`), and on
    which network; the dossier's key (a DID, for Bluesky) only when no name is known."""
    contact = view.contact
    author: Author | None = None
    if contact is not None and contact.handle and not contact.handle.startswith("did:"):
        author = Author(contact.network, contact.handle, display_name=contact.display_name)
    else:  # the person as they last wrote to us (a handle that changed shows as it is now)
        authors = [
            c.item.post.author for c in view.conversations if c.item.post.author.contact_key == view.key
        ]
        author = authors[0] if authors else None
    if author is None:
        return Content.styled(line_of(view.key, 80), "$text-muted")
    return Content.assemble((author_label(author, 60), "bold"), (f"  on {author.network}", "$text-muted"))


def contact_content(
    view: ContactView | None, accounts: Mapping[str, AccountConfig], tz: tzinfo, *, compact: bool = False
) -> Content:
    """The author's notes, tags and past conversations with any of our accounts (`compact`: the
    latest three, for the composer's side column)."""
    title = Content.styled("── contact ", "bold $secondary")
    if view is None:
        return Content("\n").join([title, Content.styled("reading the contact…", "$text-muted")])
    contact = view.contact
    lines: list[Content] = [title, contact_name(view)]
    if contact is not None and contact.tags:
        lines.append(Content.assemble("tags: ", (", ".join(line_of(t, 30) for t in contact.tags), "$accent")))
    if contact is None or not contact.notes:
        lines.append(Content.styled("no notes yet (n adds one)", "$text-muted"))
    else:
        for note in contact.notes[-(3 if compact else 10) :]:
            lines.append(
                Content.assemble(
                    ("• ", "$accent"),
                    (f"{_when(note.at, tz)} {line_of(note.operator, 20)}: ", "$text-muted"),
                    inert(note.text),
                )
            )
    if not view.conversations:
        lines.append(Content.styled("first conversation with us", "$text-muted"))
        return Content("\n").join(lines)
    shown = view.conversations[: 3 if compact else len(view.conversations)]
    lines.append(
        Content.styled(
            f"past conversations: {view.total}"
            + (f", latest {len(shown)}" if view.total > len(shown) else ""),
            "bold",
        )
    )
    for convo in shown:
        account = accounts.get(convo.item.account)
        lines.append(
            Content.assemble(
                (f"{_when(convo.item.received_at, tz)} ", "$text-muted"),
                (convo.item.account, account_style(account)),
            )
        )
        lines.append(Content.assemble("  “", preview(convo.item.post.text, 120), "”"))
        for reply in convo.replies[:2]:
            lines.append(Content.assemble("  ↳ ", (preview(reply.text, 120), account_style(account))))
        if not convo.replies:
            outcome = f"done: {line_of(convo.done_reason, 40)}" if convo.done_reason else "no reply"
            lines.append(Content.styled(f"  ↳ {outcome}", "$text-muted"))
    return Content("\n").join(lines)


def item_head(
    item: Item,
    entry: QueueEntry | None,
    account: AccountConfig | None,
    now: datetime,
    operator: str,
    tz: tzinfo,
) -> Content:
    """Which account, what kind, how old against the target, who claimed it; the author and when."""
    first: list[Part] = [account_label(account) if account else Content(item.account), f"  {item.kind}"]
    if entry is not None:
        waited = age((now - item.received_at).total_seconds())
        first += [" · waiting ", (f"{waited} {entry.state}", STATE_STYLE.get(entry.state, ""))]
        if math.isinf(entry.target_s):
            target = "no target: nobody asked us"  # talk without reply_within_talk
        else:
            target = f"target {age(entry.target_s)}"
            if account is not None and not account.active_hours.always:
                target += f", {age(entry.age_s)} of active hours"
            if entry.state != "late":
                target += f", {age(entry.left_s)} left"
        first.append((f" ({target})", "$text-muted"))
        if entry.claim is not None:
            first += [" · ", (f"claimed by {claim_text(entry.claim, now, operator)}", "$warning")]
    else:
        first += [" · ", ("answered", "$success bold")]
    post = item.post
    second: list[Part] = [
        ("from ", "$text-muted"),
        (author_label(post.author, 80), "bold"),
        (f" · {_when(post.created_at, tz)} · {post.visibility or 'public'} · id {item.id}", "$text-muted"),
    ]
    lines = [Content.assemble(*first), Content.assemble(*second)]
    if item.kind == "talk":
        lines.append(
            Content.styled("talk: they named us without addressing us; a reply would be unasked", "$warning")
        )
    if entry is not None and entry.tone.label != "neutral":
        style = "$error bold" if entry.tone.negative else "$success"
        lines.append(Content.assemble(("tone ", "$text-muted"), (line_of(entry.tone.reason, 120), style)))
    if post.spoiler_text:
        lines.append(
            Content.assemble(("CW: ", "$warning bold"), (line_of(post.spoiler_text, 200), "$warning"))
        )
    return Content("\n").join(lines)


def failed_reply_lines(failed: OutboxEntry | None) -> list[Content]:
    """A reply that failed for good: the server's reason (cleaned), the text, and what to do."""
    if failed is None:
        return []
    reason = line_of(failed.error, 300) or "refused by the server"
    return [
        Content.assemble(("✖ reply failed: ", "$error bold"), (reason, "$error")),
        Content.assemble(
            ("  by ", "$text-muted"), failed.operator, ("  text: ", "$text-muted"), line_of(failed.text, 200)
        ),
        Content.styled("  r: edit and send again   X: discard it", "$text-muted"),
    ]


class DetailPane(VerticalScroll):
    """The item in full, with its thread and its author's dossier (all set by the screen)."""

    DEFAULT_CLASSES = "detail"

    item: reactive[Item | None] = reactive(None)
    """The item shown."""
    thread: reactive[ThreadState] = reactive(ThreadState())
    contact: reactive[ContactView | None] = reactive(None)

    def __init__(
        self, accounts: Mapping[str, AccountConfig], operator: str, tz: tzinfo, *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.accounts = dict(accounts)
        self.operator = operator
        self.tz = tz
        self.entry: QueueEntry | None = None
        self.now: datetime | None = None
        self.failed: OutboxEntry | None = None
        """The reply to the item that failed for good and waits for an operator, if any."""

    def compose(self) -> ComposeResult:
        yield Static(id="detail-head")
        yield Static(id="detail-above", classes="-thread")
        yield Static(id="detail-text")
        yield Static(id="detail-below", classes="-thread")
        yield Static(id="detail-contact")

    def show(
        self, item: Item | None, entry: QueueEntry | None, now: datetime, failed: OutboxEntry | None = None
    ) -> None:
        """Show `item` (its queue entry, if still unanswered, gives age and claim; `failed`, the reply
        to it that failed for good)."""
        self.entry = entry
        self.now = now
        self.failed = failed
        changed = item is None or self.item is None or item.id != self.item.id
        if changed:
            self.thread = ThreadState()
            self.contact = None
            self.scroll_home(animate=False)
        self.item = item
        self._show_head()

    def watch_item(self) -> None:
        self._show_all()

    def watch_thread(self) -> None:
        self._show_thread()

    def watch_contact(self) -> None:
        self._show_contact()

    def _show_all(self) -> None:
        self._show_head()
        self._show_thread()
        self._show_contact()

    def _show_head(self) -> None:
        if not self.is_mounted:
            return
        head = self.query_one("#detail-head", Static)
        text = self.query_one("#detail-text", Static)
        item = self.item
        if item is None:
            head.update(Content.styled("Nothing selected. The queue is empty, or filtered.", "$text-muted"))
            text.update("")
            return
        head.update(
            item_head(
                item,
                self.entry,
                self.accounts.get(item.account),
                self.now or item.received_at,
                self.operator,
                self.tz,
            )
        )
        body = Content("\n").join(
            failed_reply_lines(self.failed)
            + [Content.styled("── the item ", "bold $secondary"), Content(inert(item.post.text) or " ")]
            + ([Content.styled(line_of(item.post.url, 200), "$text-muted")] if item.post.url else [])
        )
        text.update(body)

    def _show_thread(self) -> None:
        if not self.is_mounted:
            return
        above = self.query_one("#detail-above", Static)
        below = self.query_one("#detail-below", Static)
        if self.item is None:
            above.display = below.display = False
            return
        before, after = thread_around(self.thread, self.item, self.accounts, self.tz)
        above.update(before)
        below.update(after)
        above.display = bool(before.plain)
        below.display = bool(after.plain)

    def _show_contact(self) -> None:
        if not self.is_mounted:
            return
        widget = self.query_one("#detail-contact", Static)
        if self.item is None:
            widget.update("")
            return
        widget.update(contact_content(self.contact, self.accounts, self.tz))
