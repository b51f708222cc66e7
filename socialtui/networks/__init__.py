"""Network adapters: one per network, behind the contract in `base.py`; one HTTP wrapper in `http.py`."""

from socialtui.networks.base import (
    AccountInfo,
    Adapter,
    MemorySessionStore,
    Page,
    ReplyDraft,
    SessionStore,
    make_adapter,
)
from socialtui.networks.errors import (
    AuthExpired,
    AuthRefused,
    MalformedAnswer,
    NetworkError,
    NetworkFailure,
    NotFound,
    RateLimited,
    Rejected,
    ServerError,
)
from socialtui.networks.http import RateLimit

__all__ = [
    "AccountInfo",
    "Adapter",
    "AuthExpired",
    "AuthRefused",
    "MalformedAnswer",
    "MemorySessionStore",
    "NetworkError",
    "NetworkFailure",
    "NotFound",
    "Page",
    "RateLimit",
    "RateLimited",
    "Rejected",
    "ReplyDraft",
    "ServerError",
    "SessionStore",
    "make_adapter",
]
