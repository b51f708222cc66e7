"""What a command or the dashboard works with: the config, the store, the clock and the operator.

Below both the command line and the dashboard (`tui/`), so that neither imports the other.
"""

from __future__ import annotations

import os
import pwd
from datetime import datetime
from typing import Any

from socialtui.clock import Clock, system_clock
from socialtui.config import Config, load_config, resolve_config_path
from socialtui.model import Actor
from socialtui.store import Store, open_store


class Context:
    """Config, store, clock and operator, loaded lazily. `args` holds at least `config` (a path or
    None) and `operator` (a name or None), as the command line parses them."""

    def __init__(self, args: Any, clock: Clock | None = None) -> None:
        self.args = args
        self.clock = clock or system_clock()
        self._config: Config | None = None
        self._store: Store | None = None
        self.demo = False

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(resolve_config_path(self.args.config))
        return self._config

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.config)
        return self._store

    @property
    def actor(self) -> Actor:
        login = unix_login()
        name = self.args.operator or self.config.display_name(login)
        return Actor(login=login, operator=name)

    def now(self) -> datetime:
        return self.clock.now()

    def close(self) -> None:
        """Close the store if it was opened (a PostgreSQL engine holds connections)."""
        if self._store is not None:
            store, self._store = self._store, None
            store.close()


def unix_login() -> str:
    """The Unix login of this process (from the uid, not from environment variables one can set)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return f"uid{os.getuid()}"


__all__ = ["Context", "unix_login"]
