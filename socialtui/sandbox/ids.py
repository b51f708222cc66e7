"""Identifiers shaped like the real ones: ULIDs (GoToSocial ids), TIDs (Bluesky record keys), CIDs, DIDs.

Ids that sort by time must keep sorting by time when many are made within one millisecond (a fixed
test clock makes them all at the same instant): the generators are monotonic for the newest instant
they have seen, and random (from a seeded RNG) otherwise, so a back-filled past stays reproducible.
"""

from __future__ import annotations

import base64
import hashlib
import random
from datetime import datetime

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SORTABLE32 = "234567abcdefghijklmnopqrstuvwxyz"


def _encode(value: int, alphabet: str, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(alphabet[value & 31])
        value >>= 5
    return "".join(reversed(chars))


class IdGenerator:
    """Makes ULIDs and TIDs for instants; strictly increasing for the newest instant seen so far."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        # (newest instant seen, last id issued for it): ids for that instant or later keep growing,
        # even when the random part overflows into the time part.
        self._ulid_state = (0, 0)
        self._tid_state = (0, 0)

    def ulid(self, at: datetime) -> str:
        """A 26-character ULID (Crockford base32) for `at`, like GoToSocial's ids."""
        ms = int(at.timestamp() * 1000)
        value = (ms << 80) | self._rng.getrandbits(80)
        newest, last = self._ulid_state
        if ms >= newest:
            value = max(value, last + 1)
            self._ulid_state = (ms, value)
        return _encode(value, CROCKFORD, 26)

    def tid(self, at: datetime) -> str:
        """A 13-character TID (a Bluesky record key): microseconds and a clock id, base32-sortable."""
        micros = int(at.timestamp() * 1_000_000)
        value = (micros << 10) | self._rng.getrandbits(10)
        newest, last = self._tid_state
        if micros >= newest:
            value = max(value, last + 1)
            self._tid_state = (micros, value)
        return _encode(value & ((1 << 63) - 1), SORTABLE32, 13)


def cid_for(data: bytes) -> str:
    """A CIDv1 (dag-cbor, sha-256) string for `data`: `bafyrei...`, 59 characters, stable."""
    raw = bytes([0x01, 0x71, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(raw).decode("ascii").lower().rstrip("=")


def plc_did(seed: str) -> str:
    """A did:plc for a handle: 24 base32 characters derived from it (stable across runs)."""
    digest = hashlib.sha256(f"sandbox-did:{seed}".encode()).digest()
    return "did:plc:" + base64.b32encode(digest).decode("ascii").lower()[:24]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
