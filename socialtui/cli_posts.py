"""The commands for new posts and the schedule: `post`, `schedule [ACCOUNT] | cancel ID | move ID WHEN |
send ID`. Thin, like the rest of the command line: the rules live in `outbox`, `schedule`, `timespec`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, timedelta
from typing import TYPE_CHECKING

from socialtui.config import AccountConfig
from socialtui.model import OutboxEntry
from socialtui.schedule import UNPOLLED_WITHIN
from socialtui.text import clean, fit, one_line
from socialtui.timespec import format_duration, local_time, parse_when

if TYPE_CHECKING:
    from socialtui.cli import Context
    from socialtui.store import Store


def _errors() -> tuple[type[Exception], type[Exception]]:
    from socialtui.cli import ArgumentError, CommandError

    return ArgumentError, CommandError


def _account(ctx: Context, account_id: str) -> AccountConfig:
    _, CommandError = _errors()
    try:
        return ctx.config.account(account_id)
    except KeyError:
        known = ", ".join(a.id for a in ctx.config.accounts) or "none"
        raise CommandError(f"no account {account_id!r} in {ctx.config.path} (accounts: {known})") from None


WHEN_FORMAT = "%a %Y-%m-%d %H:%M"
"""A scheduled post's time, as `local_time` shows it in the account's zone: `Sat 2026-11-21 10:30 CET`."""


def nobody_polls(store: Store, account_id: str) -> bool:
    """True if no process holds the account's lease (a poller would). Probes by taking it briefly."""
    from socialtui.sync import account_lease

    lease = account_lease(store, account_id)
    if lease.try_acquire():
        lease.release()
        return True
    return False


def find_post(store: Store, wanted: str) -> OutboxEntry:
    """A new post by its id or an unambiguous prefix of at least 4 characters."""
    _, CommandError = _errors()
    posts = [e for e in store.outbox() if e.kind == "post"]
    exact = [e for e in posts if e.id == wanted]
    if exact:
        return exact[0]
    found = [e for e in posts if len(wanted) >= 4 and e.id.startswith(wanted)]
    if len(found) == 1:
        return found[0]
    if found:
        raise CommandError(f"{wanted!r} names {len(found)} posts: give more of the id")
    raise CommandError(f"no post {one_line(wanted, 40)!r} in the outbox (see `socialtui schedule --all`)")


def cmd_post(ctx: Context) -> int:
    import asyncio

    from socialtui.outbox import PostRefused, deliver, queue_post, settled
    from socialtui.sync import default_adapter_factory

    ArgumentError, CommandError = _errors()
    from socialtui.cli import out

    text = " ".join(ctx.args.text)
    if text == "-":
        text = sys.stdin.read()
    text = text.strip()
    if not text:
        raise ArgumentError("post: TEXT is empty")
    account = _account(ctx, ctx.args.account)
    store, now, actor = ctx.store, ctx.now(), ctx.actor
    due_at = None
    if ctx.args.at is not None:
        try:
            due_at = parse_when(ctx.args.at, account.tz, now)
        except ValueError as exc:
            raise ArgumentError(f"post --at: {exc}") from None
    adapter = default_adapter_factory(ctx.config, store, ctx.clock)(account)

    async def send() -> int:
        try:
            try:
                entry = queue_post(
                    store,
                    adapter,
                    text,
                    actor,
                    now,
                    due_at=due_at,
                    visibility=ctx.args.visibility,
                    spoiler_text=ctx.args.cw or "",
                )
            except PostRefused as exc:
                raise CommandError(f"not posted: {exc}") from None
            if due_at is not None:
                wait = format_duration((due_at - now).total_seconds())
                out(
                    f"Scheduled {entry.id} from {account.id} ({account.handle}) for {local_time(due_at, account.tz, WHEN_FORMAT)} (in {wait})"
                )
                if due_at - now <= UNPOLLED_WITHIN and nobody_polls(store, account.id):
                    print(
                        f"socialtui: warning: no poller holds {account.id}: run `socialtui sync` or the dashboard, or nothing will send it",
                        file=sys.stderr,
                    )
                return 0
            out(f"Posting from {account.id} ({account.handle})…")
            delivery = await deliver(store, adapter, None, entry.id, ctx.clock)
            entry = (await settled(store, delivery)).entry  # another process may be sending it
            if entry.state == "sent":
                out(f"Sent: {entry.url or entry.remote_id}")
                return 0
            if entry.state == "failed":
                print(
                    f"socialtui: post failed: {one_line(entry.error)} (the text is kept in the outbox)",
                    file=sys.stderr,
                )
                return 1
            print(
                f"socialtui: {one_line(delivery.message)}; the post waits in the outbox and the poller will send it",
                file=sys.stderr,
            )
            return 1
        finally:
            await adapter.aclose()

    return asyncio.run(send())


def cmd_schedule(ctx: Context) -> int:
    action = ctx.args.action
    if action in ("cancel", "move", "send"):
        return _change(ctx, action)
    ArgumentError, _ = _errors()
    if ctx.args.target is not None:
        raise ArgumentError(
            "schedule: expected `schedule [ACCOUNT]`, `cancel ID`, `move ID WHEN` or `send ID`"
        )
    ctx.args.target = action  # `schedule ACCOUNT`: the account (or None: all, merged)
    return _list(ctx)


def _list(ctx: Context) -> int:
    from socialtui.cli import out
    from socialtui.schedule import scheduled_posts

    store, config, now = ctx.store, ctx.config, ctx.now()
    account_id = ctx.args.target
    if account_id is not None:
        _account(ctx, account_id)
    states = (
        ("scheduled", "missed", "queued", "sending", "failed", "sent", "cancelled") if ctx.args.all else None
    )
    kwargs = {"states": states} if states else {}
    posts = scheduled_posts(
        store.outbox(), store.health(), now, config.team.schedule_grace, account=account_id, **kwargs
    )
    if ctx.args.json:
        doc = []
        for p in posts:
            acc = (
                config.account(p.entry.account)
                if p.entry.account in {a.id for a in config.accounts}
                else None
            )
            doc.append(
                {
                    "id": p.entry.id,
                    "account": p.entry.account,
                    "at": p.at.isoformat(),
                    "at_local": p.at.astimezone(acc.tz).isoformat() if acc else None,
                    "text": clean(p.entry.text),
                    "state": p.state,
                    "visibility": p.entry.visibility,
                    "cw": clean(p.entry.spoiler_text),
                    "by": p.entry.operator,
                    "url": p.entry.url or None,
                    "error": clean(p.entry.error) or None,
                }
            )
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return 0
    if not posts:
        where = f" for {account_id}" if account_id else ""
        out(f"Nothing scheduled{where}. (`socialtui post ACCOUNT TEXT --at WHEN` schedules a post.)")
        return 0
    out(f"{'ID':<14} {'ACCOUNT':<16} {'AT (account time)':<26} {'STATE':<9} TEXT")
    for p in posts:
        acc = next((a for a in config.accounts if a.id == p.entry.account), None)
        at = local_time(p.at, acc.tz if acc else UTC, WHEN_FORMAT)
        out(
            f"{fit(p.entry.id, 14)} {fit(p.entry.account, 16)} {fit(at, 26)} {p.state:<9} {one_line(p.entry.text, 60)}"
        )
    return 0


def _change(ctx: Context, action: str) -> int:
    import asyncio

    from socialtui.cli import out
    from socialtui.outbox import deliver
    from socialtui.store import NotChangeable
    from socialtui.sync import default_adapter_factory

    ArgumentError, CommandError = _errors()
    store, now, actor = ctx.store, ctx.now(), ctx.actor
    if not ctx.args.target:
        raise ArgumentError(f"schedule {action}: ID is missing")
    entry = find_post(store, ctx.args.target)
    account = _account(ctx, entry.account)
    try:
        if action == "cancel":
            changed = store.outbox_reschedule(entry.id, actor, now, cancel=True)
            out(f"Cancelled {changed.id} ({account.id}): {one_line(changed.text, 60)}")
            return 0
        if action == "move":
            if not ctx.args.when:
                raise ArgumentError("schedule move: WHEN is missing (e.g. `tomorrow 09:00`, `+2h`)")
            try:
                due_at = parse_when(" ".join(ctx.args.when), account.tz, now)
            except ValueError as exc:
                raise ArgumentError(f"schedule move: {exc}") from None
            changed = store.outbox_reschedule(entry.id, actor, now, due_at=due_at)
            out(f"Moved {changed.id} ({account.id}) to {local_time(due_at, account.tz, WHEN_FORMAT)}")
            return 0
        changed = store.outbox_reschedule(entry.id, actor, now)
    except NotChangeable as exc:
        raise CommandError(str(exc)) from None
    adapter = default_adapter_factory(ctx.config, store, ctx.clock)(account)

    async def send() -> int:
        try:
            delivery = await deliver(store, adapter, None, changed.id, ctx.clock)
        finally:
            await adapter.aclose()
        if delivery.sent:
            out(f"Sent: {delivery.entry.url or delivery.entry.remote_id}")
            return 0
        print(f"socialtui: {one_line(delivery.message)}; the post waits in the outbox", file=sys.stderr)
        return 1

    return asyncio.run(send())


DEMO_COVERED = "nightowl-bluesky"
"""The demo account whose night is covered by a schedule (its sibling heads into a gap unplanned)."""
DEMO_POSTS = (
    "Tonight's playlist is up: three hours of late-night jazz.",
    "Still with us? Request a song for the small hours.",
    "Early birds and night owls: the morning show starts soon.",
    "Thanks for staying up with us. Coffee's on.",
    "Lunchtime listening: our favourite sessions from last week.",
)


def schedule_demo_posts(ctx: Context) -> None:
    """The demo's schedule: posts that keep one account present through the next 24 hours."""
    from socialtui.outbox import queue_post
    from socialtui.sync import default_adapter_factory

    try:
        account = ctx.config.account(DEMO_COVERED)
    except KeyError:
        return
    now = ctx.now()
    # The first within the hour, then each a little before the gap would breach: covered for 24 hours.
    every = max(account.max_quiet - timedelta(minutes=30), timedelta(hours=1))
    adapter = default_adapter_factory(ctx.config, ctx.store, ctx.clock)(account)
    for n, text in enumerate(DEMO_POSTS):
        due_at = now + timedelta(minutes=50) + every * n
        queue_post(ctx.store, adapter, text, ctx.actor, now, due_at=due_at)


def unpolled_probe(ctx: Context) -> Callable[[str], bool]:
    """For `check`: does no poller hold an account's lease?"""
    return lambda account_id: nobody_polls(ctx.store, account_id)


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`post` and `schedule`, added to the command line's parser."""
    p = sub.add_parser("post", parents=[common], help="a new post from an account, now or scheduled (--at)")
    p.add_argument("account", metavar="ACCOUNT", help="the account id in the config")
    p.add_argument("text", metavar="TEXT", nargs="+", help="the post (- reads it from standard input)")
    p.add_argument(
        "--at",
        metavar="WHEN",
        help="schedule it, in the account's time zone: 2026-11-20T09:00, +2h, `tomorrow 09:00`, `Sat 10:30`",
    )
    p.add_argument("--visibility", choices=("public", "unlisted", "private", "direct"), default="public")
    p.add_argument("--cw", metavar="TEXT", help="a content warning (Mastodon)")
    p.set_defaults(func=cmd_post)

    p = sub.add_parser(
        "schedule",
        parents=[common],
        help="the scheduled posts: list [ACCOUNT], or cancel ID, move ID WHEN, send ID (a missed one, now)",
    )
    p.add_argument("action", metavar="ACCOUNT|cancel|move|send", nargs="?", default=None)
    p.add_argument("target", metavar="ID", nargs="?", default=None)
    p.add_argument("when", metavar="WHEN", nargs="*")
    p.add_argument("--json", action="store_true")
    p.add_argument("--all", action="store_true", help="sent and cancelled posts too")
    p.set_defaults(func=cmd_schedule)
