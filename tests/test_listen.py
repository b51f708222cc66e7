"""Listening against the sandbox network: talk found by watch terms becomes items, never our own
posts, never a second item for a mention; its pace and idle cost; a server that searches hashtags
only says so once; over a real socket too."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sandbox_env import make_team, socket_team

from socialtui import care
from socialtui.listen import IDLE_BUDGET, listen_interval
from socialtui.model import item_id
from socialtui.networks.mastodon import HASHTAGS_ONLY


@pytest.fixture
def team(tmp_path: Path):
    return make_team(tmp_path)


async def pollers(team):
    syncer = team.syncer()
    out = {}
    for account in team.config.accounts:
        assert syncer.leases[account.id].try_acquire()
        out[account.id] = syncer._poller(account.id)
    return syncer, out


def talk_ids(team, account: str) -> set[str]:
    return {i.post.remote_id for i in team.store.items(account) if i.kind == "talk"}


async def test_first_sync_finds_the_talk_and_nothing_else(team) -> None:
    syncer, polled = await pollers(team)
    results = await asyncio.gather(*(p.cycle() for p in polled.values()))
    await syncer.close()
    assert all(r.ok for r in results), [r.error for r in results]
    for account in team.config.accounts:
        assert talk_ids(team, account.id) == set(team.summary.talk[account.id]), account.id
        for item in team.store.items(account.id):
            if item.kind == "talk":
                # Nobody asked us: talk names the brand and never mentions the account.
                user = account.handle.split("@")[1] if account.network == "mastodon" else account.handle
                assert f"@{user}" not in item.post.text
    # Talk is never late unless the account sets reply_within_talk.
    snap = team.store.snapshot(team.clock.now())
    queue = care.unanswered_queue(
        snap.items, snap.own_posts, snap.states, team.config.accounts, team.clock.now()
    )
    talk = [e for e in queue if e.item.kind == "talk"]
    assert talk and all(e.state == "ok" for e in talk)
    # Angry talk in other languages is there, for the tone to mark.
    texts = " ".join(e.item.post.text for e in talk)
    assert "kaputt" in texts or "reembolso" in texts or "avariou" in texts


async def test_a_server_that_searches_hashtags_only_says_so_once(team) -> None:
    syncer, polled = await pollers(team)
    await polled["nightowl-mastodon"].cycle()
    await polled["acme-mastodon"].cycle()  # the same server, but full-text search for acme
    health = team.store.health()["nightowl-mastodon"]
    assert health.state == "ok" and health.note == HASHTAGS_ONLY
    assert health.summary == f"ok; {HASHTAGS_ONLY}"
    assert team.store.health()["acme-mastodon"].note == ""
    # Its hashtag talk is found anyway (the words-only posts cannot be).
    assert talk_ids(team, "nightowl-mastodon") == set(team.summary.talk["nightowl-mastodon"])
    # The next listen says nothing new: the note is written once, and outlives the poller's health writes.
    team.advance(listen_interval(team.config.account("nightowl-mastodon"), team.config).total_seconds())
    assert team.store.set_health_note("nightowl-mastodon", HASHTAGS_ONLY) is False
    result = await polled["nightowl-mastodon"].cycle()
    await syncer.close()
    assert result.ok
    assert team.store.health()["nightowl-mastodon"].note == HASHTAGS_ONLY


async def test_a_mention_stays_a_mention_and_our_own_posts_are_never_items(team) -> None:
    syncer, polled = await pollers(team)
    for poller in polled.values():
        await poller.cycle()
    acme = polled["acme-mastodon"]
    # A stranger mentions us AND names the brand: one item, a mention.
    mention = team.world.post_as("mastodon", "zoe", "@acme acme bikes, is the shop open today?")["id"]
    # Our accounts talk about each other: never work.
    own = team.world.post_as("mastodon", "nightowl", "Shout-out to our friends at acme bikes #acmebikes")[
        "id"
    ]
    own_bsky = team.world.post_as("bluesky", "acme.sandbox.bsky", "acme bikes: new colours in store")["uri"]
    talk = team.world.post_as("mastodon", "kai@bikes.example", "acme bikes lost my booking again")["id"]
    team.advance(listen_interval(acme.account, team.config).total_seconds())
    for poller in polled.values():
        assert (await poller.cycle()).ok
    await syncer.close()
    by_id = {i.post.remote_id: i for i in team.store.items("acme-mastodon")}
    assert by_id[mention].kind == "mention"
    assert by_id[talk].kind == "talk"
    assert own not in by_id
    assert all(i.post.remote_id != own_bsky for i in team.store.items())


async def test_talk_found_first_becomes_a_mention_when_the_notification_comes(team) -> None:
    _, polled = await pollers(team)
    poller = polled["acme-bluesky"]
    await poller.cycle()
    uri = team.world.post_as("bluesky", "kim.sandbox.bsky", "acme bikes broke again")["uri"]
    team.advance(listen_interval(poller.account, team.config).total_seconds())
    await poller.cycle()
    key = item_id("acme-bluesky", uri)
    assert team.store.item(key).kind == "talk"
    # The same post later shows up as a mention (an edit, a late notification): the mention wins.
    from dataclasses import replace

    team.store.put_items([replace(team.store.item(key), kind="mention")])
    assert team.store.item(key).kind == "mention"
    assert team.store.put_new_items([replace(team.store.item(key), kind="talk")]) == []
    assert team.store.item(key).kind == "mention"


async def test_many_posts_between_listens_are_paged_and_none_lost(team) -> None:
    _, polled = await pollers(team)
    poller = polled["acme-bluesky"]
    await poller.cycle()
    made = set()
    for n in range(130):
        team.clock.advance(timedelta(seconds=1))
        made.add(team.world.post_as("bluesky", f"fan{n % 7}.sandbox.bsky", f"acme bikes post {n}")["uri"])
    team.advance(listen_interval(poller.account, team.config).total_seconds())
    result = await poller.cycle()
    assert result.ok
    assert made <= talk_ids(team, "acme-bluesky")
    # Items and own posts (2), "acme bikes" over two pages of 100, "#acmebikes" in one.
    assert result.requests >= 2 + 3, result


async def test_listening_keeps_the_idle_cost_within_budget(team) -> None:
    syncer, polled = await pollers(team)
    poller = polled["acme-mastodon"]
    await poller.cycle()
    interval = team.config.team.poll_interval.total_seconds()
    costs = []
    for _ in range(60):  # ten minutes of 10 s cycles: two listens, ten home timelines
        team.advance(interval)
        result = await poller.cycle()
        assert result.ok
        costs.append(result.requests)
    await syncer.close()
    listens = sum(1 for c in costs if c > 2)
    assert listens >= 2, costs
    assert sum(costs) / len(costs) <= IDLE_BUDGET, costs


async def test_a_failing_search_ends_the_listen_but_not_the_cycle(team) -> None:
    from socialtui.networks.errors import RateLimited, ServerError

    syncer, polled = await pollers(team)
    poller = polled["acme-bluesky"]
    await poller.cycle()
    calls = []

    async def failing(term, cursor, since, limit):
        calls.append(term)
        raise ServerError(503)

    poller.adapter.search_talk = failing
    team.advance(listen_interval(poller.account, team.config).total_seconds())
    result = await poller.cycle()
    assert result.ok and result.error.startswith("listening:")
    assert calls == ["acme bikes"], "the first failure ends this listen: no hammering"
    assert team.store.health()["acme-bluesky"].state == "ok"
    # Not before the next listening slot.
    team.advance(team.config.team.poll_interval.total_seconds())
    assert (await poller.cycle()).ok and calls == ["acme bikes"]

    async def limited(term, cursor, since, limit):
        raise RateLimited(message="rate limited")

    poller.adapter.search_talk = limited
    team.advance(listen_interval(poller.account, team.config).total_seconds())
    result = await poller.cycle()
    await syncer.close()
    # A rate limit concerns the whole account: the poller backs off, as for any request.
    assert not result.ok and team.store.health()["acme-bluesky"].state == "rate_limited"


def test_listen_interval_respects_the_budget(team) -> None:
    account = team.config.account("acme-mastodon")
    assert listen_interval(account, team.config) == account.listen_every
    from dataclasses import replace

    many = replace(account, listen=tuple(f"term {n}" for n in range(20)))
    # 20 terms every 10 s cycle would cost 20 requests; the floor spreads them to < 1 per cycle.
    floor = listen_interval(many, team.config).total_seconds()
    team_ = team.config.team
    home_share = 3 * (team_.poll_interval / team_.home_poll_interval)  # three pages of 40 on Mastodon
    per_cycle = 20 * team_.poll_interval.total_seconds() / floor
    assert 2 + home_share + per_cycle <= IDLE_BUDGET + 1e-9


def test_over_a_socket(tmp_path: Path) -> None:
    with socket_team(tmp_path) as team:
        results = asyncio.run(team.syncer().run_once())
        assert all(r.ok for r in results), [r.error for r in results]
        for account in team.config.accounts:
            assert talk_ids(team, account.id) == set(team.summary.talk[account.id]), account.id
        assert team.store.health()["nightowl-mastodon"].note == HASHTAGS_ONLY


async def test_status_json_items_carry_kind_and_tone(team) -> None:
    from socialtui.model import Actor
    from socialtui.overview import build_overview, overview_json

    await team.syncer().run_once()
    doc = overview_json(build_overview(team.config, team.store, team.clock.now()), Actor("ops", "ops"))
    talk = [u for u in doc["unanswered"] if u["kind"] == "talk"]
    assert talk and all(u["tone"] in ("negative", "neutral", "positive") for u in doc["unanswered"])
    angry = [u for u in talk if u["tone"] == "negative"]
    assert angry, "the sandbox's angry talk is marked"
    assert all(u["tone_reason"].startswith("negative: '") for u in angry)
