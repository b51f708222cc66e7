"""The in-memory world of the sandbox network: accounts, posts, notifications, follows, likes and
sessions on a Mastodon server (`sandbox.social`, with remote accounts from other domains) and a
Bluesky PDS + AppView (`*.sandbox.bsky`).

Everything is guarded by one re-entrant lock (`world.lock`): the ASGI routes, the traffic generator
and test code may touch the world from different threads and event loops. Time comes from the
injected `now` callable only, so a fixed clock makes the whole network stand still.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import json
import random
import re
import secrets
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from socialtui.sandbox.faults import Faults, RateLimits, Stats
from socialtui.sandbox.ids import IdGenerator, b64url, b64url_decode, cid_for, plc_did
from socialtui.sandbox.people import (
    BLUESKY_DOMAIN,
    BRANDS,
    CROWD,
    MASTODON_DOMAIN,
    SANDBOX_PASSWORD,
    Brand,
    Person,
)
from socialtui.sandbox.text import (
    HASHTAG_RE,
    MentionSpan,
    bluesky_facets,
    byte_offset,
    find_mastodon_mentions,
    graphemes,
    iso_ms,
    mastodon_length,
)

MASTODON_MAX_CHARS = 500
BLUESKY_MAX_GRAPHEMES = 300
BLUESKY_MAX_BYTES = 3000
IDEMPOTENCY_TTL = timedelta(hours=1)
VISIBILITIES = ("public", "unlisted", "private", "direct")
USERNAME_RE = re.compile(r"^[a-z0-9_]+(?:[a-z0-9_.-]*[a-z0-9_])?$", re.IGNORECASE)
HANDLE_RE = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$"
)
RKEY_RE = re.compile(r"^[A-Za-z0-9._:~-]{1,512}$")
POST = "app.bsky.feed.post"
LIKE = "app.bsky.feed.like"
REPOST = "app.bsky.feed.repost"
FOLLOW = "app.bsky.graph.follow"


class WorldError(Exception):
    """A request the world refuses; the routes turn it into the network's own error shape."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(WorldError):
    pass


class Invalid(WorldError):
    pass


class Forbidden(WorldError):
    pass


class DuplicateRecord(WorldError):
    """createRecord with a record key that is taken: the reference PDS answers a bare 500."""


class TokenError(WorldError):
    """A Bluesky token refused: `error` is the XRPC error name (ExpiredToken, InvalidToken)."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error


# --- Mastodon -------------------------------------------------------------------------------------


@dataclass
class MastodonAccount:
    id: str
    username: str
    domain: str
    local: bool
    display_name: str
    note: str
    created_at: datetime
    brand_key: str = ""
    bot: bool = False
    locked: bool = False

    @property
    def acct(self) -> str:
        """`acme` for a local account, `sam@example.org` for a remote one (as Mastodon's `acct`)."""
        return self.username if self.local else f"{self.username}@{self.domain}"

    @property
    def key(self) -> str:
        """The account's key in faults and stats: the brand's config id, or `mastodon:ACCT`."""
        return self.brand_key or f"mastodon:{self.acct}"


@dataclass
class Status:
    id: str
    account_id: str
    text: str
    created_at: datetime
    visibility: str = "public"
    spoiler_text: str = ""
    language: str | None = None
    in_reply_to_id: str | None = None
    in_reply_to_account_id: str | None = None
    mentions: tuple[tuple[int, int, str], ...] = ()
    """(start, end, account id) of each resolved mention in `text`."""
    reblog_of: str | None = None
    application: str | None = None
    favourited_by: set[str] = field(default_factory=set)

    def mention_spans(self, world: World, base_url: str) -> list[MentionSpan]:
        spans = []
        for start, end, account_id in self.mentions:
            account = world.m_accounts[account_id]
            spans.append(
                MentionSpan(start, end, account_id, account.username, world.account_url(account, base_url))
            )
        return spans


@dataclass
class MastodonNotification:
    id: str
    type: str
    created_at: datetime
    account_id: str
    """The recipient."""
    from_account_id: str
    status_id: str | None = None


@dataclass
class OAuthApp:
    id: str
    name: str
    website: str | None
    redirect_uris: list[str]
    scopes: list[str]
    client_id: str
    client_secret: str


@dataclass
class MastodonToken:
    token: str
    account_id: str | None
    client_id: str
    scopes: list[str]
    created_at: datetime


# --- Bluesky --------------------------------------------------------------------------------------


@dataclass
class BlueskyActor:
    did: str
    handle: str
    display_name: str
    description: str
    created_at: datetime
    brand_key: str = ""
    password: str = SANDBOX_PASSWORD

    @property
    def key(self) -> str:
        """The account's key in faults and stats: the brand's config id, or `bluesky:HANDLE`."""
        return self.brand_key or f"bluesky:{self.handle}"


@dataclass
class BlueskyRecord:
    did: str
    collection: str
    rkey: str
    cid: str
    value: dict[str, Any]
    indexed_at: datetime
    seq: int

    @property
    def uri(self) -> str:
        return f"at://{self.did}/{self.collection}/{self.rkey}"

    @property
    def sort_key(self) -> tuple[datetime, int]:
        return (self.indexed_at, self.seq)


@dataclass
class BlueskyNotification:
    seq: int
    recipient: str
    uri: str
    cid: str
    author: str
    reason: str
    record: dict[str, Any]
    indexed_at: datetime
    reason_subject: str | None = None

    @property
    def sort_key(self) -> tuple[datetime, int]:
        return (self.indexed_at, self.seq)


@dataclass
class RefreshGrant:
    jti: str
    did: str
    expires_at: datetime
    replaced_at: datetime | None = None
    revoked: bool = False


def parse_at_uri(uri: str) -> tuple[str, str, str]:
    """(repo, collection, rkey) of `at://repo/collection/rkey`; ValueError otherwise."""
    if not uri.startswith("at://"):
        raise ValueError(uri)
    parts = uri[5:].split("/")
    if len(parts) != 3 or not all(parts):
        raise ValueError(uri)
    return parts[0], parts[1], parts[2]


def _system_now() -> datetime:
    return datetime.now(UTC)


class World:
    """The whole sandbox network in memory. Public methods take the lock; call them from anywhere."""

    def __init__(
        self,
        now: Callable[[], datetime] | None = None,
        *,
        seed: int = 2026,
        populate: bool = True,
        honour_idempotency: bool = True,
        access_token_lifetime: timedelta = timedelta(hours=2),
        refresh_token_lifetime: timedelta = timedelta(days=90),
        enforce_rate_limits: bool = False,
        mastodon_domain: str = MASTODON_DOMAIN,
        bluesky_domain: str = BLUESKY_DOMAIN,
    ) -> None:
        self.now: Callable[[], datetime] = now or _system_now
        self.lock = threading.RLock()
        self.seed = seed
        self.rng = random.Random(seed)
        self.ids = IdGenerator(random.Random(seed * 7919 + 1))
        self.honour_idempotency = honour_idempotency
        """True: `Idempotency-Key` is kept an hour, as Mastodon does; False: posts twice (GoToSocial)."""
        self.access_token_lifetime = access_token_lifetime
        self.refresh_token_lifetime = refresh_token_lifetime
        self.enforce_rate_limits = enforce_rate_limits
        """True: answer 429 once an account's real rate limit is used up (headers are always sent)."""
        self.mastodon_domain = mastodon_domain
        self.bluesky_domain = bluesky_domain
        self.faults = Faults(self)
        self.stats = Stats()
        self.rate_limits = RateLimits()
        self._secret = hashlib.sha256(f"sandbox-secret:{seed}:{secrets.token_hex(8)}".encode()).digest()
        self._seq = 0
        self._token_serial = 0
        self.brands: dict[str, Brand] = {}
        # Mastodon
        self.m_accounts: dict[str, MastodonAccount] = {}
        self.m_by_acct: dict[str, str] = {}
        self.statuses: dict[str, Status] = {}
        self.statuses_by_account: dict[str, list[str]] = defaultdict(list)
        self.replies: dict[str, list[str]] = defaultdict(list)
        self.reblogs: dict[str, list[str]] = defaultdict(list)
        self.m_notifications: dict[str, list[MastodonNotification]] = defaultdict(list)
        self.m_streams: dict[str, set[Any]] = defaultdict(set)
        """Open streaming connections per account id (`mastodon_api.Stream`): told of each new
        notification, and dropped by the `drop` fault."""
        self.m_follows: set[tuple[str, str]] = set()
        self.apps: dict[str, OAuthApp] = {}
        self.tokens: dict[str, MastodonToken] = {}
        self.auth_codes: dict[str, tuple[str, str, str, list[str]]] = {}
        self.idempotency: dict[tuple[str, str], tuple[str, datetime]] = {}
        # Bluesky
        self.actors: dict[str, BlueskyActor] = {}
        self.did_by_handle: dict[str, str] = {}
        self.records: dict[str, BlueskyRecord] = {}
        self.repos: dict[str, dict[str, dict[str, BlueskyRecord]]] = defaultdict(lambda: defaultdict(dict))
        self.posts_by_author: dict[str, list[str]] = defaultdict(list)
        self.reposts_by_author: dict[str, list[str]] = defaultdict(list)
        self.b_replies: dict[str, list[str]] = defaultdict(list)
        self.b_likes: dict[str, list[str]] = defaultdict(list)
        self.b_reposts: dict[str, list[str]] = defaultdict(list)
        self.b_quotes: dict[str, list[str]] = defaultdict(list)
        self.b_notifications: dict[str, list[BlueskyNotification]] = defaultdict(list)
        self.b_follows: set[tuple[str, str]] = set()
        self.seen_at: dict[str, datetime] = {}
        self.refresh_grants: dict[str, RefreshGrant] = {}
        if populate:
            self.populate()

    # --- people -----------------------------------------------------------------------------------

    def populate(self, crowd: Iterable[Person] = CROWD) -> None:
        """Create the brand accounts and the crowd, with a follow graph (brands follow their regulars)."""
        with self.lock:
            now = self.now()
            for index, brand in enumerate(BRANDS):
                self.add_brand(brand, now - timedelta(days=900 - 30 * index))
            self.add_people(crowd)

    def add_brand(self, brand: Brand, created_at: datetime) -> None:
        """A brand account (one that socialtui manages) on its network."""
        with self.lock:
            self.brands[brand.key] = brand
            if brand.network == "mastodon":
                self.mastodon_account(
                    brand.username,
                    display_name=brand.display_name,
                    note=brand.note,
                    brand_key=brand.key,
                    created_at=created_at,
                )
            else:
                self.bluesky_actor(
                    brand.username,
                    display_name=brand.display_name,
                    description=brand.note,
                    brand_key=brand.key,
                    created_at=created_at,
                )

    def add_people(self, people: Iterable[Person]) -> None:
        with self.lock:
            now = self.now()
            for index, person in enumerate(people):
                created = now - timedelta(days=30 + (index * 37) % 700, hours=index)
                if person.mastodon:
                    username, _, domain = person.mastodon.partition("@")
                    account = self.mastodon_account(
                        username,
                        domain or None,
                        display_name=person.display_name,
                        note=person.note,
                        created_at=created,
                    )
                    for brand in self.mastodon_brands():
                        self.m_follows.add((account.id, brand.id))
                        if index % 3 != 2:
                            self.m_follows.add((brand.id, account.id))
                if person.bluesky:
                    actor = self.bluesky_actor(
                        person.bluesky,
                        display_name=person.display_name,
                        description=person.note,
                        created_at=created,
                    )
                    for b_brand in self.bluesky_brands():
                        self.b_follows.add((actor.did, b_brand.did))
                        if index % 3 != 2:
                            self.b_follows.add((b_brand.did, actor.did))

    def mastodon_brands(self) -> list[MastodonAccount]:
        return [a for a in self.m_accounts.values() if a.brand_key]

    def bluesky_brands(self) -> list[BlueskyActor]:
        return [a for a in self.actors.values() if a.brand_key]

    def brand_account(self, key: str) -> MastodonAccount | BlueskyActor:
        """The world's account of a brand (config id `acme-mastodon`, ...)."""
        with self.lock:
            brand = self.brands[key]
            if brand.network == "mastodon":
                return self.m_accounts[self.m_by_acct[brand.username.lower()]]
            return self.actors[self.did_by_handle[brand.username.lower()]]

    def resolve_key(self, name: str) -> str:
        """The fault/stats key of an account named any way a person would: the brand's config id,
        `@acme@sandbox.social`, `acme`, `sam@example.org`, `acme.sandbox.bsky`, a DID, or a key
        (`mastodon:sam@example.org`, `bluesky:kim.example.com`). KeyError if unknown."""
        with self.lock:
            if name in self.brands:
                return name
            if name.startswith("mastodon:"):
                found: MastodonAccount | BlueskyActor | None = self.mastodon_lookup(name[len("mastodon:") :])
            elif name.startswith("bluesky:"):
                found = self.bluesky_resolve(name[len("bluesky:") :])
            else:
                # A handle or DID first, then a Mastodon acct (`first.last` may be either).
                found = self.bluesky_resolve(name) or self.mastodon_lookup(name)
            if found is None:
                raise KeyError(name)
            return found.key

    # --- Mastodon accounts ------------------------------------------------------------------------

    def mastodon_account(
        self,
        username: str,
        domain: str | None = None,
        *,
        display_name: str | None = None,
        note: str = "",
        brand_key: str = "",
        created_at: datetime | None = None,
    ) -> MastodonAccount:
        """The account `username` (local) or `username@domain`, created if unknown."""
        with self.lock:
            local = domain is None or domain.lower() == self.mastodon_domain
            acct = username if local else f"{username}@{domain}"
            existing = self.m_by_acct.get(acct.lower())
            if existing:
                return self.m_accounts[existing]
            created_at = created_at or self.now()
            account = MastodonAccount(
                id=self.ids.ulid(created_at),
                username=username,
                domain=self.mastodon_domain if local else (domain or "").lower(),
                local=local,
                display_name=username if display_name is None else display_name,
                note=note,
                created_at=created_at,
                brand_key=brand_key,
            )
            self.m_accounts[account.id] = account
            self.m_by_acct[acct.lower()] = account.id
            return account

    def mastodon_lookup(self, acct: str) -> MastodonAccount | None:
        """`acme`, `@acme`, `acme@sandbox.social`, `sam@example.org` -> the account, or None."""
        with self.lock:
            acct = acct.strip().lstrip("@").lower()
            username, _, domain = acct.partition("@")
            if domain == self.mastodon_domain:
                acct = username
            found = self.m_by_acct.get(acct)
            return self.m_accounts.get(found) if found else None

    def account_url(self, account: MastodonAccount, base_url: str) -> str:
        if account.local:
            return f"{base_url}/@{account.username}"
        return f"https://{account.domain}/@{account.username}"

    def account_uri(self, account: MastodonAccount, base_url: str) -> str:
        if account.local:
            return f"{base_url}/users/{account.username}"
        return f"https://{account.domain}/users/{account.username}"

    def follow_mastodon(self, follower: MastodonAccount, followed: MastodonAccount) -> None:
        with self.lock:
            self.m_follows.add((follower.id, followed.id))

    # --- Mastodon statuses ------------------------------------------------------------------------

    def _resolve_mentions(self, author: MastodonAccount, text: str) -> tuple[tuple[int, int, str], ...]:
        out = []
        for start, end, username, domain in find_mastodon_mentions(text):
            if domain is None:
                account = self.mastodon_lookup(username if author.local else f"{username}@{author.domain}")
            else:
                account = self.mastodon_lookup(f"{username}@{domain}")
            if account is not None:
                out.append((start, end, account.id))
        return tuple(out)

    def mastodon_post(
        self,
        author: MastodonAccount,
        text: str,
        *,
        at: datetime | None = None,
        in_reply_to_id: str | None = None,
        visibility: str = "public",
        spoiler_text: str = "",
        language: str | None = None,
        application: str | None = None,
        idempotency_key: str | None = None,
        check_length: bool = True,
    ) -> tuple[Status, bool]:
        """Post a status as `author`; (status, created). With an `idempotency_key` seen from the
        same author within the hour (and `honour_idempotency`), the earlier status and False."""
        with self.lock:
            now = self.now()
            if idempotency_key and self.honour_idempotency:
                seen = self.idempotency.get((author.id, idempotency_key))
                if seen and now - seen[1] < IDEMPOTENCY_TTL and seen[0] in self.statuses:
                    return self.statuses[seen[0]], False
            if not text.strip():
                raise Invalid("Validation failed: Text can't be blank")
            if check_length and mastodon_length(text, spoiler_text) > MASTODON_MAX_CHARS:
                raise Invalid(f"Validation failed: Text character limit of {MASTODON_MAX_CHARS} exceeded")
            if visibility not in VISIBILITIES:
                raise Invalid("Validation failed: Visibility is not included in the list")
            parent = None
            if in_reply_to_id:
                parent = self.statuses.get(in_reply_to_id)
                if parent is None or not self.mastodon_can_see(author.id, parent):
                    raise NotFound("Record not found")
            at = at or now
            status = Status(
                id=self.ids.ulid(at),
                account_id=author.id,
                text=text,
                created_at=at,
                visibility=visibility,
                spoiler_text=spoiler_text,
                language=language,
                in_reply_to_id=parent.id if parent else None,
                in_reply_to_account_id=parent.account_id if parent else None,
                mentions=self._resolve_mentions(author, text),
                application=application,
            )
            self._store_status(status)
            if parent:
                bisect.insort(self.replies[parent.id], status.id)
            notified = set()
            for _, _, account_id in status.mentions:
                if account_id != author.id and account_id not in notified:
                    notified.add(account_id)
                    self._notify_mastodon(account_id, "mention", author.id, status.id, at)
            if idempotency_key:
                self.idempotency[(author.id, idempotency_key)] = (status.id, now)
            return status, True

    def _store_status(self, status: Status) -> None:
        self.statuses[status.id] = status
        bisect.insort(self.statuses_by_account[status.account_id], status.id)

    def _notify_mastodon(
        self, recipient_id: str, kind: str, from_id: str, status_id: str | None, at: datetime
    ) -> None:
        recipient = self.m_accounts[recipient_id]
        if not recipient.local:
            return  # a remote account's notifications live on its own server
        notification = MastodonNotification(self.ids.ulid(at), kind, at, recipient_id, from_id, status_id)
        bisect.insort(self.m_notifications[recipient_id], notification, key=lambda n: n.id)
        for stream in list(self.m_streams.get(recipient_id, ())):
            stream.notified(notification)

    def drop_streams(self, key: str) -> int:
        """Close the open streams of the account with this fault/stats key (the `drop` fault)."""
        with self.lock:
            dropped = 0
            for account in self.m_accounts.values():
                if account.key == key:
                    for stream in list(self.m_streams.get(account.id, ())):
                        stream.drop()
                        dropped += 1
            return dropped

    def mastodon_can_see(self, viewer_id: str | None, status: Status) -> bool:
        if status.reblog_of:
            original = self.statuses.get(status.reblog_of)
            return original is not None and self.mastodon_can_see(viewer_id, original)
        if status.visibility in ("public", "unlisted"):
            return True
        if viewer_id is None:
            return False
        if viewer_id == status.account_id or any(m[2] == viewer_id for m in status.mentions):
            return True
        return status.visibility == "private" and (viewer_id, status.account_id) in self.m_follows

    def mastodon_status(self, status_id: str, viewer_id: str | None) -> Status:
        with self.lock:
            status = self.statuses.get(status_id)
            if status is None or not self.mastodon_can_see(viewer_id, status):
                raise NotFound("Record not found")
            return status

    def mastodon_favourite(
        self, account: MastodonAccount, status_id: str, at: datetime | None = None
    ) -> Status:
        with self.lock:
            status = self.mastodon_status(status_id, account.id)
            if status.reblog_of:
                status = self.statuses[status.reblog_of]
            if account.id not in status.favourited_by:
                status.favourited_by.add(account.id)
                if status.account_id != account.id:
                    self._notify_mastodon(
                        status.account_id, "favourite", account.id, status.id, at or self.now()
                    )
            return status

    def mastodon_reblog(self, account: MastodonAccount, status_id: str, at: datetime | None = None) -> Status:
        """Boost a status; the reblog (a status wrapping the original). Idempotent per account."""
        with self.lock:
            status = self.mastodon_status(status_id, account.id)
            if status.reblog_of:
                status = self.statuses[status.reblog_of]
            if status.visibility not in ("public", "unlisted"):
                raise Forbidden("This action is not allowed")
            for reblog_id in self.reblogs[status.id]:
                if self.statuses[reblog_id].account_id == account.id:
                    return self.statuses[reblog_id]
            at = at or self.now()
            reblog = Status(
                id=self.ids.ulid(at),
                account_id=account.id,
                text="",
                created_at=at,
                visibility=status.visibility,
                reblog_of=status.id,
            )
            self._store_status(reblog)
            self.reblogs[status.id].append(reblog.id)
            if status.account_id != account.id:
                self._notify_mastodon(status.account_id, "reblog", account.id, status.id, at)
            return reblog

    def mastodon_unfavourite(self, account: MastodonAccount, status_id: str) -> Status:
        """Take a favourite back (and its notification); the status. Idempotent, as on Mastodon."""
        with self.lock:
            status = self.mastodon_status(status_id, account.id)
            if status.reblog_of:
                status = self.statuses[status.reblog_of]
            if account.id in status.favourited_by:
                status.favourited_by.discard(account.id)
                self._forget_mastodon_notification(status, "favourite", account.id)
            return status

    def mastodon_unreblog(self, account: MastodonAccount, status_id: str) -> Status:
        """Undo a boost: the account's reblog of the status is deleted; the original status.
        Idempotent, as on Mastodon."""
        with self.lock:
            status = self.mastodon_status(status_id, account.id)
            if status.reblog_of:
                status = self.statuses[status.reblog_of]
            for reblog_id in list(self.reblogs.get(status.id, [])):
                if self.statuses[reblog_id].account_id == account.id:
                    self.mastodon_delete(account, reblog_id)
                    self._forget_mastodon_notification(status, "reblog", account.id)
            return status

    def _forget_mastodon_notification(self, status: Status, kind: str, from_id: str) -> None:
        items = self.m_notifications.get(status.account_id)
        if items:
            self.m_notifications[status.account_id] = [
                n
                for n in items
                if not (n.type == kind and n.status_id == status.id and n.from_account_id == from_id)
            ]

    def mastodon_delete(self, account: MastodonAccount, status_id: str) -> Status:
        with self.lock:
            status = self.statuses.get(status_id)
            if status is None or status.account_id != account.id:
                raise NotFound("Record not found")
            del self.statuses[status_id]
            self.statuses_by_account[account.id].remove(status_id)
            if status.in_reply_to_id and status_id in self.replies.get(status.in_reply_to_id, []):
                self.replies[status.in_reply_to_id].remove(status_id)
            if status.reblog_of and status_id in self.reblogs.get(status.reblog_of, []):
                self.reblogs[status.reblog_of].remove(status_id)
            for recipient, items in self.m_notifications.items():
                self.m_notifications[recipient] = [n for n in items if n.status_id != status_id]
            return status

    def mastodon_ancestors(self, status: Status, viewer_id: str | None) -> list[Status]:
        with self.lock:
            chain: list[Status] = []
            parent_id = status.in_reply_to_id
            while parent_id and parent_id in self.statuses and len(chain) < 200:
                parent = self.statuses[parent_id]
                if self.mastodon_can_see(viewer_id, parent):
                    chain.append(parent)
                parent_id = parent.in_reply_to_id
            return list(reversed(chain))

    def mastodon_descendants(self, status: Status, viewer_id: str | None) -> list[Status]:
        with self.lock:
            out: list[Status] = []

            def walk(status_id: str) -> None:
                for child_id in self.replies.get(status_id, []):
                    child = self.statuses.get(child_id)
                    if child and self.mastodon_can_see(viewer_id, child):
                        out.append(child)
                        walk(child_id)

            walk(status.id)
            return out

    def mastodon_home(self, account: MastodonAccount) -> list[Status]:
        """Statuses (and boosts) of the accounts `account` follows, and its own; oldest first."""
        with self.lock:
            authors = {account.id} | {b for a, b in self.m_follows if a == account.id}
            ids: list[str] = []
            for author in authors:
                ids.extend(self.statuses_by_account.get(author, []))
            ids.sort()
            return [s for s in (self.statuses[i] for i in ids) if self.mastodon_can_see(account.id, s)]

    def mastodon_account_statuses(self, account: MastodonAccount, viewer_id: str | None) -> list[Status]:
        with self.lock:
            return [
                s
                for s in (self.statuses[i] for i in self.statuses_by_account.get(account.id, []))
                if self.mastodon_can_see(viewer_id, s)
            ]

    def mastodon_search(self, query: str) -> list[Status]:
        """Public statuses whose text holds `query` (case-insensitive words, a phrase), no boosts;
        oldest first. (Mastodon's full-text search, where the admin set it up.)"""
        wanted = " ".join(query.casefold().split())
        with self.lock:
            found = [
                status
                for status in self.statuses.values()
                if status.visibility == "public"
                and not status.reblog_of
                and wanted
                and wanted in " ".join(status.text.casefold().split())
            ]
        return sorted(found, key=lambda status: status.id)

    def mastodon_tagged(self, tag: str) -> list[Status]:
        """Public statuses with the hashtag `tag` (without #), oldest first: the tag timeline."""
        wanted = tag.casefold().lstrip("#")
        with self.lock:
            found = [
                status
                for status in self.statuses.values()
                if status.visibility == "public"
                and not status.reblog_of
                and "#" in status.text
                and wanted in {m.group(1).casefold() for m in HASHTAG_RE.finditer(status.text)}
            ]
        return sorted(found, key=lambda status: status.id)

    def bluesky_search(self, query: str) -> list[BlueskyRecord]:
        """Posts whose text holds `query` (words, a phrase, or a `#tag`), oldest first."""
        wanted = " ".join(query.casefold().split())
        with self.lock:
            found = [
                record
                for record in self.records.values()
                if record.collection == "app.bsky.feed.post"
                and wanted
                and wanted in " ".join(str(record.value.get("text", "")).casefold().split())
            ]
        return sorted(found, key=lambda record: record.sort_key)

    def mastodon_notifications(self, account: MastodonAccount) -> list[MastodonNotification]:
        """Oldest first."""
        with self.lock:
            return list(self.m_notifications.get(account.id, []))

    # --- Mastodon OAuth ---------------------------------------------------------------------------

    def create_app(
        self, name: str, redirect_uris: list[str], scopes: list[str], website: str | None
    ) -> OAuthApp:
        with self.lock:
            app = OAuthApp(
                id=str(len(self.apps) + 1),
                name=name,
                website=website,
                redirect_uris=redirect_uris,
                scopes=scopes,
                client_id=secrets.token_urlsafe(32),
                client_secret=secrets.token_urlsafe(32),
            )
            self.apps[app.client_id] = app
            return app

    def create_auth_code(
        self, app: OAuthApp, account: MastodonAccount, redirect_uri: str, scopes: list[str]
    ) -> str:
        with self.lock:
            code = secrets.token_urlsafe(32)
            self.auth_codes[code] = (app.client_id, account.id, redirect_uri, scopes)
            return code

    def exchange_code(self, client_id: str, code: str, redirect_uri: str) -> MastodonToken:
        with self.lock:
            grant = self.auth_codes.get(code)
            if grant is None or grant[0] != client_id or (redirect_uri and grant[2] != redirect_uri):
                raise Invalid("invalid_grant")
            del self.auth_codes[code]
            return self._issue_mastodon_token(grant[1], client_id, grant[3])

    def app_token(self, app: OAuthApp, scopes: list[str]) -> MastodonToken:
        return self._issue_mastodon_token(None, app.client_id, scopes)

    def _issue_mastodon_token(
        self, account_id: str | None, client_id: str, scopes: list[str]
    ) -> MastodonToken:
        with self.lock:
            token = MastodonToken(secrets.token_urlsafe(32), account_id, client_id, scopes, self.now())
            self.tokens[token.token] = token
            return token

    def mastodon_token(self, token: str) -> MastodonToken | None:
        """The grant behind a Bearer token: `sandbox:USERNAME` acts as that local account (created on
        first use); OAuth tokens as issued. None for anything else."""
        with self.lock:
            if token.startswith("sandbox:"):
                username = token[len("sandbox:") :]
                if not USERNAME_RE.match(username) or len(username) > 30:
                    return None
                account = self.mastodon_account(username)
                return MastodonToken(
                    token, account.id, "sandbox", ["read", "write", "follow", "push"], account.created_at
                )
            return self.tokens.get(token)

    def revoke_mastodon_token(self, token: str) -> None:
        with self.lock:
            self.tokens.pop(token, None)

    # --- Bluesky actors ---------------------------------------------------------------------------

    def bluesky_actor(
        self,
        handle: str,
        *,
        display_name: str = "",
        description: str = "",
        brand_key: str = "",
        created_at: datetime | None = None,
    ) -> BlueskyActor:
        """The actor with `handle`, created if unknown."""
        with self.lock:
            handle = handle.lower().lstrip("@")
            did = self.did_by_handle.get(handle)
            if did:
                return self.actors[did]
            actor = BlueskyActor(
                did=plc_did(handle),
                handle=handle,
                display_name=display_name,
                description=description,
                created_at=created_at or self.now(),
                brand_key=brand_key,
            )
            self.actors[actor.did] = actor
            self.did_by_handle[handle] = actor.did
            self._seq += 1
            profile = {"$type": "app.bsky.actor.profile", "createdAt": iso_ms(actor.created_at)}
            if display_name:
                profile["displayName"] = display_name
            if description:
                profile["description"] = description
            self._put_record(actor.did, "app.bsky.actor.profile", "self", profile, actor.created_at)
            return actor

    def bluesky_resolve(self, actor: str) -> BlueskyActor | None:
        """A handle or DID -> the actor, or None."""
        with self.lock:
            actor = actor.strip().lstrip("@")
            if actor.startswith("did:"):
                return self.actors.get(actor)
            did = self.did_by_handle.get(actor.lower())
            return self.actors.get(did) if did else None

    # --- Bluesky sessions -------------------------------------------------------------------------

    def _jwt(self, payload: dict[str, Any], typ: str) -> str:
        header = b64url(json.dumps({"typ": typ, "alg": "HS256"}, separators=(",", ":")).encode())
        body = b64url(json.dumps(payload, separators=(",", ":")).encode())
        signature = hmac.new(self._secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
        return f"{header}.{body}.{b64url(signature)}"

    def _decode_jwt(self, token: str) -> dict[str, Any]:
        try:
            header, body, signature = token.split(".")
            expected = hmac.new(self._secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, b64url_decode(signature)):
                raise ValueError("bad signature")
            payload = json.loads(b64url_decode(body))
            if not isinstance(payload, dict):
                raise ValueError("bad payload")
            return payload
        except (ValueError, UnicodeDecodeError) as exc:
            raise TokenError("InvalidToken", "Token could not be verified") from exc

    def create_session(self, identifier: str, password: str) -> tuple[BlueskyActor, dict[str, str]]:
        """Log in with a handle (created if unknown) or DID and the app password `sandbox`."""
        with self.lock:
            identifier = identifier.strip().lstrip("@").lower()
            actor = self.bluesky_resolve(identifier)
            if actor is None and HANDLE_RE.match(identifier) and not identifier.startswith("did:"):
                actor = self.bluesky_actor(identifier)
            if actor is None or password != actor.password:
                raise Forbidden("Invalid identifier or password")
            return actor, self._issue_session(actor)

    def _issue_session(self, actor: BlueskyActor) -> dict[str, str]:
        now = self.now()
        iat = int(now.timestamp())
        self._token_serial += 1
        access = self._jwt(
            {
                "scope": "com.atproto.access",
                "sub": actor.did,
                "aud": f"did:web:{self.bluesky_domain}",
                "iat": iat,
                "exp": iat + int(self.access_token_lifetime.total_seconds()),
                "jti": f"a{self._token_serial}",
            },
            "at+jwt",
        )
        jti = secrets.token_urlsafe(24)
        refresh_expires = now + self.refresh_token_lifetime
        refresh = self._jwt(
            {
                "scope": "com.atproto.refresh",
                "sub": actor.did,
                "aud": f"did:web:{self.bluesky_domain}",
                "iat": iat,
                "exp": int(refresh_expires.timestamp()),
                "jti": jti,
            },
            "refresh+jwt",
        )
        self.refresh_grants[jti] = RefreshGrant(jti, actor.did, refresh_expires)
        return {"accessJwt": access, "refreshJwt": refresh}

    def token_serial(self) -> int:
        """The serial of the newest access token issued (faults expire tokens up to a serial)."""
        return self._token_serial

    def verify_access(self, token: str) -> tuple[BlueskyActor, int]:
        """The actor and the token serial of an access JWT; TokenError as the PDS would raise it."""
        with self.lock:
            payload = self._decode_jwt(token)
            if payload.get("scope") != "com.atproto.access":
                raise TokenError("InvalidToken", "Bad token scope")
            if int(payload.get("exp", 0)) <= self.now().timestamp():
                raise TokenError("ExpiredToken", "Token has expired")
            actor = self.actors.get(str(payload.get("sub", "")))
            if actor is None:
                raise TokenError("InvalidToken", "Token could not be verified")
            return actor, int(str(payload.get("jti", "a0"))[1:] or 0)

    def verify_refresh(self, token: str) -> tuple[BlueskyActor, RefreshGrant]:
        with self.lock:
            payload = self._decode_jwt(token)
            if payload.get("scope") != "com.atproto.refresh":
                raise TokenError("InvalidToken", "Invalid token type")
            if int(payload.get("exp", 0)) <= self.now().timestamp():
                raise TokenError("ExpiredToken", "Token has expired")
            grant = self.refresh_grants.get(str(payload.get("jti", "")))
            actor = self.actors.get(str(payload.get("sub", "")))
            if grant is None or actor is None or grant.revoked:
                raise TokenError("ExpiredToken", "Token has been revoked")
            if grant.replaced_at and self.now() - grant.replaced_at > timedelta(hours=2):
                raise TokenError("ExpiredToken", "Token has been revoked")
            return actor, grant

    def refresh_session(self, token: str) -> tuple[BlueskyActor, dict[str, str]]:
        """Rotate: a new access and refresh JWT; the old refresh JWT stays usable for a 2 h grace
        (as the reference PDS allows, so two processes racing to refresh both succeed)."""
        with self.lock:
            actor, grant = self.verify_refresh(token)
            grant.replaced_at = grant.replaced_at or self.now()
            return actor, self._issue_session(actor)

    def delete_session(self, token: str) -> None:
        with self.lock:
            _actor, grant = self.verify_refresh(token)
            grant.revoked = True

    # --- Bluesky records --------------------------------------------------------------------------

    def _put_record(
        self, did: str, collection: str, rkey: str, value: dict[str, Any], indexed_at: datetime
    ) -> BlueskyRecord:
        self._seq += 1
        cid = cid_for(
            json.dumps(value, sort_keys=True, ensure_ascii=False).encode() + f"|{did}|{rkey}".encode()
        )
        record = BlueskyRecord(did, collection, rkey, cid, value, indexed_at, self._seq)
        self.records[record.uri] = record
        self.repos[did][collection][rkey] = record
        return record

    def bluesky_record(self, uri: str) -> BlueskyRecord | None:
        with self.lock:
            record = self.records.get(uri)
            if record is None:
                try:
                    repo, collection, rkey = parse_at_uri(uri)
                except ValueError:
                    return None
                actor = self.bluesky_resolve(repo)
                if actor is not None:
                    record = self.repos.get(actor.did, {}).get(collection, {}).get(rkey)
            return record

    def validate_post(self, value: dict[str, Any]) -> None:
        text = value.get("text")
        if not isinstance(text, str):
            raise Invalid('Invalid app.bsky.feed.post record: Record must have the property "text"')
        if not isinstance(value.get("createdAt"), str):
            raise Invalid('Invalid app.bsky.feed.post record: Record must have the property "createdAt"')
        size = len(text.encode("utf-8"))
        if size > BLUESKY_MAX_BYTES:
            raise Invalid(
                f"Invalid app.bsky.feed.post record: string too big (maximum {BLUESKY_MAX_BYTES}, "
                f"got {size}) at $.record.text"
            )
        count = graphemes(text)
        if count > BLUESKY_MAX_GRAPHEMES:
            raise Invalid(
                f"Invalid app.bsky.feed.post record: grapheme too big (maximum {BLUESKY_MAX_GRAPHEMES}, "
                f"got {count}) at $.record.text"
            )

    def create_record(
        self,
        actor: BlueskyActor,
        collection: str,
        value: dict[str, Any],
        *,
        rkey: str | None = None,
        at: datetime | None = None,
        validate: bool = True,
    ) -> BlueskyRecord:
        """com.atproto.repo.createRecord: store, index and notify. DuplicateRecord if `rkey` is taken."""
        with self.lock:
            at = at or self.now()
            value = dict(value)
            value.setdefault("$type", collection)
            if rkey is not None and not RKEY_RE.match(rkey) or rkey in (".", ".."):
                raise Invalid("Invalid record key")
            if collection == POST and validate:
                self.validate_post(value)
            rkey = rkey or self.ids.tid(at)
            if rkey in self.repos[actor.did][collection]:
                raise DuplicateRecord("Internal Server Error")
            record = self._put_record(actor.did, collection, rkey, value, at)
            if collection == POST:
                self._index_post(record)
            elif collection in (LIKE, REPOST):
                subject = (value.get("subject") or {}).get("uri", "")
                target = self.records.get(subject)
                index = self.b_likes if collection == LIKE else self.b_reposts
                index[subject].append(record.uri)
                if collection == REPOST:
                    bisect.insort(self.reposts_by_author[actor.did], record.uri, key=self._sort_key)
                if target and target.did != actor.did:
                    reason = "like" if collection == LIKE else "repost"
                    self._notify_bluesky(target.did, record, reason, subject)
            elif collection == FOLLOW:
                subject = str(value.get("subject", ""))
                self.b_follows.add((actor.did, subject))
                if subject in self.actors and subject != actor.did:
                    self._notify_bluesky(subject, record, "follow", None)
            return record

    def _sort_key(self, uri: str) -> tuple[datetime, int]:
        return self.records[uri].sort_key

    def _index_post(self, record: BlueskyRecord) -> None:
        value = record.value
        bisect.insort(self.posts_by_author[record.did], record.uri, key=self._sort_key)
        notified = {record.did}
        for facet in value.get("facets") or []:
            for feature in facet.get("features") or []:
                if feature.get("$type") == "app.bsky.richtext.facet#mention":
                    did = feature.get("did")
                    if did in self.actors and did not in notified:
                        notified.add(did)
                        self._notify_bluesky(did, record, "mention", None)
        quoted = quoted_uri(value)
        if quoted:
            self.b_quotes[quoted].append(record.uri)
            target = self.records.get(quoted)
            if target and target.did not in notified:
                notified.add(target.did)
                self._notify_bluesky(target.did, record, "quote", quoted)
        reply = value.get("reply") or {}
        parent_uri = (reply.get("parent") or {}).get("uri")
        root_uri = (reply.get("root") or {}).get("uri")
        if parent_uri:
            self.b_replies[parent_uri].append(record.uri)
        for ancestor_uri in (parent_uri, root_uri):
            ancestor = self.records.get(ancestor_uri or "")
            if ancestor and ancestor.did not in notified:
                notified.add(ancestor.did)
                self._notify_bluesky(ancestor.did, record, "reply", ancestor.uri)

    def _notify_bluesky(
        self, recipient: str, record: BlueskyRecord, reason: str, subject: str | None
    ) -> None:
        self._seq += 1
        notification = BlueskyNotification(
            seq=self._seq,
            recipient=recipient,
            uri=record.uri,
            cid=record.cid,
            author=record.did,
            reason=reason,
            record=record.value,
            indexed_at=record.indexed_at,
            reason_subject=subject,
        )
        bisect.insort(self.b_notifications[recipient], notification, key=lambda n: n.sort_key)

    def delete_record(self, actor: BlueskyActor, collection: str, rkey: str) -> None:
        """com.atproto.repo.deleteRecord: gone from the repo, the indexes and the notifications."""
        with self.lock:
            record = self.repos[actor.did][collection].pop(rkey, None)
            if record is None:
                return
            uri = record.uri
            del self.records[uri]
            for index in (self.posts_by_author, self.reposts_by_author):
                if uri in index.get(actor.did, []):
                    index[actor.did].remove(uri)
            for index in (self.b_replies, self.b_likes, self.b_reposts, self.b_quotes):
                for uris in index.values():
                    if uri in uris:
                        uris.remove(uri)
            for recipient, items in self.b_notifications.items():
                self.b_notifications[recipient] = [n for n in items if n.uri != uri]
            if collection == FOLLOW:
                self.b_follows.discard((actor.did, str(record.value.get("subject", ""))))

    def bluesky_post(
        self,
        author: BlueskyActor,
        text: str,
        *,
        reply_to: str | None = None,
        quote: str | None = None,
        langs: list[str] | None = None,
        at: datetime | None = None,
        rkey: str | None = None,
        facets: list[dict] | None = None,
        validate: bool = True,
    ) -> BlueskyRecord:
        """Post as `author` the way the official client does: facets detected (mentions resolved to
        DIDs), reply refs (root and parent) and a quote embed filled in."""
        with self.lock:
            at = at or self.now()
            value: dict[str, Any] = {"$type": POST, "text": text, "createdAt": iso_ms(at)}
            detected = facets if facets is not None else bluesky_facets(text, self._did_for_handle)
            if detected:
                value["facets"] = detected
            if langs:
                value["langs"] = langs
            if reply_to:
                parent = self.bluesky_record(reply_to)
                if parent is None:
                    raise NotFound(f"Post not found: {reply_to}")
                root = (parent.value.get("reply") or {}).get("root") or {"uri": parent.uri, "cid": parent.cid}
                value["reply"] = {"root": dict(root), "parent": {"uri": parent.uri, "cid": parent.cid}}
            if quote:
                quoted = self.bluesky_record(quote)
                if quoted is None:
                    raise NotFound(f"Post not found: {quote}")
                value["embed"] = {
                    "$type": "app.bsky.embed.record",
                    "record": {"uri": quoted.uri, "cid": quoted.cid},
                }
            return self.create_record(author, POST, value, rkey=rkey, at=at, validate=validate)

    def _did_for_handle(self, handle: str) -> str | None:
        return self.did_by_handle.get(handle.lower())

    def bluesky_like(self, actor: BlueskyActor, uri: str, at: datetime | None = None) -> BlueskyRecord:
        with self.lock:
            target = self.bluesky_record(uri)
            if target is None:
                raise NotFound(f"Post not found: {uri}")
            at = at or self.now()
            value = {
                "$type": LIKE,
                "subject": {"uri": target.uri, "cid": target.cid},
                "createdAt": iso_ms(at),
            }
            return self.create_record(actor, LIKE, value, at=at)

    def bluesky_repost(self, actor: BlueskyActor, uri: str, at: datetime | None = None) -> BlueskyRecord:
        with self.lock:
            target = self.bluesky_record(uri)
            if target is None:
                raise NotFound(f"Post not found: {uri}")
            at = at or self.now()
            value = {
                "$type": REPOST,
                "subject": {"uri": target.uri, "cid": target.cid},
                "createdAt": iso_ms(at),
            }
            return self.create_record(actor, REPOST, value, at=at)

    def bluesky_notifications(self, actor: BlueskyActor) -> list[BlueskyNotification]:
        """Oldest first."""
        with self.lock:
            return list(self.b_notifications.get(actor.did, []))

    def mark_seen(self, actor: BlueskyActor, at: datetime) -> None:
        with self.lock:
            self.seen_at[actor.did] = at

    # --- both networks ----------------------------------------------------------------------------

    def post_as(
        self,
        network: str,
        who: str,
        text: str,
        *,
        reply_to: str | None = None,
        quote: str | None = None,
        visibility: str = "public",
        spoiler_text: str = "",
        language: str | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """Post as anyone (created if unknown): Mastodon `who` = `sam@example.org` / `zoe` (a local
        user), Bluesky `who` = a handle or DID. `reply_to`: a status id / an at:// URI. Length
        limits are not checked (remote servers allow longer posts). A summary of the post."""
        with self.lock:
            if network == "mastodon":
                username, _, domain = who.lstrip("@").partition("@")
                author = self.mastodon_account(username, domain or None)
                status, _ = self.mastodon_post(
                    author,
                    text,
                    at=at,
                    in_reply_to_id=reply_to,
                    visibility=visibility,
                    spoiler_text=spoiler_text,
                    language=language,
                    check_length=False,
                )
                return {
                    "network": "mastodon",
                    "id": status.id,
                    "account": author.acct,
                    "created_at": iso_ms(status.created_at),
                }
            if network == "bluesky":
                actor = self.bluesky_resolve(who) or self.bluesky_actor(who)
                record = self.bluesky_post(
                    actor,
                    text,
                    reply_to=reply_to,
                    quote=quote,
                    langs=[language] if language else None,
                    at=at,
                    validate=False,
                )
                return {
                    "network": "bluesky",
                    "uri": record.uri,
                    "cid": record.cid,
                    "handle": actor.handle,
                    "indexedAt": iso_ms(record.indexed_at),
                }
            raise Invalid(f"unknown network {network!r} (expected mastodon or bluesky)")


def quoted_uri(value: dict[str, Any]) -> str | None:
    """The at:// URI a post quotes (app.bsky.embed.record, or inside recordWithMedia), if any."""
    embed = value.get("embed") or {}
    if embed.get("$type") == "app.bsky.embed.record":
        return (embed.get("record") or {}).get("uri")
    if embed.get("$type") == "app.bsky.embed.recordWithMedia":
        return ((embed.get("record") or {}).get("record") or {}).get("uri")
    return None


def facet_mention(text: str, handle: str, did: str) -> dict[str, Any]:
    """A mention facet for the first `@handle` in `text` (for hand-built records in tests)."""
    start = text.index("@" + handle)
    return {
        "index": {
            "byteStart": byte_offset(text, start),
            "byteEnd": byte_offset(text, start + 1 + len(handle)),
        },
        "features": [{"$type": "app.bsky.richtext.facet#mention", "did": did}],
    }
