"""The dashboard's network side: one background thread with its own asyncio loop. Textual-free.

Everything that talks to a server runs there: fetching a thread, favourites and boosts, delivering a
reply through the outbox, and the poller (`sync.Syncer`) for the accounts no `socialtui sync` holds.
Those coroutines also call the store, whose locks may block for seconds while another process
writes, and the Bluesky session lock may wait for another process's refresh: on this thread, that
never freezes the UI. The UI awaits results with `await loop.call(...)` from its async workers.

One adapter per account lives here for the life of the dashboard (so a Mastodon account verifies its
credentials once, not at every action); the poller keeps its own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import TypeVar

from socialtui.config import Config
from socialtui.networks.base import Adapter
from socialtui.sync import AdapterFactory, Syncer

T = TypeVar("T")

RESTART_AFTER = 5.0
"""Seconds before the poller starts again after it stopped on an error."""


class NetworkLoop:
    """A thread running an asyncio loop, with the dashboard's adapters and poller on it."""

    def __init__(self, config: Config, factory: AdapterFactory) -> None:
        self.config = config
        self.factory = factory
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="socialtui-network", daemon=True)
        self._adapters: dict[str, Adapter] = {}
        self._verified: set[str] = set()
        self._syncer: Syncer | None = None
        self._syncer_task: asyncio.Task[None] | None = None
        self._stop_sync: asyncio.Event | None = None
        self._started = False
        self.last_sync_error = ""

    # -- life -------------------------------------------------------------------------------------

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the poller (its leases go back to the pool), close the adapters, end the thread."""
        if not self._started or self._loop.is_closed():
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        try:
            future.result(timeout)
        except Exception:  # noqa: BLE001 - shutting down: nothing left to tell anyone
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._loop.close()

    async def _shutdown(self) -> None:
        if self._stop_sync is not None:
            self._stop_sync.set()
        if self._syncer_task is not None:
            try:
                await asyncio.wait_for(self._syncer_task, 3.0)
            except (TimeoutError, asyncio.CancelledError, Exception):  # noqa: BLE001
                self._syncer_task.cancel()
        for adapter in self._adapters.values():
            try:
                await adapter.aclose()
            except Exception:  # noqa: BLE001 - closing: a broken connection is closed too
                pass
        self._adapters.clear()

    # -- running work -----------------------------------------------------------------------------

    def submit(self, work: Callable[[], Awaitable[T]]) -> Future[T]:
        """Run `work()` on the network loop; a concurrent future of its result."""
        self.start()

        async def runner() -> T:
            return await work()

        return asyncio.run_coroutine_threadsafe(runner(), self._loop)

    async def call(self, work: Callable[[], Awaitable[T]]) -> T:
        """From another event loop (the UI's): await `work()` run on the network loop. Cancelling the
        caller cancels the work."""
        return await asyncio.wrap_future(self.submit(work))

    # -- adapters (call these on the network loop, inside `work`) -----------------------------------

    def adapter(self, account_id: str) -> Adapter:
        """The account's adapter, made on first use. Raises what the factory raises (a missing
        secret: `config.SecretError`)."""
        adapter = self._adapters.get(account_id)
        if adapter is None:
            adapter = self.factory(self.config.account(account_id))
            self._adapters[account_id] = adapter
        return adapter

    async def verified_adapter(self, account_id: str) -> Adapter:
        """The adapter, after learning the server's limits once (Mastodon's max characters)."""
        adapter = self.adapter(account_id)
        if account_id not in self._verified:
            await adapter.verify()
            self._verified.add(account_id)
        return adapter

    # -- the poller -------------------------------------------------------------------------------

    def start_syncer(self, syncer: Syncer) -> None:
        """Poll the accounts whose lease is free; the Syncer retries the others every poll interval,
        so this dashboard takes over when a `socialtui sync` (or another dashboard) exits."""

        def begin() -> None:
            self._syncer = syncer
            self._stop_sync = asyncio.Event()
            self._syncer_task = self._loop.create_task(self._supervise(syncer, self._stop_sync))

        self.start()
        self._loop.call_soon_threadsafe(begin)

    async def _supervise(self, syncer: Syncer, stop: asyncio.Event) -> None:
        # The poller ends on a store it cannot read (busy for long, a bad file): start it again, so
        # that polling resumes once the store is back, instead of silently never again.
        while not stop.is_set():
            try:
                await syncer.run(stop)
            except Exception as exc:  # noqa: BLE001 - whatever stopped it, the accounts' health says the rest
                self.last_sync_error = str(exc) or type(exc).__name__
                try:
                    await asyncio.wait_for(stop.wait(), RESTART_AFTER)
                except TimeoutError:
                    pass

    def polled_here(self) -> tuple[str, ...]:
        """The accounts this dashboard polls right now."""
        syncer = self._syncer
        return tuple(syncer.held()) if syncer is not None else ()

    def poll_now(self) -> None:
        syncer = self._syncer
        if syncer is not None:
            self._loop.call_soon_threadsafe(syncer.poll_now)


__all__ = ["NetworkLoop"]
