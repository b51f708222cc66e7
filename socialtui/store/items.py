"""Items and posts: what the poller writes (items addressed to our accounts, our own posts, the home
timelines) and what the care rules read of them.

Beside them the store keeps `answered`: which items are answered (done, replied to, sent), derived
from the truth in `states`, `own` and `outbox` in the same transactions that change it, so that the
queue reads the open items without decoding the answered ones.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from socialtui.model import (
    AccountHealth,
    Author,
    Claim,
    Item,
    OutboxEntry,
    Post,
    from_record,
    item_id,
    to_record,
)
from socialtui.store.base import NotFoundInStore, StoreBase, iso
from socialtui.store.engine import Doc, Group, Query, Reader, Tally, Writer
from socialtui.store.schema import TABLES, contact_key, post_key

if TYPE_CHECKING:
    # Imported where they are made, not here: `status` reads none of them (see `model_work`).
    from socialtui.model_work import Contact, Draft, ItemState

EPOCH = "1970-01-01T00:00:00Z"


@dataclass(frozen=True)
class Snapshot:
    """What the care rules need, read in one go. Made by `Snapshot.of` only (the store's reading and
    the dashboard's follower alike), so no reader can leave a part out."""

    items: list[Item]
    own_posts: list[Post]
    states: dict[str, ItemState]
    claims: dict[str, Claim]
    """Live claims only, by item."""
    outbox: list[OutboxEntry]
    health: dict[str, AccountHealth]
    drafts: dict[str, Draft]
    """Reply drafts, by item."""

    @classmethod
    def of(
        cls,
        now: datetime,
        *,
        items: Iterable[Item],
        own_posts: Iterable[Post],
        states: Mapping[str, ItemState],
        claims: Iterable[Claim],
        outbox: Iterable[OutboxEntry],
        health: Mapping[str, AccountHealth],
        drafts: Mapping[str, Draft],
    ) -> Snapshot:
        """The snapshot of these records at `now` (claims that expired by then are left out)."""
        return cls(
            # Lists and dicts are kept as given: the dashboard hands the same decoded ones again
            # and again (never changed after: a new version of a table is a new dict).
            items=items if isinstance(items, list) else list(items),
            own_posts=own_posts if isinstance(own_posts, list) else list(own_posts),
            states=states if isinstance(states, dict) else dict(states),
            claims={claim.item: claim for claim in claims if claim.expires_at > now},
            outbox=list(outbox),
            health=dict(health),
            drafts=dict(drafts),
        )


@dataclass(frozen=True)
class QueueCounts:
    """What `status` and `check` read, in one go, without decoding every item (`Store.queue_counts`)."""

    tally: dict[Group, Tally]
    """The open items per (account, kind), counted between the instants asked for."""
    head: list[Item]
    """The earliest open items, oldest first (ties by id): the head of the unanswered queue."""
    last_posts: dict[str, datetime]
    """Each account's newest own post (its quiet gap runs from it)."""
    health: dict[str, AccountHealth]
    """Each account's health and last sync."""
    claims: dict[str, Claim]
    """Live claims, by item."""
    outbox: list[OutboxEntry]
    """The outbox but its sent entries (those of items with a failed reply kept)."""


@dataclass(frozen=True)
class Dossier:
    contact: Contact | None
    items: list[Item]
    replies: list[Post]


POST_TABLES = ("items", "own", "home")


def holds_words(table: str, doc: Doc, words: Sequence[str]) -> bool:
    """Whether the post of a document of `table` (an item's post, or the post itself) holds every
    one of `words` (lower case) in its account, author's handle and name, or text."""
    post = doc.get("post") if table == "items" else doc
    if not isinstance(post, dict):
        return False
    author = post.get("author")
    author = author if isinstance(author, dict) else {}
    haystack = " ".join(
        str(part)
        for part in (post.get("account"), author.get("handle"), author.get("display_name"), post.get("text"))
        if part
    ).lower()
    return all(word in haystack for word in words)


def answered_doc(account: str, at: datetime, by: str) -> dict[str, Any]:
    return {"account": account, "at": at.isoformat(), "by": by}


def still_answered(r: Reader, item: str, account: str, remote_id: str) -> str:
    """Why an item is answered apart from an operator's "done" ("" if it is not): a reply from the
    account, or a reply sent through the outbox."""
    if remote_id and any(doc.get("account") == account for _, doc in r.scan("own", Query(refs=[remote_id]))):
        return "reply"
    if any(doc.get("state") == "sent" for _, doc in r.scan("outbox", Query(refs=[item]))):
        return "sent"
    return ""


class ItemsMixin(StoreBase):
    # -- reading ------------------------------------------------------------------------------------

    def items(self, account: str | None = None) -> list[Item]:
        query = Query(account=account) if account is not None else None
        return self._read(lambda r: [from_record(Item, doc) for _, doc in r.scan("items", query)])

    def item(self, item_id: str) -> Item | None:
        doc = self._read(lambda r: r.get("items", item_id))
        return from_record(Item, doc) if doc else None

    def find_item(self, ref: str) -> Item:
        """The item an operator means by `ref`: its id or an unambiguous prefix of it (at least 4)."""
        ref = ref.strip().lower()

        def body(r: Reader) -> tuple[dict[str, Any] | None, list[str]]:
            doc = r.get("items", ref)
            if doc is not None:
                return doc, [ref]
            if len(ref) < 4:
                return None, []
            found = dict(r.scan("items", Query(prefix=ref)))
            return (next(iter(found.values())) if len(found) == 1 else None), sorted(found)

        doc, matches = self._read(body)
        if doc is not None:
            return from_record(Item, doc)
        if len(ref) < 4:
            raise NotFoundInStore(
                f"no item {ref!r}: an item id prefix needs at least 4 characters (see `socialtui status`)"
            )
        if len(matches) > 1:
            raise NotFoundInStore(f"item {ref!r} is ambiguous: it could be {', '.join(matches[:5])}")
        raise NotFoundInStore(f"no item {ref!r} in the store (see `socialtui status` for item ids)")

    def first_look(
        self,
        now: datetime,
        oldest: int,
        posts_since: datetime,
        groups: Collection[Group],
        others: Collection[tuple[str, str]] = (),
    ) -> tuple[Snapshot, dict[str, int]]:
        """The dashboard's first screen, read in a fraction of a full `snapshot`: (a snapshot holding
        the oldest `oldest` open items only, how many items are open per account).

        Only what the care rules need for those items is decoded: their states, the live claims,
        the outbox entries not sent (a sent reply has answered its item already), own posts since
        `posts_since` and each account's latest; the other open items are counted, not decoded
        (`Reader.tally_open`: the files engine's partition summaries, a database's count queries).
        `groups`: the (account, kind) the queue shows; `others`: (network, normalized handle) of our
        own accounts, whose posts are no work (as `queue_counts` takes them).
        """

        from socialtui.model_work import Draft, ItemState

        def body(r: Reader) -> tuple[Snapshot, dict[str, int]]:
            tally, head = r.tally_open({group: () for group in groups}, others, oldest)
            counts: dict[str, int] = {}
            for (account, _), group in tally.items():
                counts[account] = counts.get(account, 0) + sum(group.counts)
            items = [from_record(Item, doc) for _, doc in head]
            picked = [item.id for item in items]
            states = {key: from_record(ItemState, doc) for key, doc in r.get_many("states", picked).items()}
            claims = [from_record(Claim, doc) for _, doc in r.scan("claims", Query(since=iso(now)))]
            unsent = Query(unless_field=("state", ("sent",)))
            outbox = [from_record(OutboxEntry, doc) for _, doc in r.scan("outbox", unsent)]
            drafts = {key: from_record(Draft, doc) for key, doc in r.scan("drafts")}
            raw_health = dict(r.scan("health"))
            health = {key: from_record(AccountHealth, doc) for key, doc in raw_health.items()}
            raw_own = _own_since(r, posts_since, set(raw_health) | set(counts))
            snapshot = Snapshot.of(
                now,
                items=items,
                own_posts=[from_record(Post, doc) for doc in raw_own],
                states=states,
                claims=claims,
                outbox=outbox,
                health=health,
                drafts=drafts,
            )
            return snapshot, counts

        return self._read(body)

    def own_posts(self, account: str | None = None, since: datetime | None = None) -> list[Post]:
        query = Query(account=account, since=iso(since) if since else None)
        return self._read(lambda r: [from_record(Post, doc) for _, doc in r.scan("own", query)])

    def home_posts(self, account: str | None = None) -> list[Post]:
        query = Query(account=account) if account is not None else None
        return self._read(lambda r: [from_record(Post, doc) for _, doc in r.scan("home", query)])

    def newest_posts(
        self, tables: Sequence[str], accounts: Iterable[str], newest: int, words: Sequence[str] = ()
    ) -> list[tuple[str, Any]]:
        """What the timeline shows: the newest `newest` documents of `tables` (of `items`, `own`
        and `home`) written for any of `accounts` whose post's account, author and text hold every
        one of `words` (lower case), newest first, as (table, decoded: an `Item` of the items, a
        `Post` of the others). Without words, only each account's newest day files (rows) are read;
        with words, every document of those accounts is read and let go of. Only what is returned
        is decoded: the timeline holds what it shows, not the store."""
        wanted = list(dict.fromkeys(accounts))
        for table in tables:
            if table not in POST_TABLES:
                raise ValueError(f"not a table of posts: {table!r}")

        def candidates(r: Reader, table: str) -> Iterator[tuple[str, str, Doc]]:
            at = TABLES[table].at
            assert at is not None  # every table of posts has a time
            for account in wanted:
                for _, doc in r.scan(table, Query(account=account, newest=None if words else newest)):
                    if not words or holds_words(table, doc, words):
                        yield at(doc), table, doc

        def body(r: Reader) -> list[tuple[str, str, Doc]]:
            every = (row for table in tables for row in candidates(r, table))
            return heapq.nlargest(newest, every, key=itemgetter(0))

        out: list[tuple[str, Any]] = []
        for _, table, doc in self._read(body):
            try:
                out.append((table, from_record(Item if table == "items" else Post, doc)))
            except (ValueError, KeyError, TypeError):
                continue  # not ours to show (a hand edit): skipped, as the dashboard skips it
        return out

    def snapshot(
        self, now: datetime, *, open_only: bool = False, posts_since: datetime | None = None
    ) -> Snapshot:
        """Items, own posts, operator state and health: everything the care rules read.

        `open_only` leaves out items that are answered (done, replied to by the account, or sent
        through the outbox) without reading them; `posts_since` leaves out older own posts but each
        account's latest (its gap is measured from it). The queue, gaps and `check` need no more than
        that; the report needs everything.
        """

        from socialtui.model_work import Draft, ItemState

        def body(r: Reader) -> Snapshot:
            states = {key: from_record(ItemState, doc) for key, doc in r.scan("states")}
            claims = [from_record(Claim, doc) for _, doc in r.scan("claims", Query(since=iso(now)))]
            outbox = [from_record(OutboxEntry, doc) for _, doc in r.scan("outbox")]
            drafts = {key: from_record(Draft, doc) for key, doc in r.scan("drafts")}
            items_query = Query(unless_in="answered") if open_only else None
            items = [from_record(Item, doc) for _, doc in r.scan("items", items_query)]
            raw_health = dict(r.scan("health"))
            health = {key: from_record(AccountHealth, doc) for key, doc in raw_health.items()}
            if posts_since is None:
                raw_own = [doc for _, doc in r.scan("own")]
            else:
                # The recent posts, and each account's latest (its gap is measured from it) asked
                # for by account: the whole post cache is never read. An account with posts has
                # been polled, so it has a health row.
                raw_own = _own_since(r, posts_since, set(raw_health) | {i.account for i in items})
            return Snapshot.of(
                now,
                items=items,
                own_posts=[from_record(Post, doc) for doc in raw_own],
                states=states,
                claims=claims,
                outbox=outbox,
                health=health,
                drafts=drafts,
            )

        return self._read(body)

    def queue_counts(
        self,
        now: datetime,
        edges: Mapping[Group, Sequence[datetime]],
        *,
        others: Collection[tuple[str, str]] = (),
        head: int = 0,
        accounts: Iterable[str] = (),
    ) -> QueueCounts:
        """The counts of the unanswered queue and what else `status` and `check` show, without
        decoding the items: the open items of each (account, kind) in `edges` counted between its
        instants (the care rules' deadlines: see `Reader.tally_open`), the `head` earliest of them,
        the newest own post of each of `accounts`, health, live claims and the outbox but what was
        sent. `others`: (network, normalized handle) of our own accounts, whose posts are no work."""

        def body(r: Reader) -> QueueCounts:
            tally, raw_head = r.tally_open(edges, others, head)
            first = [from_record(Item, doc) for _, doc in raw_head]
            last_posts = {
                account: from_record(Post, doc).created_at
                for account, doc in r.newest_each("own", accounts).items()
            }
            health = {key: from_record(AccountHealth, doc) for key, doc in r.scan("health")}
            claims = [from_record(Claim, doc) for _, doc in r.scan("claims", Query(since=iso(now)))]
            raw = dict(r.scan("outbox", Query(unless_field=("state", ("sent",)))))
            failed = {doc["item"] for doc in raw.values() if doc.get("state") == "failed"}
            if failed:
                raw.update(r.scan("outbox", Query(refs=failed)))
            return QueueCounts(
                tally=tally,
                head=first,
                last_posts=last_posts,
                health=health,
                claims={claim.item: claim for claim in claims if claim.expires_at > now},
                outbox=[from_record(OutboxEntry, doc) for doc in raw.values()],
            )

        return self._read(body)

    def answered(self) -> dict[str, str]:
        """Answered item ids, with why: "done", "reply" or "sent"."""
        return self._read(lambda r: {key: doc.get("by", "") for key, doc in r.scan("answered")})

    def answered_ids(self) -> set[str]:
        """Answered item ids, their documents unread (what a reader skips decoding)."""
        return self._read(lambda r: r.keys("answered"))

    # -- people -------------------------------------------------------------------------------------

    def _author_of(self, r: Reader, candidates: list[tuple[str, str]]) -> Author | None:
        """The author of a stored item who is one of `candidates` (network, handle or DID)."""
        wanted = {(net, handle.lower()) for net, handle in candidates}
        keys = {contact_key({"network": net, "handle": handle, "id": ""}) for net, handle in candidates}
        keys |= {f"bluesky:{handle}" for net, handle in candidates if net == "bluesky"}
        for _, doc in r.scan("items", Query(refs=keys)):
            return from_record(Author, doc["post"]["author"])
        if not any(net == "bluesky" for net, _ in candidates):
            return None
        # A Bluesky author is keyed by DID: by handle, only a look through the items finds them.
        for _, doc in r.scan("items"):
            raw_author = doc["post"]["author"]
            if (raw_author["network"], raw_author["handle"].lower()) in wanted:
                return from_record(Author, raw_author)
        return None

    def contact_suggestions(self, ref: str, limit: int = 3) -> list[str]:
        """Who an operator may have meant by `ref`: the handles (with display names) of known
        contacts and authors whose handle or display name is close to it."""
        import difflib

        people: dict[str, str] = {}
        for contact in self.contacts().values():  # type: ignore[attr-defined]  # a mixin of the Store, which has it
            label = f"@{contact.handle}" if contact.network == "mastodon" else contact.handle
            people[label] = contact.display_name
        for _, doc in self._read(lambda r: list(r.scan("items"))):
            author = from_record(Author, doc["post"]["author"])
            people.setdefault(author.label, author.display_name)
        keys: dict[str, str] = {}
        for label, name in people.items():
            keys.setdefault(label.lstrip("@").lower(), label)
            if name:
                keys.setdefault(name.lower(), label)
        wanted = ref.strip().lstrip("@").lower()
        found: list[str] = []
        for key in difflib.get_close_matches(wanted, list(keys), n=limit * 2, cutoff=0.6):
            label = keys[key]
            if label not in found:
                found.append(label)
        return [f"{label} ({people[label]})" if people[label] else label for label in found[:limit]]

    def resolve_contact(
        self, ref: str, *, known_only: bool = False, author: Author | None = None
    ) -> tuple[str, str, str, str]:
        """(key, network, handle, display name) for what an operator typed: `@sam@example.org`,
        `kim.example.com`, `did:plc:...`, or a full key `mastodon:sam@example.org`.
        `known_only`: refuse a contact the store has never seen (no dossier, no item), saying
        whom the operator may have meant.
        `author`: the person `ref` names, as the caller has them (the author of an item it shows):
        a contact without a dossier yet is taken from them, not looked for through every item
        (an operator's first note about someone read every items partition: 25 ms of CPU at
        10,000 items, and most of the slowest actions under contention)."""
        ref = ref.strip()
        if not ref:
            raise NotFoundInStore("a contact is needed: a handle such as @sam@example.org or kim.bsky.social")
        if ref.startswith(("mastodon:", "bluesky:")):
            network, _, rest = ref.partition(":")
            candidates = [(network, rest)]
        elif ref.startswith("did:"):
            candidates = [("bluesky", ref)]
        elif ref.lstrip("@").count("@") == 1:
            candidates = [("mastodon", ref.lstrip("@"))]
        else:
            candidates = [("bluesky", ref.lstrip("@")), ("mastodon", ref.lstrip("@"))]
        wanted = {(net, handle.lower()) for net, handle in candidates}
        full_keys = {f"{net}:{h}" for net, h in wanted}

        def known(r: Reader) -> dict[str, Any] | None:
            # By key first (a Mastodon handle is its key): an operator's note must not read every
            # dossier; then by handle (a Bluesky contact is keyed by DID), undecoded.
            for _, doc in sorted(r.get_many("contacts", full_keys).items()):
                return doc
            if ref.startswith(("mastodon:", "bluesky:")):
                return None  # a dossier's key (what the dashboard passes): no other contact is it
            if not any(net == "bluesky" and not h.startswith("did:") for net, h in wanted):
                return None  # a Mastodon contact's key is its handle: looked up above
            for key, doc in r.scan("contacts"):
                handle = str(doc.get("handle", "")).lower()
                if (doc.get("network"), handle) in wanted or key.lower() in full_keys:
                    return doc
            return None

        found = self._read(known)
        if found is not None:
            from socialtui.model_work import Contact

            contact = from_record(Contact, found)
            return contact.key, contact.network, contact.handle, contact.display_name
        if author is None:
            author = self._read(lambda r: self._author_of(r, candidates))
        if author is not None:
            return author.contact_key, author.network, author.handle, author.display_name
        if known_only:
            maybe = self.contact_suggestions(ref)
            hint = f"; did you mean {' or '.join(maybe)}?" if maybe else ""
            raise NotFoundInStore(f"nobody called {ref!r} has talked to our accounts{hint}")
        network, handle = candidates[0]
        key = Author(
            network=network, handle=handle, id=handle if handle.startswith("did:") else ""
        ).contact_key
        return key, network, handle, ""

    def dossier(self, key: str) -> Dossier:
        """Everything the team knows about one person: the contact record, their items addressed to
        any of our accounts (oldest first), and our replies to them."""

        def body(r: Reader) -> tuple[list[Item], list[Post]]:
            items = [from_record(Item, doc) for _, doc in r.scan("items", Query(refs=[key]))]
            wanted = {(item.account, item.post.remote_id) for item in items}
            replies = [
                from_record(Post, doc)
                for _, doc in r.scan("own", Query(refs=[remote for _, remote in wanted]))
                if (doc["account"], doc.get("reply_to", "")) in wanted
            ]
            return items, replies

        items, replies = self._read(body)
        items.sort(key=lambda item: item.post.created_at)
        replies.sort(key=lambda post: post.created_at)
        return Dossier(contact=self.contact(key), items=items, replies=replies)  # type: ignore[attr-defined]  # a mixin of the Store, which has it

    # -- writing: the poller ------------------------------------------------------------------------

    def put_items(self, items: Iterable[Item]) -> int:
        docs = {item.id: to_record(item) for item in items}
        if not docs:
            return 0

        def body(w: Writer) -> int:
            existing = w.get_many("items", docs.keys())
            # A poll re-reads a little behind its cursor: what is unchanged is not written again.
            w.put_many("items", {key: doc for key, doc in docs.items() if existing.get(key) != doc})
            return sum(1 for key in docs if key not in existing)

        return self._write(["items"], body)

    def put_new_items(self, items: Iterable[Item]) -> list[Item]:
        """Store the items that are not items yet (talk found by listening must never turn a mention
        back into talk); returns those stored. Checked and written in one transaction."""
        wanted = {item.id: item for item in items}
        if not wanted:
            return []

        def body(w: Writer) -> list[Item]:
            existing = w.get_many("items", wanted.keys())
            new = [item for key, item in wanted.items() if key not in existing]
            if new:
                w.put_many("items", {item.id: to_record(item) for item in new})
            return new

        return self._write(["items"], body)

    def put_own_posts(self, posts: Iterable[Post]) -> int:
        posts = list(posts)
        docs = {post_key(post.account, post.remote_id): to_record(post) for post in posts}
        replies = {
            item_id(post.account, post.reply_to): answered_doc(post.account, post.created_at, "reply")
            for post in posts
            if post.reply_to
        }

        def body(w: Writer) -> int:
            new = self._put_posts(w, "own", docs)
            have = w.get_many("answered", replies.keys())
            w.put_many("answered", {key: doc for key, doc in replies.items() if key not in have})
            return new

        return self._write(["own", "answered"], body) if docs else 0

    def put_home_posts(self, posts: Iterable[Post]) -> int:
        docs = {post_key(post.account, post.remote_id): to_record(post) for post in posts}
        return self._write(["home"], lambda w: self._put_posts(w, "home", docs)) if docs else 0

    @staticmethod
    def _put_posts(w: Writer, table: str, docs: dict[str, dict[str, Any]]) -> int:
        existing = w.get_many(table, docs.keys())
        w.put_many(table, {key: doc for key, doc in docs.items() if existing.get(key) != doc})
        return sum(1 for key in docs if key not in existing)

    def rebuild_answered(self) -> int:
        """Derive the `answered` index again from the truth (done states, own replies, sent replies):
        after an upgrade from a store that had none, or from `socialtui store check --repair`."""

        def body(w: Writer) -> int:
            docs: dict[str, dict[str, Any]] = {}
            for _, doc in w.scan("own"):
                if doc.get("reply_to"):
                    key = item_id(doc["account"], doc["reply_to"])
                    docs[key] = {"account": doc["account"], "at": doc["created_at"], "by": "reply"}
            for _, doc in w.scan("outbox"):
                if doc.get("state") == "sent":
                    docs[doc["item"]] = {"account": doc["account"], "at": doc["updated_at"], "by": "sent"}
            for key, doc in w.scan("states"):
                if doc.get("done"):
                    docs[key] = {"account": doc["account"], "at": doc.get("at") or EPOCH, "by": "done"}
            stale = w.keys("answered") - docs.keys()
            w.delete("answered", stale)
            w.put_many("answered", docs)
            return len(docs)

        return self._write(["answered"], body)

    def _ensure_answered(self) -> None:
        """A store from before the `answered` index gets it once, on first open."""

        def missing(r: Reader) -> bool:
            # Only when something is answered: a store with nothing answered is not rebuilt each open.
            if r.holds_any("answered"):  # one row, not a count of all
                return False
            return (
                any(doc.get("done") for _, doc in r.scan("states"))
                or any(doc.get("state") == "sent" for _, doc in r.scan("outbox"))
                or any(doc.get("reply_to") for _, doc in r.scan("own"))
            )

        if self._read(missing):
            self.rebuild_answered()


__all__ = ["ItemsMixin", "Snapshot", "QueueCounts", "Dossier", "answered_doc", "still_answered"]


def _own_since(r: Reader, since: datetime, accounts: Collection[str]) -> list[Doc]:
    """Own posts since `since`, and the latest of each of `accounts` with none since (its gap is
    measured from it): the whole post cache is never read (`Reader.newest_each`: one statement on a
    database)."""
    raw = [doc for _, doc in r.scan("own", Query(since=iso(since)))]
    recent = {doc["account"] for doc in raw}
    raw.extend(r.newest_each("own", sorted(set(accounts) - recent)).values())
    return raw
