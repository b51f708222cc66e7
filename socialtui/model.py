"""The domain, as plain dataclasses: what the store keeps and the care rules reason about.

Every timestamp is an aware datetime in UTC. Records go to and from the store as plain dicts
(`to_record` / `from_record`), with datetimes as ISO-8601 strings.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import MISSING as MISSING_FIELD
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import UTC, datetime, tzinfo
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from socialtui.timespec import local_time

if TYPE_CHECKING:
    from socialtui.model_work import (
        AuditEvent,
        Contact,
        ContactNote,
        Draft,
        HandedAccount,
        HandedDraft,
        HandedItem,
        HandoffAck,
        HandoffDraft,
        HandoffNote,
        ItemState,
        OpenWork,
    )

NETWORKS = ("mastodon", "bluesky")
ITEM_KINDS = ("mention", "reply", "quote", "talk")
"""`talk`: a post that names the brand (a watch term) without addressing the account."""
VISIBILITIES = ("public", "unlisted", "private", "direct")

Network = Literal["mastodon", "bluesky"]
ItemKind = Literal["mention", "reply", "quote", "talk"]


@dataclass(frozen=True, slots=True)
class Author:
    """Someone who wrote a post: one of our accounts or a stranger."""

    network: str
    handle: str
    """Mastodon: the full `user@domain` acct, without a leading @; Bluesky: the handle."""
    id: str = ""
    """Mastodon: the account id on our server; Bluesky: the DID."""
    display_name: str = ""
    url: str = ""

    @property
    def contact_key(self) -> str:
        """The key of this person's contact dossier: network and the most stable identifier."""
        if self.network == "bluesky" and self.id:
            return f"bluesky:{self.id}"
        return f"{self.network}:{self.handle.lstrip('@').lower()}"

    @property
    def label(self) -> str:
        """How an operator reads the author: `@user@domain` or `handle.bsky.social`."""
        return f"@{self.handle}" if self.network == "mastodon" else self.handle


@dataclass(frozen=True, slots=True)
class Post:
    """A post as seen through one managed account: ours, addressed to us, or from the home timeline."""

    account: str
    """The managed account (config id) through which we saw it."""
    remote_id: str
    """Mastodon: the status id (an opaque string); Bluesky: the at:// URI."""
    author: Author
    text: str
    """Plain text (Mastodon HTML already turned into text). Strangers' words: never markup."""
    created_at: datetime
    url: str = ""
    cid: str = ""
    """Bluesky: the record's CID (for strong refs)."""
    reply_to: str = ""
    """The remote id of the post this one answers, if any."""
    reply_to_author: str = ""
    """The author id (Mastodon account id / Bluesky DID) of the post this one answers."""
    reply_root: str = ""
    reply_root_cid: str = ""
    visibility: str = "public"
    spoiler_text: str = ""
    langs: tuple[str, ...] = ()
    own: bool = False
    """Written by the managed account itself."""
    quote_of: str = ""


@dataclass(frozen=True, slots=True)
class Item:
    """Something that may need an answer: addressed to a managed account (a mention, reply or quote),
    or talk about it found by listening (`kind="talk"`). Its tone is not stored: `tone.tone_of`
    computes it from the text and the team's lexicon when it is shown."""

    id: str
    """A short stable key that operators type (`socialtui done 4f9a2c1`)."""
    account: str
    kind: str
    post: Post
    notified_at: datetime | None = None

    @property
    def received_at(self) -> datetime:
        """When the item was written: its age counts from here."""
        return self.post.created_at


def item_id(account: str, remote_id: str) -> str:
    """The short key of the item that `remote_id` makes for `account`: stable across processes."""
    import base64
    import hashlib  # here: OpenSSL is loaded only by a process that makes item ids (not `status`)

    digest = hashlib.sha1(f"{account}\0{remote_id}".encode()).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:8]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something: the Unix login (the truth, kept in the audit trail) and the operator name,
    which the team sees and which identifies the operator in claims, shifts and acknowledgements
    (`--operator` can set it, so two people sharing a Unix login stay two operators)."""

    login: str
    operator: str

    @property
    def label(self) -> str:
        return self.operator if self.operator == self.login else f"{self.operator} ({self.login})"


@dataclass(frozen=True, slots=True)
class Claim:
    """ "I am answering this": visible to every operator until it expires or is released."""

    item: str
    login: str
    operator: str
    at: datetime
    expires_at: datetime


OUTBOX_STATES = ("queued", "sending", "sent", "failed", "discarded")


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A reply or a new post committed durably before it is sent: sent exactly once, or still waiting,
    never lost. A new post (`kind="post"`) answers no item: its `item` is `post:<id>`, so the one-open-
    entry-per-item rule never makes two posts collide. A scheduled post waits as `scheduled` until
    `due_at`, then is sent by whoever polls the account; see `outbox.POST_STATES`."""

    id: str
    """The idempotency key: Mastodon `Idempotency-Key`, Bluesky rkey."""
    item: str
    account: str
    text: str
    login: str
    operator: str
    created_at: datetime
    updated_at: datetime
    state: str = "queued"
    in_reply_to: str = ""
    visibility: str = "public"
    spoiler_text: str = ""
    attempts: int = 0
    remote_id: str = ""
    url: str = ""
    error: str = ""
    sent_at: datetime | None = None
    target: Post | None = None
    """The post replied to, so the reply can be sent again by any process even when that post is
    not an item (a reply from the timelines)."""
    kind: str = "reply"
    """`reply`, or `post` (a new post from the account)."""
    due_at: datetime | None = None
    """A scheduled post: when it is due (UTC)."""
    failure: str = ""
    """Why a `failed` reply failed: `auth` (the server refused our credentials: sent again once when
    the account recovers) or `rejected` (the server refused the reply itself)."""
    auth_retried: bool = False
    """Sent again once already after an authentication failure (never a second time)."""


HEALTH_STATES = ("ok", "auth", "rate_limited", "unreachable", "never")


@dataclass(frozen=True, slots=True)
class Shift:
    """An operator's working session, from start to handoff."""

    login: str
    operator: str
    started_at: datetime
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AccountHealth:
    """How the poller last got on with an account's server."""

    account: str
    state: str = "never"
    since: datetime | None = None
    until: datetime | None = None
    """Rate limited until this time."""
    error: str = ""
    last_sync_at: datetime | None = None
    last_ok_at: datetime | None = None
    note: str = ""
    """What the server cannot do, said once and kept until it changes ("this server searches
    hashtags only"); not a failure. Kept across `set_health` calls that do not set one."""
    mode: str = ""
    """How the poller hears of new items: "live" (the server pushes them over a stream; polling is
    only the safety net), "polling" (every `poll_interval`), "" (not known: an older socialtui).
    Readers take it through `seen_at`: "live" holds only until `live_until`."""
    live_until: datetime | None = None
    """Until when "live" may be believed: the lease holder moves it on with its lease while its stream
    is up (`sync.live_until`), so the accounts of a poller that died go back to polling's staleness
    rules within two poll intervals, not three safety-net intervals."""

    def seen_at(self, now: datetime) -> AccountHealth:
        """This health as it stands at `now`: a "live" that nobody confirmed lately is "polling"."""
        if self.mode == "live" and (self.live_until is None or self.live_until <= now):
            return replace(self, mode="polling", live_until=None)
        return self

    @property
    def summary(self) -> str:
        """The health in one line, times in UTC (what `status --json` carries)."""
        return self.describe(UTC)

    def describe(self, tz: tzinfo) -> str:
        """The health in one line as a person reads it: times in `tz` (the team's zone), labelled."""
        text = self._state_summary(tz)
        return f"{text}; {self.note}" if self.note else text

    def _state_summary(self, tz: tzinfo) -> str:
        if self.state == "ok":
            return "ok, live" if self.mode == "live" else "ok"
        if self.state == "never":
            return "never synced"
        if self.state == "rate_limited" and self.until:
            return f"rate limited until {local_time(self.until, tz, '%H:%M:%S')}"
        if self.state == "auth":
            return f"auth refused: {self.error}" if self.error else "auth refused"
        since = f" since {local_time(self.since, tz, '%H:%M')}" if self.since else ""
        if self.server_failed:  # it answered, with a 5xx: not "unreachable"
            detail = self.error.removeprefix("server error").lstrip(" :")
            return f"server error{since}: {detail}" if detail else f"server error{since}"
        return f"unreachable{since}: {self.error}" if self.error else f"unreachable{since}"

    @property
    def server_failed(self) -> bool:
        """Failing because the server answered with an error (5xx), not because it could not be
        reached: the poller records such an error as `server error STATUS...`."""
        return self.state == "unreachable" and self.error.startswith("server error")


# --- records -----------------------------------------------------------------------------------------

T = TypeVar("T")


def _dt_to_str(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    """An ISO-8601 timestamp (with `Z` or an offset) as an aware UTC datetime."""
    at = datetime.fromisoformat(value)
    if at.tzinfo is None:
        return at.replace(tzinfo=UTC)
    return at if at.tzinfo is UTC else at.astimezone(UTC)


# Per dataclass, memoised by hand: `functools.cache` types its arguments as `Hashable`, which mypy
# does not see a class object as.
_DEFAULTS: dict[type, tuple[tuple[str, Any], ...]] = {}
_CONVERTERS: dict[type, tuple[tuple[str, Callable[[Any], Any] | None], ...]] = {}


def _defaults(cls: type) -> tuple[tuple[str, Any], ...]:
    defaults = _DEFAULTS.get(cls)
    if defaults is None:
        defaults = _DEFAULTS[cls] = tuple((f.name, f.default) for f in fields(cls))
    return defaults


def to_record(obj: Any) -> Any:
    """A dataclass (nested too) as JSON-ready plain data. Fields at their default value are left out
    (`from_record` restores them): the post cache is mostly empty strings otherwise."""
    if is_dataclass(obj) and not isinstance(obj, type):
        record = {}
        for name, default in _defaults(type(obj)):
            value = getattr(obj, name)
            if default is not MISSING_FIELD and type(value) is type(default) and value == default:
                continue
            record[name] = to_record(value)
        return record
    if isinstance(obj, datetime):
        return _dt_to_str(obj)
    if isinstance(obj, (list, tuple)):
        return [to_record(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_record(v) for k, v in obj.items()}
    return obj


def _converters(cls: type) -> tuple[tuple[str, Callable[[Any], Any] | None], ...]:
    """Per field of `cls`: its name and how to turn stored data back into the field's type."""
    converters = _CONVERTERS.get(cls)
    if converters is None:
        converters = _CONVERTERS[cls] = _find_converters(cls)
    return converters


def _find_converters(cls: type) -> tuple[tuple[str, Callable[[Any], Any] | None], ...]:
    hints = typing.get_type_hints(cls)
    out: list[tuple[str, Callable[[Any], Any] | None]] = []
    for f in fields(cls):
        hint = hints[f.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if hint is datetime or args == [datetime]:
            out.append((f.name, parse_time))
        elif isinstance(hint, type) and is_dataclass(hint):
            out.append((f.name, partial(from_record, hint)))
        elif (
            len(args) == 1
            and isinstance(args[0], type)
            and is_dataclass(args[0])
            and typing.get_origin(hint) is not tuple
        ):
            out.append((f.name, partial(from_record, args[0])))  # an optional record: `Post | None`
        elif typing.get_origin(hint) is tuple:
            inner = args[0] if args else None
            if isinstance(inner, type) and is_dataclass(inner):
                out.append((f.name, partial(_records, inner)))
            else:
                out.append((f.name, tuple))
        else:
            out.append((f.name, None))
    return tuple(out)


def _records(cls: type[T], values: list[dict[str, Any]]) -> tuple[T, ...]:
    return tuple(from_record(cls, v) for v in values)


_INTERNED: dict[tuple[Any, ...], Any] = {}


def from_record(cls: type[T], data: dict[str, Any]) -> T:
    """The dataclass `cls` from plain data written by `to_record`; unknown keys are ignored."""
    if cls is Author:  # the same people write many posts: share one object per author
        key = (
            data["network"],
            data["handle"],
            data.get("id", ""),
            data.get("display_name", ""),
            data.get("url", ""),
        )
        author = _INTERNED.get(key)
        if author is None:
            if len(_INTERNED) > 100_000:
                _INTERNED.clear()
            author = _INTERNED[key] = Author(*key)
        return author  # type: ignore[return-value]  # cls is Author here: mypy does not narrow type[T] by identity
    kwargs: dict[str, Any] = {}
    for name, convert in _converters(cls):
        if name in data:
            value = data[name]
            kwargs[name] = value if convert is None or value is None else convert(value)
    return cls(**kwargs)


def __getattr__(name: str) -> Any:
    # The operators' work records (`model_work.__all__`) are defined there, imported on first use.
    if not name.startswith("_"):
        from socialtui import model_work

        if name in model_work.__all__:
            return getattr(model_work, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "NETWORKS",
    "ITEM_KINDS",
    "VISIBILITIES",
    "OUTBOX_STATES",
    "HEALTH_STATES",
    "Author",
    "Post",
    "Item",
    "Actor",
    "ItemState",
    "Claim",
    "Contact",
    "ContactNote",
    "HandoffNote",
    "HandoffAck",
    "HandedItem",
    "HandedDraft",
    "HandedAccount",
    "OpenWork",
    "HandoffDraft",
    "Draft",
    "OutboxEntry",
    "Shift",
    "AuditEvent",
    "AccountHealth",
    "item_id",
    "parse_time",
    "to_record",
    "from_record",
    "field",
]
