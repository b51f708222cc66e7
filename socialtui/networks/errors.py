"""The typed failures of network calls. `http.py` is the one place that raises them from HTTP answers.

Two flags tell the caller what to do next:

- `uncertain`: the request may have reached the server and been acted on (a read timeout after the
  request was sent, a connection dropped mid-answer, a 5xx). The outbox must look for the reply
  (`Adapter.find_reply`) before sending it again.
- `transient`: trying again later may succeed without anyone changing anything (rate limits, 5xx,
  timeouts). Auth failures and refusals are not transient: an operator has to act.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


class NetworkFailure(Exception):
    """Base of every failure a network adapter raises. `str()` is safe to show (never holds a secret)."""

    uncertain: bool = False
    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error: str = "",
        uncertain: bool | None = None,
        transient: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        """The HTTP status, when there was an answer."""
        self.error = error
        """The server's machine-readable error name, when it gave one (XRPC `error`)."""
        if uncertain is not None:
            self.uncertain = uncertain
        if transient is not None:
            self.transient = transient


class AuthExpired(NetworkFailure):
    """The credentials were good once and have expired (Bluesky 400/401 `ExpiredToken`)."""


class AuthRefused(NetworkFailure):
    """The server refuses our credentials (401/403, an invalid or revoked token, a wrong password)."""


class RateLimited(NetworkFailure):
    """Too many requests: nothing was done; try again at `reset_at` (local clock, skew corrected)."""

    transient = True

    def __init__(self, reset_at: datetime | None = None, message: str = "", **kwargs: Any) -> None:
        if not message:
            when = reset_at.astimezone(UTC).strftime("%H:%M:%S UTC") if reset_at else "later"
            message = f"rate limited until {when}"
        super().__init__(message, **kwargs)
        self.reset_at = reset_at


class NotFound(NetworkFailure):
    """The post, record or account is not there (404/410, XRPC `RecordNotFound`/`NotFound`)."""


class Rejected(NetworkFailure):
    """The server understood the request and refused it (400, 409, 422...): sending it again won't help."""


class Unsupported(Rejected):
    """The server does not offer this at all (a Mastodon server without full-text search): not a
    failure of the account, something to say once."""


class ServerError(NetworkFailure):
    """The server failed (5xx). It may have done the work before failing, hence `uncertain`."""

    transient = True
    uncertain = True

    def __init__(self, status: int, message: str = "", **kwargs: Any) -> None:
        super().__init__(message or f"server error {status}", status=status, **kwargs)


class NetworkError(NetworkFailure):
    """No usable answer: connection refused, DNS, TLS, timeouts, a connection dropped mid-answer."""

    transient = True


class MalformedAnswer(NetworkFailure):
    """An answer we cannot read: not JSON (an HTML error page), or JSON of the wrong shape."""


__all__ = [
    "NetworkFailure",
    "AuthExpired",
    "AuthRefused",
    "RateLimited",
    "NotFound",
    "Rejected",
    "Unsupported",
    "ServerError",
    "NetworkError",
    "MalformedAnswer",
]
