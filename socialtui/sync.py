"""The shared poller: one per account on the machine, whoever runs it.

An account is polled by the process that holds its lease (`Engine.lease`): with the files engine an
flock on `leases/ACCOUNT.lock` that the kernel drops when the process exits, however it exits; with
PostgreSQL a row that lasts half a `poll_interval` unless renewed (every sixth of it), so that when a
host dies another takes its accounts over within `poll_interval`. Retention runs on a timer here too
(`Store.prune_if_due`).

A cycle costs two requests when nothing changed (new items after the cursor, own posts after the
cursor); the home timeline is fetched less often. Failures become the account's health in the store;
each account backs off on its own, so one failing server never delays the others, and a recovering
one is polled at its normal pace again, with no burst.

Live: where the server pushes notifications (Mastodon's streaming API, `Adapter.stream_items`), the
lease holder keeps one stream open per account. An item that arrives is stored at once, as a poll
would store it (the same ids: the poll that sees it later adds nothing). While the stream is up the
account is "live" and polling slows to a safety net (`care.LIVE_POLL_INTERVAL`, the home timeline
to `LIVE_HOME_EVERY`); each time the stream opens, a poll runs at once to fill what was missed.
When it fails (refused, closed, silent past its heartbeat) the account is "polling" again, polled
at once and then every `poll_interval`, and the stream is tried again after the one backoff policy
(`retry.Backoff`). The health in the store says which mode each account is in, and until when
"live" holds (`live_until`): the lease holder moves that on as it renews its lease while the stream
is up, so when it dies (kill -9, a host gone) its accounts are read as "polling" again within two
poll intervals, and go stale by polling's rules (`care.sync_age`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from socialtui.care import LIVE_POLL_INTERVAL
from socialtui.clock import Clock
from socialtui.config import AccountConfig, Config, read_secret
from socialtui.model import AccountHealth
from socialtui.networks.base import Adapter
from socialtui.networks.errors import AuthExpired, AuthRefused, NetworkFailure, RateLimited, ServerError
from socialtui.retry import Backoff
from socialtui.store import Store, StoreError
from socialtui.store.engine import Lease
from socialtui.timespec import local_time

BACKFILL = timedelta(days=7)
BACKFILL_LIMIT = 300
MAX_BACKOFF = timedelta(minutes=15)
CATCH_UP_PAGES = 3
LIVE_HOME_EVERY = timedelta(hours=1)
"""The home timeline's pace while the account is live (at least `home_poll_interval`): the safety
net costs two requests per `LIVE_POLL_INTERVAL` (items, own posts), within the budget of two idle
requests per account per 5 minutes except in the hour's one slot for the home timeline."""
STREAM_RETRY = Backoff(2.0, 300.0, floor=0.5)
"""Tries of a stream that failed: 1-2 s, 2-4 s ... up to 2.5-5 minutes apart."""

AdapterFactory = Callable[[AccountConfig], Adapter]


def live_until(now: datetime, poll_interval: timedelta) -> datetime:
    """How long a confirmation of the stream holds: two poll intervals (it is renewed once half of
    it is left, about every interval, with the lease), at least 10 s."""
    return now + max(2 * poll_interval, timedelta(seconds=10))


def account_lease(store: Store, account_id: str, poll_interval: float = 30.0) -> Lease:
    """The right to poll one account, across every process of the team (see the module)."""
    return store.engine.lease(account_id, ttl=max(poll_interval / 2, 1.0))


@dataclass
class CycleResult:
    account: str
    ok: bool
    new_items: int = 0
    new_own_posts: int = 0
    home_posts: int = 0
    requests: int = 0
    error: str = ""
    next_in: float = 0.0


class AccountPoller:
    """Polls one account: items, own posts and (less often) the home timeline, into the store."""

    def __init__(
        self, account: AccountConfig, config: Config, store: Store, clock: Clock, adapter: Adapter
    ) -> None:
        self.account = account
        self.config = config
        self.store = store
        self.clock = clock
        self.adapter = adapter
        self.failures = 0
        self._last_home: float | None = None
        self.live = False
        """The account's stream is up (set by `Syncer`): polling is only the safety net."""
        self.catch_up = False
        """The stream (re)opened since the last cycle began: poll at once, for what it missed."""

    async def cycle(self) -> CycleResult:
        """One pass. Never raises for network trouble: it becomes the account's health."""
        now = self.clock.now()
        before = self.adapter.requests
        self.catch_up = False
        live = self.live
        result = CycleResult(account=self.account.id, ok=False)
        health = self.store.health().get(self.account.id)
        if health and health.state == "rate_limited" and health.until and health.until > now:
            # The server said when: another process (or an earlier `sync --once`) must not hammer it.
            result.error = (
                f"rate limited until {local_time(health.until, self.config.team.tz, '%H:%M:%S')}; not polled"
            )
            result.next_in = (health.until - now).total_seconds()
            return result
        try:
            await self._poll(now, result)
        except NetworkFailure as exc:
            result.error = str(exc)
            if (
                isinstance(exc, RateLimited)
                and exc.reset_at is not None
                and result.error.startswith("rate limited until")
            ):
                result.error = (
                    f"rate limited until {local_time(exc.reset_at, self.config.team.tz, '%H:%M:%S')}"
                )
            result.next_in = self._record_failure(exc, now)
        else:
            result.ok = True
            self.failures = 0
            self.store.set_health(
                AccountHealth(
                    account=self.account.id,
                    state="ok",
                    last_sync_at=now,
                    last_ok_at=now,
                    mode="live" if live and self.live else "polling",
                    live_until=live_until(now, self.config.team.poll_interval)
                    if live and self.live
                    else None,
                )
            )
            result.next_in = self.interval()
        result.requests = self.adapter.requests - before
        return result

    def interval(self) -> float:
        """Seconds to the next poll: the safety net's while live, else `poll_interval`."""
        interval = self.config.team.poll_interval.total_seconds()
        return max(interval, LIVE_POLL_INTERVAL.total_seconds()) if self.live else interval

    async def _poll(self, now: datetime, result: CycleResult) -> None:
        since = now - BACKFILL
        account = self.account.id
        # A page cut short by the limit (done=False) is followed at once, a few pages per cycle, so a
        # burst is caught up quickly without one account hogging the cycle.
        for _ in range(CATCH_UP_PAGES):
            items_cursor = self.store.cursor(account, "items")
            page = await self.adapter.fetch_items(items_cursor, since, BACKFILL_LIMIT)
            result.new_items += self.store.put_items(page.items)
            if page.cursor and page.cursor != items_cursor:
                self.store.set_cursor(account, "items", page.cursor)
            if page.done:
                break
        for _ in range(CATCH_UP_PAGES):
            own_cursor = self.store.cursor(account, "own")
            own = await self.adapter.fetch_own_posts(own_cursor, since, BACKFILL_LIMIT)
            result.new_own_posts += self.store.put_own_posts(own.items)
            if own.cursor and own.cursor != own_cursor:
                self.store.set_cursor(account, "own", own.cursor)
            if own.done:
                break
        home_every = self.config.team.home_poll_interval.total_seconds()
        if self.live:
            home_every = max(home_every, LIVE_HOME_EVERY.total_seconds())
        mono = self.clock.monotonic()
        if self._last_home is None or mono - self._last_home >= home_every:
            self._last_home = mono
            try:
                home = await self.adapter.fetch_home(100)
            except (RateLimited, AuthRefused, AuthExpired):
                raise
            except NetworkFailure as exc:
                # Listening can wait for its next slot; the items and own posts are in already.
                result.error = f"home timeline: {_short(exc)}"
            else:
                result.home_posts = self.store.put_home_posts(home)
        # Talk about the brand (watch terms), at listening's own slower pace: see listen.py.
        from socialtui.listen import listen_if_due

        heard = await listen_if_due(self.store, self.adapter, self.account, self.config, self.clock)
        result.new_items += heard.new_items
        result.error = heard.error or result.error
        # This process holds the account's lease: it finishes replies and posts whose sender died or
        # gave up, and sends the scheduled posts that are due.
        from socialtui.outbox import poller_pass

        await poller_pass(
            self.store, self.adapter, account, self.clock, grace=self.config.team.schedule_grace
        )
        # Polling works again: replies refused for our credentials go once more, with their key.
        from socialtui.outbox import resend_after_auth

        await resend_after_auth(self.store, self.adapter, account, self.clock)

    def _record_failure(self, exc: NetworkFailure, now: datetime) -> float:
        """Store the account's health and say how long to wait before the next try."""
        self.failures += 1
        previous = self.store.health().get(self.account.id) or AccountHealth(account=self.account.id)
        interval = self.config.team.poll_interval.total_seconds()
        # Jittered, so that several accounts never retry in step; at least half the step.
        backoff = Backoff(interval, MAX_BACKOFF.total_seconds(), floor=0.5).delay(self.failures)
        error = _short(exc)
        if isinstance(exc, ServerError) and not error.startswith("server error"):
            error = f"server error {exc.status}: {error}"  # a server's own words: still a 5xx
        base = AccountHealth(
            account=self.account.id, error=error, last_sync_at=now, last_ok_at=previous.last_ok_at
        )
        if isinstance(exc, RateLimited):
            until = exc.reset_at or now + timedelta(seconds=backoff)
            health = replace(base, state="rate_limited", since=now, until=until)
            wait = max((until - now).total_seconds(), interval)
        elif isinstance(exc, (AuthRefused, AuthExpired)):
            since = previous.since if previous.state == "auth" else now
            health = replace(base, state="auth", since=since)
            wait = max(backoff, 60.0)
        else:
            since = previous.since if previous.state == "unreachable" and previous.since else now
            health = replace(
                base, state="unreachable", since=since, mode=previous.mode, live_until=previous.live_until
            )
            wait = backoff
        self.store.set_health(health)
        return wait


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def default_adapter_factory(config: Config, store: Store, clock: Clock, **options: Any) -> AdapterFactory:
    """Adapters for the configured servers: secrets read when the adapter is made (never stored),
    Bluesky sessions shared through the data dir. `options` go to `make_adapter` (a test transport)."""
    from socialtui.networks import make_adapter
    from socialtui.store.sessions import FileSessionStore

    def factory(account: AccountConfig) -> Adapter:
        secret = read_secret(account)
        sessions = FileSessionStore(store, account.id) if account.network == "bluesky" else None
        return make_adapter(account, secret, session_store=sessions, now=clock.now, **options)

    return factory


class Syncer:
    """Polls every account whose lease it can take; tries the others again each interval."""

    def __init__(
        self,
        config: Config,
        store: Store,
        clock: Clock,
        adapter_factory: AdapterFactory | None = None,
        *,
        log: Callable[[str], None] | None = None,
        accounts: list[str] | None = None,
        streaming: bool = True,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.factory = adapter_factory or default_adapter_factory(config, store, clock)
        self.log = log or (lambda line: None)
        wanted = [a for a in config.accounts if accounts is None or a.id in accounts]
        interval = config.team.poll_interval.total_seconds()
        self.leases = {a.id: account_lease(store, a.id, interval) for a in wanted}
        self.accounts = {a.id: a for a in wanted}
        self.pollers: dict[str, AccountPoller] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self.unusable: dict[str, str] = {}
        """Accounts that could not be polled at all (no secret, a bad session file), with why."""
        self.streaming = streaming
        """Open the servers' streams where they have one (`run` only; `run_once` polls)."""

    def held(self) -> list[str]:
        return [account for account, lease in self.leases.items() if lease.held]

    def _poller(self, account_id: str) -> AccountPoller | None:
        poller = self.pollers.get(account_id)
        if poller is None:
            account = self.accounts[account_id]
            try:
                adapter = self.factory(account)
            except Exception as exc:  # a missing secret or bad session file: the account's health says so
                now = self.clock.now()
                previous = self.store.health().get(account_id) or AccountHealth(account=account_id)
                self.store.set_health(
                    AccountHealth(
                        account=account_id,
                        state="auth",
                        since=previous.since if previous.state == "auth" and previous.since else now,
                        error=_short(exc),
                        last_sync_at=now,
                        last_ok_at=previous.last_ok_at,
                    )
                )
                self.log(f"{account_id}: {exc}")
                self.unusable[account_id] = _short(exc)
                return None
            self.unusable.pop(account_id, None)
            poller = AccountPoller(account, self.config, self.store, self.clock, adapter)
            self.pollers[account_id] = poller
        return poller

    async def run_once(self) -> list[CycleResult]:
        """One pass over every account this process can lease; leases are released after."""
        results: list[CycleResult] = []
        try:
            runnable = []
            for account_id, lease in self.leases.items():
                if not lease.try_acquire():
                    self.log(f"{account_id}: polled by another process; skipped")
                    continue
                poller = self._poller(account_id)
                if poller is not None:
                    runnable.append(poller)
            results = list(await asyncio.gather(*(p.cycle() for p in runnable)))
            # An account that could not even be polled is a failure too (`sync --once` exits 1).
            results += [CycleResult(account=a, ok=False, error=why) for a, why in self.unusable.items()]
            self._prune(every=0.0)
        finally:
            await self.close()
        return results

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set: each leased account in its own task, at its own pace."""
        # Leases are renewed three times in their life, and free ones tried as often.
        retry_leases = self.config.team.poll_interval.total_seconds() / 6
        from socialtui.outbox import watch_due_posts  # scheduled posts: wake their account when due

        watcher = asyncio.create_task(
            watch_due_posts(self.store, lambda: list(self._tasks), self.poll_now, self.clock)
        )
        try:
            while not stop.is_set():
                self._prune()
                for account_id, lease in self.leases.items():
                    if account_id in self._tasks:
                        if not lease.renew():
                            self.log(f"{account_id}: lease lost (another process polls it now); stopped")
                            self._tasks.pop(account_id).cancel()
                        else:
                            self._confirm_live(account_id)
                        continue
                    if not lease.try_acquire():
                        continue
                    self.log(f"{account_id}: polling")
                    self._wake[account_id] = asyncio.Event()
                    self._tasks[account_id] = asyncio.create_task(self._account_loop(account_id, stop))
                try:
                    await asyncio.wait_for(stop.wait(), timeout=retry_leases)
                except TimeoutError:
                    pass
        finally:
            watcher.cancel()
            for task in self._tasks.values():
                task.cancel()
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
            self._tasks.clear()
            await self.close()

    def _confirm_live(self, account_id: str) -> None:
        """Move the account's `live_until` on while its stream is up, once half of its hold is left:
        the sign, for every reader of the store, that this poller and its stream are still there.
        Each confirmation is a health write that wakes every dashboard (which reads the accounts'
        rows again for it, not the queue: `StoreFollower.read`), so no more often than that (a dead
        poller is still read as polling within the hold, two poll intervals)."""
        poller = self.pollers.get(account_id)
        if poller is None or not poller.live:
            return  # the stream is down: the cycle it triggered says "polling"
        now = self.clock.now()
        interval = self.config.team.poll_interval
        try:
            health = self.store.health().get(account_id)
            if health is None or health.mode != "live" or health.state != "ok":
                return  # not yet said by a cycle (it will say it), or failing
            hold = live_until(now, interval) - now
            if health.live_until is not None and health.live_until - now > hold / 2:
                return  # confirmed less than half its hold ago (one poll interval)
            self.store.set_health(replace(health, live_until=live_until(now, interval)))
        except StoreError as exc:
            self.log(f"{account_id}: could not confirm live mode: {exc}")

    def _prune(self, every: float | None = None) -> None:
        """Retention, when due (hourly by default) and no other process is at it."""
        try:
            kwargs = {} if every is None else {"every": every}
            removed = self.store.prune_if_due(self.clock.now(), self.config.team.retention, **kwargs)
        except StoreError as exc:
            self.log(f"retention: {exc}; will try again")
            return
        if removed and any(removed.values()):
            self.log("retention: removed " + ", ".join(f"{n} {t}" for t, n in removed.items() if n))

    def poll_now(self, account_id: str | None = None) -> None:
        """Ask the account loops to poll at once (the dashboard's "refresh")."""
        for key, event in self._wake.items():
            if account_id is None or key == account_id:
                event.set()

    async def _account_loop(self, account_id: str, stop: asyncio.Event) -> None:
        stream: asyncio.Task[None] | None = None
        try:
            while not stop.is_set():
                poller = self._poller(account_id)
                wait = 60.0
                started = self.clock.monotonic()
                if poller is not None:
                    if stream is None and self.streaming and getattr(poller.adapter, "can_stream", False):
                        stream = asyncio.create_task(self._stream_loop(poller, stop))
                    result = await poller.cycle()
                    # A fixed rate: the time the cycle took is part of the interval, not added to it.
                    wait = max(result.next_in - (self.clock.monotonic() - started), 0.0)
                    if result.ok:  # a failing account keeps its backoff: its due posts are held
                        wait = min(wait, _until_next_post(self.store, account_id, self.clock))
                    if result.ok and (result.new_items or result.new_own_posts):
                        self.log(
                            f"{account_id}: {result.new_items} new items, {result.new_own_posts} own posts"
                        )
                    elif not result.ok:
                        self.log(f"{account_id}: {result.error}; next try in {wait:.0f}s")
                wake = self._wake[account_id]
                wake.clear()
                if poller is not None and poller.catch_up:
                    continue  # the stream opened during the cycle: what it missed is fetched now
                try:
                    await asyncio.wait_for(_first(stop, wake), timeout=wait)
                except TimeoutError:
                    pass
        finally:
            if stream is not None:
                stream.cancel()
                await asyncio.gather(stream, return_exceptions=True)

    async def _stream_loop(self, poller: AccountPoller, stop: asyncio.Event) -> None:
        """Keep the account's stream open (see the module): store what it brings, say when it is up
        (live) and when it failed (polling), and try it again after the backoff."""
        account_id = poller.account.id
        failures = 0

        def opened() -> None:
            nonlocal failures
            failures = 0
            poller.live = True
            poller.catch_up = True
            self.log(
                f"{account_id}: live (the server streams its notifications); "
                f"polled every {poller.interval():.0f}s as a safety net"
            )
            self.poll_now(account_id)  # at once, for what came while the stream was down

        try:
            while not stop.is_set():
                why = ""
                try:
                    async for item in poller.adapter.stream_items(opened):  # type: ignore[attr-defined]
                        if self.store.put_items([item]):
                            self.log(f"{account_id}: 1 new item (streamed)")
                except NetworkFailure as exc:
                    why = _short(exc)
                except StoreError as exc:
                    why = f"the store: {exc}"
                was_live, poller.live = poller.live, False
                failures += 1
                delay = STREAM_RETRY.delay(failures)
                if was_live:  # polling again, at once and then every poll_interval
                    poller.catch_up = True
                    self.poll_now(account_id)
                self.log(f"{account_id}: polling ({why}); the stream is tried again in {delay:.0f}s")
                try:
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                except TimeoutError:
                    pass
        finally:
            poller.live = False  # however the task ends (cancelled, a bug): polling takes over

    async def close(self) -> None:
        for poller in self.pollers.values():
            await poller.adapter.aclose()
        self.pollers.clear()
        for lease in self.leases.values():
            lease.release()


def _until_next_post(store: Store, account_id: str, clock: Clock) -> float:
    """Wake for the account's next scheduled post (sent within a second or two of its time)."""
    from socialtui.outbox import seconds_to_next_due

    due = seconds_to_next_due(store, account_id, clock.now())
    return float("inf") if due is None else max(due + 0.2, 0.5)


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


__all__ = ["Syncer", "AccountPoller", "account_lease", "CycleResult", "default_adapter_factory"]
