"""Favourite and boost, and taking them back, through the real adapters against the sandbox network
over HTTP (ASGI): Mastodon's unfavourite / unreblog, Bluesky's deleteRecord of the like / repost."""

from __future__ import annotations

from pathlib import Path

from sandbox_env import NOW, make_team

from socialtui.model import Author, Post


async def test_mastodon_unfavourite_and_unreblog_undo_them_on_the_server(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    world = team.world
    zoe = world.mastodon_account("zoe-reactions")
    status, _ = world.mastodon_post(zoe, "a sunny ride")
    acme = world.mastodon_lookup("acme")
    assert acme is not None
    post = Post("acme-mastodon", status.id, Author("mastodon", zoe.acct, zoe.id), "a sunny ride", NOW)
    adapter = team.factory()(team.config.account("acme-mastodon"))
    try:
        await adapter.favourite(post)
        await adapter.boost(post)
        assert acme.id in status.favourited_by
        assert [world.statuses[r].account_id for r in world.reblogs[status.id]] == [acme.id]
        await adapter.unfavourite(post)
        await adapter.unboost(post)
        assert acme.id not in status.favourited_by
        assert world.reblogs[status.id] == []
        kinds = [n.type for n in world.m_notifications[zoe.id] if n.status_id == status.id]
        assert kinds == [], "the author's favourite and reblog notifications went with them"
        await adapter.unfavourite(post)  # nothing left to undo: no error, as on Mastodon
        await adapter.unboost(post)
    finally:
        await adapter.aclose()


async def test_bluesky_unlike_and_unrepost_delete_our_records(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    world = team.world
    ina = world.bluesky_actor("ina-reactions.sandbox.bsky")
    record = world.bluesky_post(ina, "bike club rides Sunday")
    post = Post(
        "acme-bluesky",
        record.uri,
        Author("bluesky", ina.handle, ina.did),
        record.value["text"],
        NOW,
        cid=record.cid,
    )
    adapter = team.factory()(team.config.account("acme-bluesky"))
    acme_did = world.did_by_handle[team.config.account("acme-bluesky").handle]
    try:
        await adapter.favourite(post)
        await adapter.boost(post)
        likes, reposts = world.b_likes[record.uri], world.b_reposts[record.uri]
        assert [uri.split("/")[2] for uri in likes] == [acme_did]
        assert [uri.split("/")[2] for uri in reposts] == [acme_did]
        await adapter.unfavourite(post)
        assert world.b_likes[record.uri] == [] and len(world.b_reposts[record.uri]) == 1
        await adapter.unboost(post)
        assert world.b_reposts[record.uri] == []
        assert not any(n.reason_subject == record.uri for n in world.b_notifications[ina.did])
        await adapter.unfavourite(post)  # nothing left to undo: no request that fails
        await adapter.unboost(post)
    finally:
        await adapter.aclose()


def test_the_store_knows_which_reactions_still_stand(tmp_path: Path) -> None:
    from datetime import timedelta

    from socialtui.model import Actor

    store = make_team(tmp_path).store
    alice, bob = Actor("alice", "Alice"), Actor("bob", "Bob")
    key = ("acme-bluesky", "at://did:plc:ina/app.bsky.feed.post/7")
    for minutes, actor, action in (
        (0, alice, "favourite"),
        (1, alice, "boost"),
        (2, bob, "unfavourite"),
    ):
        store.audit(actor, NOW + timedelta(minutes=minutes), action, key[0], "", key[1])
    assert set(store.reactions()[key]) == {"boost"}
    store.audit(bob, NOW + timedelta(minutes=3), "unboost", key[0], "", key[1])
    assert key not in store.reactions()
    store.audit(bob, NOW + timedelta(minutes=4), "favourite", key[0], "", key[1])
    assert store.reactions()[key]["favourite"].operator == "Bob"
    assert [e.action for e in store.audit_events()] == [
        "favourite",
        "boost",
        "unfavourite",
        "unboost",
        "favourite",
    ]
