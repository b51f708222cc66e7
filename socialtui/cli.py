"""The command line: argument parsing and thin commands over the core. A contract: scripts use it.

Exit codes: 0 success; 1 an error at run time (store busy, item not found, network failure, and for
`sync --once` any account that could not be polled); 2 a bad config or bad arguments; `check` uses
0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the README's command-line section is the contract).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from socialtui import __version__, care
from socialtui.clock import Clock
from socialtui.config import ConfigError
from socialtui.context import Context, unix_login
from socialtui.store import StoreError
from socialtui.store.safefile import write_atomic
from socialtui.text import clean, fit, one_line
from socialtui.timespec import format_duration, local_time, local_times_in, parse_since

if TYPE_CHECKING:
    from socialtui.model_work import HandoffNote
    from socialtui.overview import Overview


class CommandError(Exception):
    """A command that cannot do what was asked; the message is for the user, exit status 1."""


def out(line: str = "") -> None:
    print(line)


# --- status and check ----------------------------------------------------------------------------


STATUS_ROWS = 40


def cmd_status(ctx: Context) -> int:
    from socialtui.overview import build_overview, build_status_overview, overview_json

    now = ctx.now()
    if ctx.args.json or ctx.args.all or ctx.config.team.negative_first:
        # Every item listed (`--json` with its tone), or an order that needs every item's tone.
        overview = build_overview(ctx.config, ctx.store, now, tones=bool(ctx.args.json))
    else:
        # The text lists the head of the queue: the rest is counted in the store, never decoded.
        overview = build_status_overview(ctx.config, ctx.store, now, head=STATUS_ROWS)
    if ctx.args.json:
        print(json.dumps(overview_json(overview, ctx.actor), ensure_ascii=False, indent=2))
        return 0
    config = ctx.config
    tz = ctx.config.team.tz
    out(f"socialtui status  {local_time(now, tz)}  operator {ctx.actor.label}")
    if not config.accounts:
        out(
            f"No accounts are configured in {config.path}: add [[accounts]] tables (see config.example.toml)."
        )
        return 0
    out()
    out(f"{'ACCOUNT':<20} {'UNANSWERED':>10} {'LATE':>5} {'OLDEST':>7}  {'QUIET':<22} HEALTH")
    # Waiting times are wall-clock; late/due and quiet gaps count the account's active hours only.
    for a in overview.accounts:
        oldest = format_duration(a.oldest_waited_s) if a.oldest_waited_s is not None else "-"
        if a.gap.state == "unknown":
            quiet = "unknown"
        else:
            quiet = f"{format_duration(a.gap.quiet_s)} of {format_duration(a.account.max_quiet.total_seconds())} {a.gap.state}"
        out(
            f"{fit(a.account.id, 20)} {a.unanswered:>10} {a.late:>5} {oldest:>7}  {quiet:<22} {clean(a.health_line(tz))}"
        )
    out()
    for line in forecast_lines(overview, config.team.timezone, config.team.tz, now):
        out(line)
    failed = overview.failed
    if failed:
        out(f"FAILED REPLIES ({len(failed)}): reply again, or discard with `socialtui reply ITEM --discard`")
        for reply in failed:
            out(
                f"  {reply.item}  {fit(reply.account, 16)} {one_line(reply.text, 40)}  {one_line(reply.error, 120)}"
            )
        out()
    if not overview.unanswered:
        never = [a.account.id for a in overview.accounts if a.health.state == "never"]
        if never:
            out(f"No unanswered items yet: {', '.join(never)} never synced (run `socialtui sync --once`).")
        else:
            out("No unanswered items.")
        return 0
    out(f"UNANSWERED, oldest first ({overview.unanswered}, {overview.late} late)")
    shown = overview.queue if ctx.args.all else overview.queue[:STATUS_ROWS]
    for entry in shown:
        post = entry.item.post
        claimed = f"  claimed by {entry.claim.operator}" if entry.claim else ""
        out(
            f"  {entry.item.id}  {format_duration(entry.waited_s):>6} {entry.state:<4}  {fit(entry.item.account, 16)} "
            f"{fit(one_line(post.author.label), 24)} {one_line(post.text, 60)}{claimed}"
        )
    if len(shown) < overview.unanswered:
        out(f"  … and {overview.unanswered - len(shown)} more (--all lists every item, --json too)")
    return 0


def forecast_lines(overview: Overview, zone: str, tz: tzinfo, now: datetime) -> list[str]:
    """`status`'s forecast: when each account's quiet gap would breach, counting its scheduled posts,
    in the team's time (the zone named once in the heading, its abbreviation on every time)."""
    rows = [(a.account.id, a.forecast) for a in overview.accounts if a.forecast is not None]
    if not rows:
        return []
    lines = [f"FORECAST (quiet gaps counting scheduled posts; team time, {zone})"]
    for account, forecast in rows:
        lines.append(f"  {fit(account, 18)} {forecast.summary(tz, now)}")
    return [*lines, ""]


def cmd_check(ctx: Context) -> int:
    from socialtui.overview import build_overview, build_status_overview

    try:
        if ctx.config.team.negative_first:
            overview = build_overview(ctx.config, ctx.store, ctx.now(), tones=False)
        else:
            overview = build_status_overview(ctx.config, ctx.store, ctx.now())
    except StoreError as exc:  # may quote a database server's message: one clean line
        print(f"UNKNOWN: {one_line(str(exc), 280)}")
        return 3
    from socialtui.cli_posts import unpolled_probe

    code, line = overview.check(unpolled=unpolled_probe(ctx))
    print(one_line(line))  # it may name what a server said
    return code


# --- operator actions ----------------------------------------------------------------------------


def cmd_done(ctx: Context) -> int:
    store, actor, now = ctx.store, ctx.actor, ctx.now()
    item = store.find_item(ctx.args.item)
    reason = ctx.args.reason.strip() or "no reply needed"
    claim = store.claims(now).get(item.id)
    if claim and claim.operator != actor.operator and not ctx.args.force:
        raise CommandError(
            f"{item.id} is claimed by {claim.operator} since {local_time(claim.at, ctx.config.team.tz, '%H:%M')} "
            "(--force to mark it done anyway)"
        )
    store.mark_done(item, reason, actor, now)
    out(f"{item.id} done ({reason}): {one_line(item.post.author.label)} on {item.account}")
    return 0


def cmd_reopen(ctx: Context) -> int:
    store, actor, now = ctx.store, ctx.actor, ctx.now()
    item = store.find_item(ctx.args.item)
    state = store.states().get(item.id)
    if state is None or not state.done:
        raise CommandError(f"{item.id} is not marked done (nothing to reopen)")
    store.reopen(item, actor, now)
    out(f"{item.id} reopened (was done by {state.operator}: {one_line(state.reason, 40)}): back in the queue")
    return 0


def cmd_note(ctx: Context) -> int:
    store, actor, now = ctx.store, ctx.actor, ctx.now()
    tz = ctx.config.team.tz
    text = " ".join(ctx.args.text).strip()
    writes = bool(text or ctx.args.tag or ctx.args.untag)
    # Writing about someone the store has never seen is most often a typo: refuse it unless --new.
    key, network, handle, display = store.resolve_contact(
        ctx.args.contact, known_only=writes and not ctx.args.new
    )
    if ctx.args.tag or ctx.args.untag:
        current = store.contact(key)
        tags = set(current.tags if current else ()) | set(ctx.args.tag)
        tags -= {t.strip().lower() for t in ctx.args.untag}
        tagged = store.set_tags(ctx.args.contact, tags, actor, now)
        out(f"Tags of {tagged.key}: {', '.join(tagged.tags) or 'none'}")
    if text:
        noted = store.add_note(ctx.args.contact, text, actor, now)
        out(f"Noted for {noted.key} ({len(noted.notes)} notes).")
    if text or ctx.args.tag or ctx.args.untag:
        return 0
    dossier = store.dossier(key)
    contact = dossier.contact
    title = f"{clean(display or (contact.display_name if contact else ''))} ".lstrip()
    out(f"{title}{key}")
    if contact and contact.tags:
        out(f"tags: {', '.join(contact.tags)}")
    if contact is None or not contact.notes:
        out("No notes yet. Add one: socialtui note CONTACT TEXT")
    else:
        for note in contact.notes:
            out(f"- {local_time(note.at, tz)} {note.operator}: {clean(note.text)}")
    if dossier.items:
        replies = {(p.account, p.reply_to): p for p in dossier.replies}
        out(f"history with our accounts ({len(dossier.items)} items):")
        for item in dossier.items[-10:]:
            answered = "answered" if (item.account, item.post.remote_id) in replies else "no reply"
            out(
                f"  {local_time(item.post.created_at, tz)} {item.account} {item.kind} ({answered}): {one_line(item.post.text, 50)}"
            )
    return 0


def cmd_contacts(ctx: Context) -> int:
    found = ctx.store.search_contacts(" ".join(ctx.args.query), ctx.args.tag or "")
    if not found:
        out(
            "No contacts match."
            if ctx.args.query or ctx.args.tag
            else "No contacts yet: `socialtui note CONTACT TEXT` makes one."
        )
        return 0
    for contact in found:
        tags = f" [{', '.join(contact.tags)}]" if contact.tags else ""
        last = f" — {one_line(contact.notes[-1].text, 50)}" if contact.notes else ""
        out(f"{contact.key}  {one_line(contact.display_name, 30)}{tags} {len(contact.notes)} notes{last}")
    return 0


def _print_handoff(note: HandoffNote, tz: tzinfo) -> None:
    from socialtui.handoff import item_line

    out(f"── {note.id}  by {note.operator} ({note.login}) at {local_time(note.at, tz)}")
    for line in clean(note.text).splitlines() or [""]:
        out(f"   {line}")
    if note.pinned_items or note.pinned_accounts:
        out(f"   pinned: {', '.join(note.pinned_items + note.pinned_accounts)}")
    if note.has_work:
        if note.open_items:
            out(
                f"   open when written ({len(note.open_items)} unanswered, oldest first; waited: wall-clock):"
            )
        else:
            out("   open when written: nothing unanswered")
        for item in note.open_items:
            out(f"   - {item_line(item)}")
        if note.claims:
            took = (
                f"; taken over by {note.taken_over_by}"
                if note.taken_over_by
                else "; the first to acknowledge takes them"
            )
            out(f"   claims released with the shift: {', '.join(note.claims)}{took}")
        if note.drafts:
            out(f"   drafts left: {', '.join(d.item for d in note.drafts)}")
        failing = note.failing
        if failing:
            out(
                f"   failing accounts: {', '.join(f'{a.account} ({one_line(a.health_detail, 60)})' for a in failing)}"
            )
    acks = ", ".join(f"{a.operator} {local_time(a.at, tz, '%H:%M')}" for a in note.acks) or "nobody yet"
    out(f"   acknowledged by: {acks}")


def cmd_handoff(ctx: Context) -> int:
    from socialtui.handoff import draft_handoff, note_text, open_work
    from socialtui.overview import build_overview

    action = ctx.args.action
    store, actor, now = ctx.store, ctx.actor, ctx.now()
    tz = ctx.config.team.tz
    if action == "write":
        text = " ".join(ctx.args.text).strip()
        overview = build_overview(ctx.config, store, now)
        work = open_work(overview, actor, tz)
        if not text:
            text = _edit_handoff(ctx, draft_handoff(ctx.config, store, actor, now, overview))
            if not text:
                out("Handoff not written: the note was empty.")
                return 1
        elif not ctx.args.text_only:
            text = f"{note_text(draft_handoff(ctx.config, store, actor, now, overview))}\n\n{text}"
        note = store.write_handoff(text, actor, now, work=work)
        out(
            f"Handoff {note.id} written with the open work ({len(note.open_items)} unanswered); "
            "your shift has ended. The next operators will see it until they acknowledge it."
        )
        if note.claims:
            out(
                f"Your claims were released: {', '.join(note.claims)} (whoever acknowledges first takes them)."
            )
        return 0
    notes = store.handoffs()
    if action == "show":
        shown = (
            notes
            if ctx.args.all
            else care.handoffs_waiting(notes, store.shifts(actor.operator), actor.operator, now)
        )
        if ctx.args.json:
            from socialtui.model import to_record

            print(json.dumps([to_record(n) for n in shown], ensure_ascii=False, indent=2))
            return 0
        if not shown:
            out("No handoff notes." if ctx.args.all or not notes else "No handoff notes waiting for you.")
            return 0
        for note in shown:
            _print_handoff(note, tz)
        return 0
    # ack: the acknowledger takes over the writer's released claims
    acked = store.ack_handoffs(actor, now, ctx.args.id, take_over=ctx.config.team.claim_ttl)
    if not acked:
        out("Nothing to acknowledge.")
    for note in acked:
        out(f"Acknowledged {note.id} by {note.operator}.")
        if note.claims and note.taken_over_by == actor.operator:
            out(f"You took over {note.operator}'s claims: {', '.join(note.claims)}.")
    return 0


def cmd_shift(ctx: Context) -> int:
    store, actor, now = ctx.store, ctx.actor, ctx.now()
    tz = ctx.config.team.tz
    if ctx.args.action == "start":
        shift = store.start_shift(actor, now)
        out(f"{actor.operator} on shift since {local_time(shift.started_at, tz)}.")
        waiting = care.handoffs_waiting(store.handoffs(), store.shifts(actor.operator), actor.operator, now)
        if waiting:
            out(f"{len(waiting)} handoff note(s) to read first:")
            for note in waiting:
                _print_handoff(note, tz)
            out("Acknowledge with: socialtui handoff ack")
        return 0
    if ctx.args.action == "end":
        released = store.end_shift(actor, now)
        out(f"Shift ended for {actor.operator}, without a handoff note.")
        if released:
            out(f"Your claims were released: {', '.join(released)}.")
        out("Open work not named in an acknowledged note counts as dropped: socialtui handoff write TEXT")
        return 0
    if ctx.args.all:
        on = store.on_shift(now)
        if not on:
            out("Nobody is on shift.")
        for shift in on:
            me = "  (you)" if shift.operator == actor.operator else ""
            out(
                f"{fit(one_line(shift.operator), 20)} on shift since {local_time(shift.started_at, tz)} "
                f"({format_duration((now - shift.started_at).total_seconds())}){me}"
            )
        return 0
    current = [s for s in store.shifts(actor.operator) if s.ended_at is None]
    out(
        f"{actor.operator} on shift since {local_time(current[-1].started_at, tz)}."
        if current
        else f"{actor.operator} is not on shift."
    )
    return 0


def _edit_handoff(ctx: Context, draft: str) -> str:
    """Open $EDITOR on the auto-drafted note; returns the text without comment lines."""
    from socialtui.handoff import note_text

    if not sys.stdin.isatty():
        raise CommandError("handoff write needs TEXT (or a terminal for $EDITOR)")
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    import shlex
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".txt", prefix="handoff-", delete=False) as fh:
        fh.write(draft)
        path = fh.name
    try:
        subprocess.run([*shlex.split(editor), path], check=False)
        text = Path(path).read_text(encoding="utf-8")
    finally:
        os.unlink(path)
    return note_text(text)


# --- report --------------------------------------------------------------------------------------


def cmd_report(ctx: Context) -> int:
    from socialtui.report import build_report, render_report, report_json

    now = ctx.now()
    try:
        since = parse_since(ctx.args.since, now, ctx.config.team.tz)
    except ValueError as exc:
        raise ArgumentError(f"--since {ctx.args.since!r}: {exc}") from None
    if ctx.args.audit:
        events = ctx.store.audit_events(since)
        if ctx.args.json:
            from socialtui.model import to_record

            print(json.dumps([to_record(e) for e in events], ensure_ascii=False, indent=2))
            return 0
        if not events:
            out(f"No operator actions since {local_time(since, ctx.config.team.tz)}.")
        for e in events:
            where = " ".join(x for x in (e.account, e.item) if x)
            out(
                f"{local_time(e.at, ctx.config.team.tz, '%Y-%m-%d %H:%M:%S')} {e.operator} ({e.login}) {e.action} {where} {one_line(local_times_in(e.detail, ctx.config.team.tz), 80)}".rstrip()
            )
        return 0
    report = build_report(ctx.config, ctx.store, since, now)
    if ctx.args.json:
        print(json.dumps(report_json(report, since, now), ensure_ascii=False, indent=2))
    else:
        for line in render_report(report, ctx.config, since, now):
            out(line)
    return 0


# --- the store: check and migrate ----------------------------------------------------------------


def cmd_store(ctx: Context) -> int:
    return cmd_store_check(ctx) if ctx.args.action == "check" else cmd_store_migrate(ctx)


def cmd_store_check(ctx: Context) -> int:
    from socialtui.store.migrate import check_store

    report = check_store(ctx.store.engine)
    for line in report.lines():
        out(clean(line))  # a broken document's key may be a stranger's handle
    return 0 if report.ok else 1


def cmd_store_migrate(ctx: Context) -> int:
    from socialtui.store.migrate import copy_store
    from socialtui.store.postgres import PgEngine

    password = None
    if ctx.args.password_env:
        password = os.environ.get(ctx.args.password_env)
        if password is None:
            raise CommandError(f"store migrate: the environment variable {ctx.args.password_env} is not set")
    source = ctx.store.engine
    try:
        target = PgEngine(ctx.args.to, password=password)
    except StoreError as exc:
        raise CommandError(f"not migrated: {exc}") from None
    try:
        location = target.info().location
        rows = copy_store(source, target)
    except StoreError as exc:
        raise CommandError(f"not migrated, the target is unchanged: {exc}") from None
    finally:
        target.close()
    out(f"{'TABLE':<16} {'SOURCE':>8} {'TARGET':>8}")
    for table, copied, held in rows:
        out(f"{table:<16} {copied:>8} {held:>8}")
    total = sum(held for _, _, held in rows)
    out()
    out(f'migrated: {total} documents; set [team] store = "{location}" in the config to use it')
    return 0


# --- the network: sync, reply, login, sandbox, demo ------------------------------------------------


def _stamp(ctx: Context) -> str:
    """The time at the head of a `sync` log line: the team's zone, labelled, like every time a person reads."""
    return local_time(ctx.clock.now(), ctx.config.team.tz, "%H:%M:%S")


def cmd_sync(ctx: Context) -> int:
    import asyncio
    import signal

    from socialtui.sync import Syncer

    def log(line: str) -> None:
        print(f"{_stamp(ctx)} {one_line(line)}", flush=True)

    syncer = Syncer(ctx.config, ctx.store, ctx.clock, log=log)
    if not ctx.config.accounts:
        out(f"No accounts are configured in {ctx.config.path}; nothing to sync.")
        return 0
    if ctx.args.once:
        results = asyncio.run(syncer.run_once())
        for r in results:
            if r.ok:
                log(
                    f"{r.account}: ok, {r.new_items} new items, {r.new_own_posts} new own posts ({r.requests} requests)"
                )
            else:
                log(f"{r.account}: failed: {r.error}")
        return 0 if all(r.ok for r in results) else 1

    async def service() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log(
            f"socialtui sync: {len(ctx.config.accounts)} accounts, every {format_duration(ctx.config.team.poll_interval.total_seconds())}"
        )
        await syncer.run(stop)
        log("socialtui sync: stopped")

    asyncio.run(service())
    return 0


def cmd_reply(ctx: Context) -> int:
    import asyncio

    from socialtui.outbox import ReplyRefused, answered_on_server, deliver, queue_reply, settled
    from socialtui.sync import default_adapter_factory

    if ctx.args.discard:
        return _discard_failed(ctx)
    text = " ".join(ctx.args.text)
    if text == "-":
        text = sys.stdin.read()
    text = text.strip()
    if not text:
        raise ArgumentError("reply: TEXT is empty")
    store, config, now, actor = ctx.store, ctx.config, ctx.now(), ctx.actor
    item = store.find_item(ctx.args.item)
    try:
        account = config.account(item.account)
    except KeyError:
        raise CommandError(
            f"{item.id} belongs to {item.account}, which is no longer in {config.path}"
        ) from None
    claim = store.claims(now).get(item.id)
    if claim and claim.operator != actor.operator and not ctx.args.force:
        raise CommandError(
            f"{item.id} is claimed by {claim.operator} since {local_time(claim.at, ctx.config.team.tz, '%H:%M')} (--force to reply anyway)"
        )
    adapter = default_adapter_factory(config, store, ctx.clock)(account)

    async def send() -> int:
        try:
            if not ctx.args.force:
                # The store knows what a sync has seen; a reply from another app may be newer.
                found = await answered_on_server(store, adapter, item)
                if found is not None:
                    raise CommandError(
                        f"not sent: {item.id} has been answered meanwhile on the server "
                        f"({one_line(found.url or found.remote_id)}; use --force to reply again)"
                    )
            try:
                entry = queue_reply(store, config, adapter, item, text, actor, now, force=ctx.args.force)
            except ReplyRefused as exc:
                raise CommandError(f"not sent: {exc}") from None
            out(f"Replying from {account.id} ({account.handle}) to {one_line(item.post.author.label)}…")
            delivery = await deliver(store, adapter, item, entry.id, ctx.clock)
            entry = (await settled(store, delivery)).entry  # another process may be sending it
            if entry.state == "sent":
                out(f"Sent: {entry.url or entry.remote_id}")
                return 0
            if entry.state == "failed":
                print(
                    f"socialtui: reply failed: {one_line(entry.error)} (the text is kept in the outbox; "
                    f"reply again, or `socialtui reply {item.id} --discard`)",
                    file=sys.stderr,
                )
                return 1
            print(
                f"socialtui: {one_line(delivery.message)}; the reply waits in the outbox and the poller will send it",
                file=sys.stderr,
            )
            return 1
        finally:
            await adapter.aclose()

    return asyncio.run(send())


def _discard_failed(ctx: Context) -> int:
    from socialtui.outbox import discard_failed

    if ctx.args.text:
        raise ArgumentError("reply --discard takes no TEXT")
    item = ctx.store.find_item(ctx.args.item)
    discarded = discard_failed(ctx.store, item.id, ctx.actor, ctx.now())
    if not discarded:
        raise CommandError(f"{item.id} has no failed reply to discard")
    for entry in discarded:
        out(
            f"Discarded the failed reply {entry.id} to {item.id} on {entry.account}: {one_line(entry.text, 60)}"
        )
    return 0


def cmd_login(ctx: Context) -> int:
    import asyncio

    from socialtui.networks.mastodon import authorize_url, exchange_code, register_app

    config = ctx.config
    try:
        account = config.account(ctx.args.account)
    except KeyError:
        raise CommandError(f"no account {ctx.args.account!r} in {config.path}") from None
    if account.network != "mastodon":
        raise CommandError(
            f"{account.id} is on {account.network}: create an app password in the network's settings and "
            f"put it in the file named by app_password_file (mode 640)"
        )
    if not account.token_file:
        raise CommandError(f"{account.id} has no token_file in {config.path}: login writes the token there")

    async def flow() -> str:
        app = await register_app(account.server)
        out("Open this address in a browser, log in as the brand account and authorize socialtui:")
        out()
        out(f"  {authorize_url(account.server, app.client_id)}")
        out()
        code = input("Then paste the authorization code here: ").strip()
        if not code:
            raise CommandError("no code given; nothing was written")
        return await exchange_code(account.server, app.client_id, app.client_secret, code)

    token = asyncio.run(flow())
    _write_secret_file(Path(account.token_file), token)
    out(f"Token written to {account.token_file} (readable by its owner and group only).")
    return 0


def _write_secret_file(path: Path, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, (secret + "\n").encode(), 0o640)


def cmd_sandbox(ctx: Context) -> int:
    from socialtui.sandbox.server import serve

    write = Path(ctx.args.write_config).absolute() if ctx.args.write_config else None
    try:
        serve(port=ctx.args.port, write_config=write, traffic=not ctx.args.quiet)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise CommandError(f"cannot serve on 127.0.0.1:{ctx.args.port}: {exc.strerror}") from None
    return 0


def cmd_demo(ctx: Context) -> int:
    import shutil
    import signal

    from socialtui.sandbox.server import demo_world, start

    def hangup(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)  # through the `finally` below: the throw-away dir goes

    signal.signal(signal.SIGHUP, hangup)
    signal.signal(signal.SIGTERM, hangup)
    # A hang-up between making the dir and the `try` that removes it would leave it behind: the
    # signals wait until the `try` is entered.
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP, signal.SIGTERM})
    import shlex
    import tempfile

    directory = Path(tempfile.mkdtemp(prefix="socialtui-demo-"))
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        world = demo_world(ctx.clock.now)
        # One question on the always-on account, about to pass its 30-minute reply target: the
        # newcomer sees an item turn late within the first minute.
        world.post_as(
            "mastodon",
            "sam@example.org",
            "@nightowl@sandbox.social is the late show tonight sold out? I can't find tickets",
            at=ctx.clock.now() - timedelta(minutes=29, seconds=20),
        )
        with start(world, write_config=directory / "config.toml", traffic=True) as sandbox:
            ctx.args.config = str(sandbox.config_path)
            ctx.demo = True
            # A hang-up while the store is being seeded waits until the seeding is over: the poller's
            # threads must not write into the throw-away dir while the `finally` removes it.
            held = {signal.SIGHUP, signal.SIGTERM}
            signal.pthread_sigmask(signal.SIG_BLOCK, held)
            try:
                _demo_handoff(ctx)
                from socialtui.cli_posts import schedule_demo_posts

                schedule_demo_posts(ctx)
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, held)
            # Printed before the dashboard takes the screen, so it is there again after it exits.
            out(f"socialtui demo: data in {directory} (removed when this dashboard exits).")
            out("A second dashboard on the same data, as another operator, from another terminal:")
            out(f"  socialtui --config {shlex.quote(str(sandbox.config_path))} --operator Robin")
            return _dashboard(ctx)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _demo_handoff(ctx: Context) -> None:
    """The demo starts the way a shift does: a note from the night lead waits, with the open work
    (one pass of the poller first, so there is work to hand over) and two claims to take over."""
    import asyncio

    from socialtui.handoff import draft_handoff, note_text, open_work
    from socialtui.model import Actor
    from socialtui.overview import build_overview
    from socialtui.sync import Syncer

    config, store, now = ctx.config, ctx.store, ctx.now()
    asyncio.run(Syncer(config, store, ctx.clock).run_once())
    lead = Actor(unix_login(), "Jo (night lead)")
    store.start_shift(lead, now - timedelta(hours=8))
    at = now - timedelta(minutes=6)
    overview = build_overview(config, store, at)
    for entry in overview.queue[:2]:
        store.claim(entry.item, lead, at - timedelta(minutes=1), config.team.claim_ttl)
    overview = build_overview(config, store, at)
    text = (
        f"{note_text(draft_handoff(config, store, lead, at, overview))}\n\n"
        "Quiet night. The two oldest are mine and half-answered: take them over when you acknowledge. "
        "The late-show tickets question on nightowl needs an answer before it turns late."
    )
    store.write_handoff(text, lead, at, work=open_work(overview, lead, config.team.tz))


# --- parser --------------------------------------------------------------------------------------


class ArgumentError(Exception):
    """Bad arguments: exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ArgumentError(f"{self.prog}: {message}")


class _Skipped:
    """A command's parser not built (`build_parser(only=...)`): whatever is added to it is dropped."""

    def __getattr__(self, name: str) -> Callable[..., _Skipped]:
        return lambda *args, **kwargs: self


class _Commands(argparse._SubParsersAction):
    """The commands; with `only`, the parser of that one command alone is built: each parser costs
    a look for translations (gettext) and at the terminal, and a one-shot command such as `status`
    paid for all 75."""

    only: str | None = None

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        if self.only is not None and name != self.only:
            return _Skipped()
        return super().add_parser(name, **kwargs)


Command = Callable[[Context], int]


def _command_in(argv: Sequence[str]) -> str | None:
    """The first word of `argv` that is not an option or an option's value: the command, if any."""
    value_of = False
    for token in argv:
        if value_of:
            value_of = False
        elif token in ("--config", "--operator"):
            value_of = True
        elif token == "--":
            return None
        elif not token.startswith("-"):
            return token
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with `only` (a command's name), that command's alone (see
    `_Commands`)."""

    def shared_options(default: Any) -> _Parser:
        options = _Parser(add_help=False)
        options.add_argument(
            "--config",
            metavar="PATH",
            default=default,
            help="config file (default $SOCIALTUI_CONFIG, then the XDG config dir)",
        )
        options.add_argument(
            "--operator",
            metavar="NAME",
            default=default,
            help="the name shown to the team (the audit keeps your Unix login)",
        )
        return options

    # Before and after the command name alike; a command's copy must not reset what came before it.
    common = shared_options(argparse.SUPPRESS)
    parser = _Parser(
        prog="socialtui",
        description="Round-the-clock care of brand accounts, from a terminal.",
        parents=[shared_options(None)],
    )
    parser.add_argument("--version", action="version", version=f"socialtui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser, action=_Commands)
    assert isinstance(sub, _Commands)
    sub.only = only

    p = sub.add_parser("status", parents=[common], help="accounts, gaps and the unanswered queue")
    p.add_argument("--json", action="store_true", help="machine-readable output (every item)")
    p.add_argument(
        "--all", action="store_true", help=f"list every unanswered item (default: the oldest {STATUS_ROWS})"
    )
    p.set_defaults(func=cmd_status)

    p = sub.add_parser(
        "check", parents=[common], help="for monitoring: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN"
    )
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("done", parents=[common], help="mark an item answered without a reply")
    p.add_argument("item", metavar="ITEM", help="item id (or an unambiguous prefix of at least 4 characters)")
    p.add_argument(
        "--reason",
        default="no reply needed",
        help="why no reply is needed: spam, thanked, handled elsewhere...",
    )
    p.add_argument("--force", action="store_true", help="even if another operator has claimed it")
    p.set_defaults(func=cmd_done)

    p = sub.add_parser("reopen", parents=[common], help="undo a done: the item is back in the queue")
    p.add_argument("item", metavar="ITEM", help="item id (or an unambiguous prefix of at least 4 characters)")
    p.set_defaults(func=cmd_reopen)

    p = sub.add_parser("note", parents=[common], help="add a note about a contact, or list their notes")
    p.add_argument("contact", metavar="CONTACT", help="@user@domain, handle.bsky.social or a DID")
    p.add_argument("text", metavar="TEXT", nargs="*", help="the note (none: show the contact's dossier)")
    p.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="TAG",
        help="add a tag (vip, press, repeat-complaint...)",
    )
    p.add_argument("--untag", action="append", default=[], metavar="TAG", help="remove a tag")
    p.add_argument("--new", action="store_true", help="a contact who has not talked to our accounts yet")
    p.set_defaults(func=cmd_note)

    p = sub.add_parser("contacts", parents=[common], help="search contacts by handle, name, tag or note")
    p.add_argument("query", metavar="QUERY", nargs="*")
    p.add_argument("--tag", metavar="TAG", help="only contacts with this tag")
    p.set_defaults(func=cmd_contacts)

    p = sub.add_parser("handoff", parents=[common], help="write, show or acknowledge handoff notes")
    hsub = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    w = hsub.add_parser(
        "write", parents=[common], help="write a handoff note (no TEXT: edit an auto-draft in $EDITOR)"
    )
    w.add_argument("text", metavar="TEXT", nargs="*")
    w.add_argument(
        "--text-only",
        action="store_true",
        help="only TEXT, without the drafted summary (the open work is kept as data anyway)",
    )
    s = hsub.add_parser("show", parents=[common], help="the notes waiting for your acknowledgement")
    s.add_argument("--all", action="store_true", help="every note, acknowledged or not")
    s.add_argument("--json", action="store_true")
    a = hsub.add_parser("ack", parents=[common], help="acknowledge the notes waiting for you")
    a.add_argument("id", metavar="ID", nargs="?", help="one note (default: all waiting for you)")
    p.set_defaults(func=cmd_handoff)

    p = sub.add_parser(
        "report", parents=[common], help="response times, answered share, gaps: per account and operator"
    )
    p.add_argument(
        "--since",
        default="24h",
        help="the window: 24h, 7d, or a start such as 2026-11-18T08:00 (default 24h)",
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--audit", action="store_true", help="the audit trail of operator actions instead")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "shift", parents=[common], help="start or end your shift (the dashboard starts it for you)"
    )
    p.add_argument("action", nargs="?", choices=("start", "end", "show"), default="show")
    p.add_argument("--all", action="store_true", help="show: every operator on shift now")
    p.set_defaults(func=cmd_shift)

    p = sub.add_parser("sync", parents=[common], help="the headless poller (a service), or one pass")
    p.add_argument("--once", action="store_true", help="one pass over the accounts no other process polls")
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser("reply", parents=[common], help="reply to an item from the shell, through the outbox")
    p.add_argument("item", metavar="ITEM")
    p.add_argument("text", metavar="TEXT", nargs="*", help="the reply (- reads it from standard input)")
    p.add_argument(
        "--force", action="store_true", help="reply even if answered meanwhile or claimed by someone else"
    )
    p.add_argument(
        "--discard", action="store_true", help="give up on the item's failed reply (check stops reporting it)"
    )
    p.set_defaults(func=cmd_reply)

    from socialtui.cli_posts import add_parsers as add_post_parsers

    add_post_parsers(sub, common)

    p = sub.add_parser(
        "login", parents=[common], help="Mastodon: authorize socialtui and write the account's token_file"
    )
    p.add_argument("account", metavar="ACCOUNT", help="the account id in the config")
    p.set_defaults(func=cmd_login)

    p = sub.add_parser(
        "sandbox", parents=[common], help="the sandbox network (Mastodon + Bluesky) on 127.0.0.1"
    )
    p.add_argument(
        "--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765; 0 picks a free one)"
    )
    p.add_argument(
        "--write-config",
        metavar="PATH",
        help="write a ready config (and secret files) for its brand accounts",
    )
    p.add_argument("--quiet", action="store_true", help="no live traffic, only the week of history")
    p.set_defaults(func=cmd_sandbox)

    p = sub.add_parser(
        "demo", parents=[common], help="the dashboard on the sandbox network, in a throw-away data dir"
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("store", parents=[common], help="check the store, or copy it into PostgreSQL")
    ssub = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    ssub.add_parser(
        "check", parents=[common], help="engine, location, counts and integrity problems (exit 1 if any)"
    )
    m = ssub.add_parser("migrate", parents=[common], help="copy this store into an empty PostgreSQL database")
    m.add_argument(
        "--to", required=True, metavar="URL", help="the target database, e.g. postgresql://host/socialtui"
    )
    m.add_argument(
        "--password-env", metavar="VAR", help="read the database password from this environment variable"
    )
    p.set_defaults(func=cmd_store)
    return parser


def main(argv: Sequence[str] | None = None, clock: Clock | None = None) -> int:
    command = _command_in(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=command)
    built = [a._name_parser_map for a in parser._actions if isinstance(a, _Commands)]
    if command is not None and not any(command in names for names in built):
        parser = build_parser()  # not a command: the full parser says so, listing them
    try:
        args = parser.parse_args(argv)
    except ArgumentError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    func = getattr(args, "func", None)
    if func is None:
        func = _dashboard
    if not hasattr(args, "config"):
        args.config = None
    if not hasattr(args, "operator"):
        args.operator = None
    ctx = Context(args, clock)
    try:
        return func(ctx)
    except ConfigError as exc:
        if args.command == "check":  # monitoring reads one line on stdout, and 3 is UNKNOWN
            print(f"UNKNOWN: bad config: {one_line(str(exc), 280)}")
            return 3
        print(f"socialtui: bad config: {exc}", file=sys.stderr)
        return 2
    except ArgumentError as exc:
        print(f"socialtui: {exc}", file=sys.stderr)
        return 2
    except (StoreError, CommandError) as exc:  # may quote a database server's message
        if args.command == "check":
            print(f"UNKNOWN: {one_line(str(exc), 280)}")
            return 3
        print(f"socialtui: {one_line(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    finally:
        try:
            ctx.close()
        except StoreError:
            pass  # closing is best effort; the answer above stands


def _dashboard(ctx: Context) -> int:
    from socialtui.tui.app import run_dashboard  # Textual is imported only for the dashboard

    return run_dashboard(ctx)


__all__ = ["main", "build_parser", "Context", "unix_login"]
