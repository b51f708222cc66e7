"""The operators' work, as records of the domain: what operators decided about items, contacts and
their notes, drafts, handoff notes and shifts, the audit's events.

`model` names them too (`from socialtui.model import HandoffNote` works everywhere); they live here
so that a process that never reads them (`status`, `check`) does not build their classes: a
dataclass costs about a millisecond at import, and these were 12 of `status`'s 51 (the handoff
notes' are read by `status` only when a shift could have one overdue).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ItemState:
    """What operators decided about an item: done without a reply, and why."""

    item: str
    account: str
    done: bool
    reason: str = ""
    login: str = ""
    operator: str = ""
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ContactNote:
    text: str
    login: str
    operator: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Contact:
    """A person who talks to our accounts, keyed by network and handle or DID."""

    key: str
    network: str
    handle: str
    display_name: str = ""
    tags: tuple[str, ...] = ()
    notes: tuple[ContactNote, ...] = ()


@dataclass(frozen=True, slots=True)
class HandoffAck:
    login: str
    operator: str
    at: datetime


@dataclass(frozen=True, slots=True)
class HandedItem:
    """An unanswered item as a handoff note carries it: enough to act on without the queue."""

    id: str
    account: str
    author: str
    """How an operator reads the author (`Author.label`), cleaned."""
    received_at: datetime
    waited_s: float
    """Wall-clock seconds the person had waited when the note was written."""
    state: str
    """`ok`, `due` or `late` against the account's reply target, when the note was written."""
    claimed_by: str = ""
    text: str = ""
    """The first words of the post, on one line."""


@dataclass(frozen=True, slots=True)
class HandedDraft:
    """A reply the writer left unfinished."""

    item: str
    account: str
    text: str


@dataclass(frozen=True, slots=True)
class HandedAccount:
    """A managed account's state when the note was written: queue, quiet gap, health."""

    account: str
    unanswered: int
    late: int
    gap_state: str
    """`ok`, `warn`, `breach` or `unknown` (`care.QuietGap.state`)."""
    quiet_s: float
    max_quiet_s: float
    health: str
    health_detail: str = ""


@dataclass(frozen=True, slots=True)
class HandoffNote:
    """A note written at the end of a shift, that later operators acknowledge.

    Besides the writer's text and pins it carries, as data, the open work when it was written
    (`has_work`): every unanswered item, the writer's claims (released with the shift, taken over
    by whoever acknowledges first) and unfinished drafts, each account's state. Notes written
    before this existed have none of it and read as they did."""

    id: str
    login: str
    operator: str
    at: datetime
    text: str
    pinned_items: tuple[str, ...] = ()
    pinned_accounts: tuple[str, ...] = ()
    acks: tuple[HandoffAck, ...] = ()
    has_work: bool = False
    open_items: tuple[HandedItem, ...] = ()
    claims: tuple[str, ...] = ()
    """The items the writer had claimed; the claims were released when the note was written."""
    drafts: tuple[HandedDraft, ...] = ()
    accounts: tuple[HandedAccount, ...] = ()
    taken_over_by: str = ""
    """The operator who took over the writer's claims by acknowledging first."""

    def acked_by(self, operator: str) -> HandoffAck | None:
        return next((ack for ack in self.acks if ack.operator == operator), None)

    @property
    def named_items(self) -> frozenset[str]:
        """Every item the note names: its open items, the writer's claims and drafts, its pins."""
        return frozenset(
            [i.id for i in self.open_items]
            + list(self.claims)
            + [d.item for d in self.drafts]
            + list(self.pinned_items)
        )

    @property
    def failing(self) -> tuple[HandedAccount, ...]:
        return tuple(a for a in self.accounts if a.health not in ("ok", "never"))


@dataclass(frozen=True, slots=True)
class OpenWork:
    """The open work at one moment, as a handoff note carries it (`handoff.open_work`)."""

    open_items: tuple[HandedItem, ...] = ()
    claims: tuple[str, ...] = ()
    drafts: tuple[HandedDraft, ...] = ()
    accounts: tuple[HandedAccount, ...] = ()


@dataclass(frozen=True, slots=True)
class Draft:
    """A reply being written, saved as it is typed, so a dropped SSH session loses nothing."""

    item: str
    account: str
    text: str
    login: str
    operator: str
    updated_at: datetime
    idempotency_key: str
    """Fixed when the draft is made: Mastodon `Idempotency-Key`, Bluesky record key (a TID)."""
    visibility: str = "public"
    spoiler_text: str = ""


@dataclass(frozen=True, slots=True)
class HandoffDraft:
    """The end-of-shift note being written, with its pins: kept as typed, one per operator."""

    operator: str
    login: str
    text: str
    updated_at: datetime
    pinned_items: tuple[str, ...] = ()
    pinned_accounts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One operator action, as the append-only audit trail keeps it. Never holds a secret."""

    at: datetime
    login: str
    operator: str
    action: str
    account: str = ""
    item: str = ""
    detail: str = ""


__all__ = [
    "ItemState",
    "ContactNote",
    "Contact",
    "HandoffAck",
    "HandedItem",
    "HandedDraft",
    "HandedAccount",
    "HandoffNote",
    "OpenWork",
    "Draft",
    "HandoffDraft",
    "AuditEvent",
]
