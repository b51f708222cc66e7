"""Replies through the outbox: committed before they are sent, sent exactly once, never lost.

1. The reply is checked by the network's rules and committed to the outbox with its idempotency key
   (fixed when the draft was made: a Mastodon `Idempotency-Key`, a Bluesky record key).
2. A sender takes the entry (`queued` -> `sending`) under the store lock: only one process sends it.
3. On success the server's id and URL are recorded (`sent`), and the item leaves the queue.
4. After an uncertain failure (the request may have reached the server) the sender first looks for the
   reply on the server, because not every server honours the idempotency key. A transient failure is
   retried with the same key; a permanent one ends as `failed` with the text kept.

A sender killed at any point leaves the entry `queued` or `sending`; the next sender (the poller, or a
retry) finds it and, for `sending`, looks on the server before sending again.

New posts (`queue_post`) take the same path with no item: sent now, or `scheduled` with a `due_at`
and sent by the account's poller (`poller_pass`, once per cycle) when due, unless the account is
failing (held) or the time has passed by more than the grace (then `missed`, for an operator).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from socialtui import care
from socialtui.clock import Clock
from socialtui.config import Config
from socialtui.model import Actor, Draft, Item, OutboxEntry, Post
from socialtui.networks.base import Adapter
from socialtui.networks.errors import AuthExpired, AuthRefused, NetworkFailure
from socialtui.retry import Backoff
from socialtui.store import AlreadyQueued, AnsweredMeanwhile, Store
from socialtui.store.outbox import post_item
from socialtui.timespec import local_time

ATTEMPTS = 3
SCHEDULE_GRACE = timedelta(minutes=10)
"""How late a scheduled post may still go out (config `schedule_grace`); later, it waits as `missed`."""
RETRY = Backoff(base=1.0, cap=10.0, floor=0.5)
"""Between the attempts of one delivery (`socialtui.retry`)."""


class ReplyRefused(Exception):
    """The reply was not queued: too long, already answered, claimed by someone else. For the user."""


class PostRefused(Exception):
    """The new post was not queued: empty, too long, a visibility the network lacks. For the user."""


@dataclass(frozen=True)
class Delivery:
    entry: OutboxEntry
    message: str

    @property
    def sent(self) -> bool:
        return self.entry.state == "sent"


def answered_meanwhile(store: Store, config: Config, item: Item, now: datetime) -> bool:
    """Has the account answered this item (from any app, or through the outbox), or has an operator
    marked it done?"""
    snap = store.snapshot(now, open_only=True)  # the other items are not needed: not decoded
    return not care.unanswered_queue(
        [item], snap.own_posts, snap.states, config.accounts, now, outbox=snap.outbox
    )


async def answered_on_server(store: Store, adapter: Adapter, item: Item) -> Post | None:
    """Our account's reply to `item` as the server has it, or None: one request (Mastodon
    `statuses/:id/context`, Bluesky `getPostThread`), for a reply sent from another app that no sync
    has fetched yet. A reply found is put in the store, so every operator sees the item answered.
    A server that cannot be asked answers None: the reply then goes through the outbox as usual."""
    try:
        thread = await adapter.fetch_thread(item.post)
    except NetworkFailure:
        return None
    for post in thread:
        if post.own and post.reply_to == item.post.remote_id and post.remote_id != item.post.remote_id:
            store.put_own_posts([replace(post, account=item.account)])
            return post
    return None


def queue_reply(
    store: Store,
    config: Config,
    adapter: Adapter,
    item: Item,
    text: str,
    actor: Actor,
    now: datetime,
    *,
    force: bool = False,
    draft: Draft | None = None,
) -> OutboxEntry:
    """Check and commit a reply to the outbox. Raises ReplyRefused with the reason."""
    pending = [e for e in store.outbox() if e.item == item.id and e.state in ("queued", "sending")]
    if pending:
        if pending[0].operator == actor.operator:
            return pending[0]  # our own reply, queued by another of our shells: send that one
        # Someone else's reply is on its way: never pass it off as ours (their text, their words).
        raise ReplyRefused(AlreadyQueued(pending[0]).describe(config.team.tz))
    if not force and answered_meanwhile(store, config, item, now):
        raise ReplyRefused(f"{item.id} has been answered meanwhile (use --force to reply again)")
    prepared = adapter.prepare_reply(item, text)
    if not prepared.ok:
        raise ReplyRefused(prepared.problem or "the reply cannot be sent as it is")
    draft = draft or store.draft(item.id)
    key = draft.idempotency_key if draft else adapter.new_idempotency_key()
    entry = OutboxEntry(
        id=key,
        item=item.id,
        account=item.account,
        text=prepared.text,
        login=actor.login,
        operator=actor.operator,
        created_at=now,
        updated_at=now,
        in_reply_to=item.post.remote_id,
        visibility=prepared.visibility,
        spoiler_text=prepared.spoiler_text,
        target=item.post,
    )
    try:
        # The authoritative check: one transaction, so that two shells replying at once queue one.
        return store.outbox_add(entry, actor, now, check_answered=not force)
    except AlreadyQueued as exc:
        if exc.entry.operator == actor.operator:
            return exc.entry  # our own reply, queued a moment ago by another of our shells
        raise ReplyRefused(exc.describe(config.team.tz)) from None
    except AnsweredMeanwhile as exc:
        raise ReplyRefused(str(exc)) from None


def queue_post(
    store: Store,
    adapter: Adapter,
    text: str,
    actor: Actor,
    now: datetime,
    *,
    due_at: datetime | None = None,
    visibility: str = "public",
    spoiler_text: str = "",
) -> OutboxEntry:
    """Check a new post by the network's rules and commit it to the outbox with its idempotency key:
    `queued` (to send now) or, with `due_at`, `scheduled`. Raises PostRefused with the reason."""
    if due_at is not None and due_at <= now:
        raise PostRefused(
            f"{local_time(due_at, adapter.account.tz)} has passed: a post can only be scheduled ahead"
        )
    prepared = adapter.prepare_post(text, visibility=visibility, spoiler_text=spoiler_text)
    if not prepared.ok:
        raise PostRefused(prepared.problem or "the post cannot be sent as it is")
    key = adapter.new_idempotency_key()
    entry = OutboxEntry(
        id=key,
        item=post_item(key),
        account=adapter.account.id,
        text=prepared.text,
        login=actor.login,
        operator=actor.operator,
        created_at=now,
        updated_at=now,
        state="scheduled" if due_at is not None else "queued",
        visibility=prepared.visibility,
        spoiler_text=prepared.spoiler_text,
        kind="post",
        due_at=due_at,
    )
    return store.outbox_add(entry, actor, now)


async def deliver(
    store: Store,
    adapter: Adapter,
    item: Item | None,
    entry_id: str,
    clock: Clock,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    attempts: int = ATTEMPTS,
    grace: timedelta | None = None,
) -> Delivery:
    """Send one outbox entry (a reply to `item`, or a new post with `item` None), exactly once.
    A scheduled post is taken only when due and within `grace`. Never raises for network trouble."""
    taken = store.outbox_begin_send(entry_id, clock.now(), grace=grace)
    if taken is None:
        current = store.outbox_entry(entry_id)
        if current is None:
            raise KeyError(entry_id)
        return Delivery(
            current,
            f"already {current.state} (another process is sending it)"
            if current.state == "sending"
            else current.state,
        )
    entry, was_sending = taken
    actor = Actor(entry.login, entry.operator)
    if entry.kind != "post" and item is None:
        raise ValueError(f"{entry.id} is a reply: deliver needs the item it answers")
    if was_sending:
        found = await _look_for(adapter, item, entry)
        if found is not None:
            return _sent(store, entry, found, actor, clock)
    if entry.kind == "post":
        prepared = adapter.prepare_post(
            entry.text, visibility=entry.visibility, spoiler_text=entry.spoiler_text
        )
    else:
        assert item is not None
        prepared = adapter.prepare_reply(item, entry.text, visibility=entry.visibility)
    last_error = ""
    for attempt in range(attempts):
        try:
            if entry.kind == "post":
                post = await adapter.send_post(prepared, entry.id)
            else:
                assert item is not None
                post = await adapter.send_reply(item, prepared, entry.id)
        except NetworkFailure as exc:
            last_error = str(exc) or type(exc).__name__
            if exc.uncertain:
                found = await _look_for(adapter, item, entry)
                if found is not None:
                    return _sent(store, entry, found, actor, clock)
            if not exc.transient:
                failure = "auth" if isinstance(exc, (AuthRefused, AuthExpired)) else "rejected"
                failed = replace(
                    entry, state="failed", error=last_error, failure=failure, updated_at=clock.now()
                )
                store.outbox_update(failed, actor, f"{entry.kind}-failed")
                return Delivery(failed, f"failed: {last_error}")
            if attempt + 1 < attempts:
                await sleep(RETRY.delay(attempt + 1))
            continue
        return _sent(store, entry, post, actor, clock)
    waiting = replace(entry, state="queued", error=f"will retry: {last_error}", updated_at=clock.now())
    store.outbox_update(waiting)
    return Delivery(waiting, f"not sent yet, will retry: {last_error}")


async def settled(store: Store, delivery: Delivery, *, timeout: float = 30.0, every: float = 0.5) -> Delivery:
    """`delivery` once it is no longer `sending` (another process was sending the entry: wait up to
    `timeout` seconds for its result, read from the store), or as it stands at the timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while delivery.entry.state == "sending" and loop.time() < deadline:
        await asyncio.sleep(every)
        current = store.outbox_entry(delivery.entry.id)
        if current is not None:
            delivery = Delivery(current, current.state)
    return delivery


async def _look_for(adapter: Adapter, item: Item | None, entry: OutboxEntry) -> Post | None:
    try:
        if entry.kind == "post" or item is None:
            return await adapter.find_post(entry.id, entry.text)
        return await adapter.find_reply(item, entry.id, entry.text)
    except NetworkFailure:
        return None


def _sent(store: Store, entry: OutboxEntry, post: Post, actor: Actor, clock: Clock) -> Delivery:
    now = clock.now()
    sent = replace(
        entry, state="sent", remote_id=post.remote_id, url=post.url, error="", updated_at=now, sent_at=now
    )
    store.outbox_update(sent, actor, f"{entry.kind}-sent")
    store.put_own_posts([replace(post, own=True, account=entry.account)])
    return Delivery(sent, f"sent: {post.url or post.remote_id}")


async def retry_pending(
    store: Store,
    adapter: Adapter,
    account_id: str,
    clock: Clock,
    *,
    settle: timedelta = timedelta(seconds=30),
    grace: timedelta = SCHEDULE_GRACE,
) -> list[Delivery]:
    """The poller's pass over an account's unfinished outbox entries (senders that died or gave up).
    Entries younger than `settle` are left to the process that queued them. A post with a time that
    is still waiting more than `grace` after it becomes `missed` rather than going out late."""
    results = []
    now = clock.now()
    for entry in store.outbox():
        if entry.account != account_id or entry.state not in ("queued", "sending"):
            continue
        if now - entry.updated_at < settle:
            continue
        if entry.kind == "post":
            if entry.state == "queued" and entry.due_at is not None and now - entry.due_at > grace:
                missed = store.outbox_mark_missed(entry.id, now, grace)
                if missed is not None:
                    results.append(Delivery(missed, f"missed: {missed.error}"))
                    continue
            results.append(await deliver(store, adapter, None, entry.id, clock))
            continue
        item = store.item(entry.item)
        if item is None and entry.target is not None:  # a reply to a timeline post, not an item
            item = Item(id=entry.item, account=entry.account, kind="reply", post=entry.target)
        if item is None:
            continue
        results.append(await deliver(store, adapter, item, entry.id, clock))
    return results


def due_posts(store: Store, account_id: str) -> list[OutboxEntry]:
    """The account's scheduled posts, soonest first."""
    entries = [e for e in store.outbox() if e.account == account_id and e.state == "scheduled" and e.due_at]
    return sorted(entries, key=lambda e: (e.due_at, e.created_at))


async def send_due_posts(
    store: Store, adapter: Adapter, account_id: str, clock: Clock, *, grace: timedelta = SCHEDULE_GRACE
) -> list[Delivery]:
    """Send the account's scheduled posts that are due, each exactly once (the store's lock decides
    who takes it); mark those more than `grace` late as `missed` instead. Called by the holder of
    the account's lease, on a healthy cycle only: while the account fails, due posts are held."""
    results = []
    for entry in due_posts(store, account_id):
        now = clock.now()
        assert entry.due_at is not None
        if entry.due_at > now:
            break
        if now - entry.due_at > grace:
            missed = store.outbox_mark_missed(entry.id, now, grace)
            if missed is not None:
                results.append(Delivery(missed, f"missed: {missed.error}"))
            continue
        results.append(await deliver(store, adapter, None, entry.id, clock, grace=grace))
    return results


def seconds_to_next_due(store: Store, account_id: str, now: datetime) -> float | None:
    """How long until the account's next scheduled post is due (0 if one is due now), or None."""
    upcoming = due_posts(store, account_id)
    if not upcoming or upcoming[0].due_at is None:
        return None
    return max((upcoming[0].due_at - now).total_seconds(), 0.0)


async def poller_pass(
    store: Store, adapter: Adapter, account_id: str, clock: Clock, *, grace: timedelta = SCHEDULE_GRACE
) -> list[Delivery]:
    """The outbox's share of a poll cycle (the lease holder's): finish replies and posts whose sender
    died or gave up, then send the scheduled posts that are due."""
    results = await retry_pending(store, adapter, account_id, clock, grace=grace)
    results += await send_due_posts(store, adapter, account_id, clock, grace=grace)
    return results


async def watch_due_posts(
    store: Store,
    accounts: Callable[[], Iterable[str]],
    wake: Callable[[str], None],
    clock: Clock,
    *,
    every: float = 1.0,
) -> None:
    """Until cancelled: every `every` seconds, `wake(account)` for each of `accounts()` (those this
    process polls) that has a scheduled post due now and a working server, so that a post scheduled
    while its poller sleeps between cycles still goes out within a few seconds of its time. A failing
    account is left to its backoff: its due posts are held."""
    from socialtui.schedule import FAILING

    while True:
        await asyncio.sleep(every)
        try:
            polled = list(accounts())
            if not polled:
                continue
            due = await asyncio.to_thread(_due_now, store, polled, clock.now())
        except Exception:  # noqa: BLE001 - a store busy for a moment: the cycles still send, later
            continue
        healths = store.health() if due else {}
        for account in due:
            health = healths.get(account)
            if health is None or health.state not in FAILING:
                wake(account)


def _due_now(store: Store, accounts: list[str], now: datetime) -> list[str]:
    wanted = set(accounts)
    return sorted(
        {
            e.account
            for e in store.outbox()
            if e.account in wanted and e.state == "scheduled" and e.due_at is not None and e.due_at <= now
        }
    )


async def resend_after_auth(store: Store, adapter: Adapter, account_id: str, clock: Clock) -> list[Delivery]:
    """Replies that failed because the server refused our credentials, sent again now that the
    account works (the poller calls this after a successful cycle): once each, with their key, and
    only if nobody dealt with them meanwhile (a newer reply, a discard)."""
    results = []
    for entry in care.failed_replies(store.outbox()):
        if entry.account != account_id or entry.failure != "auth" or entry.auth_retried:
            continue
        item = store.item(entry.item)
        if item is None and entry.target is not None:
            item = Item(id=entry.item, account=entry.account, kind="reply", post=entry.target)
        if item is None:
            continue
        found = await answered_on_server(store, adapter, item)
        if found is not None:  # answered from another app meanwhile: this one must not go too
            why = f"not sent again: answered meanwhile on the server ({found.url or found.remote_id})"
            store.outbox_update(
                replace(entry, state="discarded", error=why, auth_retried=True, updated_at=clock.now()),
                Actor(entry.login, entry.operator),
                "reply-discarded",
            )
            continue
        again = replace(
            entry, state="queued", error="", failure="", auth_retried=True, updated_at=clock.now()
        )
        store.outbox_update(again)
        results.append(await deliver(store, adapter, item, entry.id, clock))
    return results


def discard_failed(store: Store, item_id: str, actor: Actor, now: datetime) -> list[OutboxEntry]:
    """An operator gives up on the failed replies to an item: they stop being reported (`check`,
    the dashboard) and go with retention. The text stays in the outbox and the audit."""
    discarded = []
    for entry in care.failed_replies(store.outbox()):
        if entry.item != item_id:
            continue
        gone = replace(entry, state="discarded", updated_at=now)
        store.outbox_update(gone, actor, "reply-discarded")
        discarded.append(gone)
    return discarded
