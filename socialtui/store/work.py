"""Operators' work on items and people: done and reopen, claims, contacts (notes, tags), drafts.

Every action is one transaction with its audit line; a draft saved as it is typed is not an action.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from socialtui.model import (
    Actor,
    Author,
    Claim,
    Item,
    from_record,
    to_record,
)
from socialtui.store.base import StoreBase, audit_doc, iso
from socialtui.store.engine import Query, StoreError, Writer
from socialtui.store.items import answered_doc, still_answered

if TYPE_CHECKING:
    # Imported where they are made, not here: a command that reads none of them (`status`) does not
    # build their classes (see `model_work`).
    from socialtui.model_work import Contact, Draft, ItemState


class WorkMixin(StoreBase):
    # -- reading ------------------------------------------------------------------------------------

    def states(self) -> dict[str, ItemState]:
        from socialtui.model_work import ItemState

        return self._all("states", ItemState)

    def claims(self, now: datetime) -> dict[str, Claim]:
        """Claims still in force at `now`."""
        claims = self._read(
            lambda r: [from_record(Claim, doc) for _, doc in r.scan("claims", Query(since=iso(now)))]
        )
        return {claim.item: claim for claim in claims if claim.expires_at > now}

    def contacts(self) -> dict[str, Contact]:
        from socialtui.model_work import Contact

        return self._all("contacts", Contact)

    def contact(self, key: str) -> Contact | None:
        from socialtui.model_work import Contact

        doc = self._read(lambda r: r.get("contacts", key))
        return from_record(Contact, doc) if doc else None

    def drafts(self) -> dict[str, Draft]:
        from socialtui.model_work import Draft

        return self._all("drafts", Draft)

    def draft(self, item_id: str) -> Draft | None:
        from socialtui.model_work import Draft

        doc = self._read(lambda r: r.get("drafts", item_id))
        return from_record(Draft, doc) if doc else None

    def people(self) -> dict[str, Contact]:
        """Everyone who has talked to our accounts (every item's author) and every contact with
        notes or tags, by contact key. A Bluesky contact keyed by DID is headed by its handle."""
        from socialtui.model_work import Contact

        people = dict(self.contacts())
        for _, doc in self._read(lambda r: list(r.scan("items"))):
            author = from_record(Author, doc["post"]["author"])
            key = author.contact_key
            known = people.get(key)
            if known is None:
                people[key] = Contact(key, author.network, author.handle, author.display_name)
            elif known.handle.startswith("did:") and not author.handle.startswith("did:"):
                people[key] = replace(
                    known, handle=author.handle, display_name=known.display_name or author.display_name
                )
        return people

    def search_contacts(self, query: str = "", tag: str = "") -> list[Contact]:
        """People (`people`) whose handle, name, tags or notes contain `query` (any case), with
        `tag` if given."""
        needle = query.strip().lower()
        found = []
        for contact in self.people().values():
            if tag and tag.lower() not in contact.tags:
                continue
            haystack = " ".join(
                [
                    contact.key,
                    contact.handle,
                    contact.display_name,
                    *contact.tags,
                    *(n.text for n in contact.notes),
                ]
            ).lower()
            if needle in haystack:
                found.append(contact)
        return sorted(found, key=lambda c: c.handle.lower())

    # -- items --------------------------------------------------------------------------------------

    def mark_done(self, item: Item, reason: str, actor: Actor, now: datetime) -> ItemState:
        """Mark an item answered without a reply, with the reason; releases any claim on it."""
        from socialtui.model_work import ItemState

        state = ItemState(
            item=item.id,
            account=item.account,
            done=True,
            reason=reason,
            login=actor.login,
            operator=actor.operator,
            at=now,
        )

        def body(w: Writer) -> None:
            w.put("states", item.id, to_record(state))
            w.delete("claims", [item.id])
            w.append("audit", audit_doc(actor, now, "done", item.account, item.id, reason))
            if w.get("answered", item.id) is None:
                w.put("answered", item.id, answered_doc(item.account, now, "done"))

        self._write(["states", "claims", "audit", "answered"], body)
        return state

    def reopen(self, item: Item, actor: Actor, now: datetime) -> None:
        """Undo "done": the item is back in the queue (unless the account has replied to it)."""

        def body(w: Writer) -> None:
            w.delete("states", [item.id])
            w.append("audit", audit_doc(actor, now, "reopen", item.account, item.id))
            why = still_answered(w, item.id, item.account, item.post.remote_id)
            if why:
                w.put("answered", item.id, answered_doc(item.account, now, why))
            else:
                w.delete("answered", [item.id])

        # The index goes first: a writer killed between the two leaves an item that the care rules
        # still see as done, never one hidden from the queue.
        self._write(["answered", "states", "audit"], body)

    # -- claims -------------------------------------------------------------------------------------

    def claim(self, item: Item, actor: Actor, now: datetime, ttl: timedelta) -> Claim:
        """Claim an item (or renew one's own claim). Returns the claim in force, which may be another
        operator's: the caller compares `login` to decide whether to warn."""

        def body(w: Writer) -> Claim:
            doc = w.get("claims", item.id)
            current = from_record(Claim, doc) if doc else None
            if current is not None and current.expires_at > now:
                if current.operator != actor.operator:
                    return current
                renewed = replace(current, expires_at=now + ttl)  # a renewal: not a new action
                w.put("claims", item.id, to_record(renewed))
                return renewed
            claim = Claim(
                item=item.id, login=actor.login, operator=actor.operator, at=now, expires_at=now + ttl
            )
            w.put("claims", item.id, to_record(claim))
            w.append("audit", audit_doc(actor, now, "claim", item.account, item.id))
            return claim

        return self._write(["claims", "audit"], body)

    def take_over_claim(self, item: Item, actor: Actor, now: datetime, ttl: timedelta) -> Claim:
        """Claim an item even though someone else holds it (the operator confirmed)."""
        claim = Claim(item=item.id, login=actor.login, operator=actor.operator, at=now, expires_at=now + ttl)

        def body(w: Writer) -> None:
            w.put("claims", item.id, to_record(claim))
            w.append("audit", audit_doc(actor, now, "claim", item.account, item.id, "taken over"))

        self._write(["claims", "audit"], body)
        return claim

    def release(self, item: Item, actor: Actor, now: datetime) -> bool:
        def body(w: Writer) -> bool:
            doc = w.get("claims", item.id)
            if doc is None or doc.get("operator") != actor.operator:
                return False
            w.delete("claims", [item.id])
            w.append("audit", audit_doc(actor, now, "release", item.account, item.id))
            return True

        return self._write(["claims", "audit"], body)

    # -- contacts -----------------------------------------------------------------------------------

    def _change_contact(
        self,
        ref: str,
        change: Callable[[Contact], Contact],
        action: str,
        detail: str,
        actor: Actor,
        now: datetime,
        author: Author | None = None,
    ) -> Contact:
        from socialtui.model_work import Contact

        key, network, handle, display_name = self.resolve_contact(ref, author=author)  # type: ignore[attr-defined]  # a mixin of the Store, which has it

        def body(w: Writer) -> Contact:
            doc = w.get("contacts", key)
            contact = (
                from_record(Contact, doc)
                if doc
                else Contact(key=key, network=network, handle=handle, display_name=display_name)
            )
            contact = change(contact)
            w.put("contacts", key, to_record(contact))
            w.append("audit", audit_doc(actor, now, action, "", "", f"{key}: {detail}"))
            return contact

        return self._write(["contacts", "audit"], body)

    def add_note(
        self, ref: str, text: str, actor: Actor, now: datetime, *, author: Author | None = None
    ) -> Contact:
        """Add a note to a contact's dossier (creating the dossier). `author`: the person, as the
        caller shows them (see `resolve_contact`)."""
        from socialtui.model_work import ContactNote

        text = text.strip()
        if not text:
            raise StoreError("a note needs some text")
        note = ContactNote(text=text, login=actor.login, operator=actor.operator, at=now)
        return self._change_contact(
            ref, lambda c: replace(c, notes=c.notes + (note,)), "note", text[:200], actor, now, author
        )

    def set_tags(self, ref: str, tags: Iterable[str], actor: Actor, now: datetime) -> Contact:
        clean = tuple(sorted({t.strip().lower() for t in tags if t.strip()}))
        return self._change_contact(
            ref, lambda c: replace(c, tags=clean), "tags", ", ".join(clean), actor, now
        )

    # -- drafts -------------------------------------------------------------------------------------

    def save_draft(self, draft: Draft) -> None:
        """Save a draft as it is typed (not audited: it is not an action yet)."""
        self._write(["drafts"], lambda w: w.put("drafts", draft.item, to_record(draft)))

    def delete_draft(self, item_id: str) -> None:
        self._write(["drafts"], lambda w: w.delete("drafts", [item_id]))


__all__ = ["WorkMixin"]
