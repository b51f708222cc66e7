"""TOML config -> typed Config. Every error names the file, the key path, the bad value and what is expected."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta, tzinfo
from pathlib import Path

from socialtui.timespec import ActiveHours


class ConfigError(Exception):
    """A config that cannot be used. `str()` is the one message shown to the user (exit status 2)."""

    def __init__(self, path: Path | str, key: str, message: str) -> None:
        self.path = Path(path)
        self.key = key
        self.message = message
        super().__init__(f"{path}: {key}: {message}" if key else f"{path}: {message}")


@dataclass(frozen=True)
class TeamConfig:
    data_dir: Path
    timezone: str = "UTC"
    poll_interval: timedelta = timedelta(seconds=30)
    home_poll_interval: timedelta = timedelta(minutes=5)
    claim_ttl: timedelta = timedelta(minutes=10)
    retention: timedelta = timedelta(days=14)
    handoff_ack_within: timedelta = timedelta(minutes=30)


@dataclass(frozen=True)
class AccountConfig:
    id: str
    network: str
    server: str
    handle: str
    timezone: str
    tz: tzinfo
    active_hours: ActiveHours
    max_quiet: timedelta
    reply_within: timedelta
    token_env: str = ""
    token_file: str = ""
    app_password_env: str = ""
    app_password_file: str = ""
    color: str = ""
    langs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    path: Path
    team: TeamConfig
    accounts: tuple[AccountConfig, ...]
    operators: dict[str, str] = field(default_factory=dict)
    saved_replies: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    def account(self, account_id: str) -> AccountConfig:
        for account in self.accounts:
            if account.id == account_id:
                return account
        raise KeyError(account_id)

    def display_name(self, login: str) -> str:
        return self.operators.get(login, login)


def resolve_config_path(arg: str | None) -> Path:
    """`--config PATH`, then `$SOCIALTUI_CONFIG`, then `$XDG_CONFIG_HOME/socialtui/config.toml`."""
    raise NotImplementedError


def load_config(path: Path) -> Config:
    """Read and validate. Raises ConfigError."""
    raise NotImplementedError
