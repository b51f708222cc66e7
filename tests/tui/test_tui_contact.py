"""The contact section of the detail pane names the person as operators read people, never by a raw
dossier key (a Bluesky DID means nothing to a person on a night shift)."""

from __future__ import annotations

from datetime import UTC, datetime

from socialtui.model import Author, Contact, Item, Post
from socialtui.tui.data import ContactView, Conversation
from socialtui.tui.widgets.detail import contact_name

AT = datetime(2026, 12, 1, 12, tzinfo=UTC)
DID = "did:plc:fyrkhavnf4dhgzj5lywu2lka"
RILEY = Author("bluesky", "riley.bsky.social", DID, "Riley")


def conversation(author: Author, n: int) -> Conversation:
    post = Post("acme-bluesky", f"at://{author.id}/app.bsky.feed.post/{n}", author, "hello", AT)
    return Conversation(Item(f"item{n}", "acme-bluesky", "mention", post), ())


def test_a_bluesky_dossier_is_named_by_the_person_not_the_did() -> None:
    view = ContactView(RILEY.contact_key, None, (conversation(RILEY, 1),), 1)
    shown = contact_name(view).plain
    assert shown == "Riley (riley.bsky.social)  on bluesky"
    assert DID not in shown


def test_the_dossier_record_names_the_person_when_there_is_no_conversation() -> None:
    contact = Contact("mastodon:sam@example.org", "mastodon", "sam@example.org", "Sam [b]bold[/b]")
    shown = contact_name(ContactView(contact.key, contact)).plain
    assert shown == "Sam [b]bold[/b] (@sam@example.org)  on mastodon", "a stranger's name is never markup"


def test_a_person_never_seen_by_name_shows_the_key() -> None:
    other = Author("bluesky", "kim.example.com", "did:plc:kim", "Kim")
    view = ContactView(
        RILEY.contact_key, Contact(RILEY.contact_key, "bluesky", DID), (conversation(other, 2),)
    )
    assert contact_name(view).plain == RILEY.contact_key, "neither the record nor a conversation names them"
