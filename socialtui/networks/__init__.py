"""Network adapters: one per network, behind the contract in `base.py`; one HTTP wrapper in `http.py`.

`http.py` (and httpx with it, a fifth of a second to import) is loaded when first used: by an adapter
being made, or by a name taken from it here. The dashboard's first screen needs neither."""

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from socialtui.networks.http import RateLimit


def __getattr__(name: str) -> Any:
    if name == "RateLimit":
        from socialtui.networks.http import RateLimit

        return RateLimit
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
