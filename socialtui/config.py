"""TOML config -> typed Config. Every error names the file, the key path, the bad value and what is expected.

Key paths use TOML's dotted form with 0-based array indices, like Python: `team.retention`,
`accounts[0].max_quiet`, `operators.nightlead`. `config.example.toml` at the repository root documents
every key. Secrets never live in the config: an account names an environment variable or a file that
holds its secret, and `read_secret` reads it when it is needed.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
import stat
import string
import tomllib
import unicodedata
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta, tzinfo
from functools import cache
from pathlib import Path
from typing import Any, overload
from urllib.parse import urlsplit

from socialtui.model import NETWORKS
from socialtui.timespec import ActiveHours, parse_duration
from socialtui.tone import ToneLexicon

CONFIG_ENV = "SOCIALTUI_CONFIG"
"""The environment variable that names the config file when `--config` is not given."""

DEFAULT_MAX_QUIET = timedelta(hours=4)
DEFAULT_REPLY_WITHIN = timedelta(minutes=30)
DEFAULT_ACTIVE_HOURS = "always"
DEFAULT_LISTEN_EVERY = timedelta(minutes=5)
MAX_WATCH_TERMS = 20
"""Per account: each watch term costs a request per listening poll, inside the account's rate limit."""

ANSI_COLORS = (
    "black", "red", "green", "yellow", "blue", "magenta", "cyan", "white",
    "bright_black", "bright_red", "bright_green", "bright_yellow",
    "bright_blue", "bright_magenta", "bright_cyan", "bright_white",
)  # fmt: skip
"""Account colours: the 16 terminal colours, so they read the same over SSH with 16 colours (`ansi_<name>`
in Textual CSS)."""


class ConfigError(Exception):
    """A config that cannot be used. `str()` is the one message shown to the user (exit status 2)."""

    def __init__(self, path: Path | str, key: str, message: str) -> None:
        self.path = Path(path)
        self.key = key
        self.message = _one_line(message)
        text = f"{path}: {key}: {message}" if key else f"{path}: {message}"
        super().__init__(_one_line(text))


class SecretError(ConfigError):
    """An account's secret cannot be read safely: env var unset, file missing/unreadable/too open."""


@dataclass(frozen=True)
class TeamConfig:
    data_dir: Path
    timezone: str = "UTC"
    poll_interval: timedelta = timedelta(seconds=30)
    home_poll_interval: timedelta = timedelta(minutes=5)
    claim_ttl: timedelta = timedelta(minutes=10)
    retention: timedelta = timedelta(days=14)
    handoff_ack_within: timedelta = timedelta(minutes=30)
    negative_first: bool = False
    """The queue puts negative items first within the same state (late, due, ok)."""
    schedule_grace: timedelta = timedelta(minutes=10)
    """How late a scheduled post may still be sent; later, it waits as `missed` for an operator."""
    store: str = ""
    """Where the team's tables live: "" for the files in `data_dir`, or a PostgreSQL libpq URL."""
    store_password_env: str = ""
    store_password_file: str = ""
    bell: bool = False
    """Ring the terminal bell when an item turns late or a direct message arrives."""

    @property
    def tz(self) -> tzinfo:
        """The team's time zone (reports, handoffs; the default for accounts)."""
        return zoneinfo.ZoneInfo(self.timezone)


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
    """An absolute path (relative paths and `~` are resolved when the config is loaded)."""
    app_password_env: str = ""
    app_password_file: str = ""
    """An absolute path (relative paths and `~` are resolved when the config is loaded)."""
    color: str = ""
    """One of ANSI_COLORS, or "" for the dashboard's default."""
    langs: tuple[str, ...] = ()
    listen: tuple[str, ...] = ()
    """Watch terms: words or phrases, `#hashtags`, domains. Posts naming them become `talk` items."""
    listen_every: timedelta = DEFAULT_LISTEN_EVERY
    reply_within_talk: timedelta | None = None
    """The reply target of talk items; None: talk is never late (nobody asked us)."""
    config_path: Path | None = field(default=None, compare=False, repr=False)
    """The config file this account came from (for error messages)."""
    key_path: str = field(default="", compare=False, repr=False)
    """Where in that file: `accounts[0]` (for error messages)."""

    @property
    def secret_env(self) -> str:
        """The environment variable holding this account's secret, or ""."""
        return self.token_env or self.app_password_env

    @property
    def secret_file(self) -> str:
        """The file holding this account's secret, or ""."""
        return self.token_file or self.app_password_file


@dataclass(frozen=True)
class Config:
    path: Path
    team: TeamConfig
    accounts: tuple[AccountConfig, ...]
    operators: dict[str, str] = field(default_factory=dict)
    saved_replies: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    tone: ToneLexicon = field(default_factory=ToneLexicon)
    """The team's tone words (`[tone]`), in every language; they override VADER."""

    def account(self, account_id: str) -> AccountConfig:
        for account in self.accounts:
            if account.id == account_id:
                return account
        raise KeyError(account_id)

    def display_name(self, login: str) -> str:
        return self.operators.get(login, login)


# --- where configs and data live ---------------------------------------------------------------


def _xdg_dir(variable: str, fallback: str) -> Path:
    # The XDG spec says relative values are invalid and must be ignored.
    value = os.environ.get(variable, "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / fallback


def default_config_path() -> Path:
    """`$XDG_CONFIG_HOME/socialtui/config.toml` (default `~/.config/socialtui/config.toml`)."""
    return _xdg_dir("XDG_CONFIG_HOME", ".config") / "socialtui" / "config.toml"


def default_data_dir() -> Path:
    """`$XDG_DATA_HOME/socialtui` (default `~/.local/share/socialtui`): a per-user fallback for `team.data_dir`."""
    return _xdg_dir("XDG_DATA_HOME", ".local/share") / "socialtui"


def resolve_config_path(arg: str | None) -> Path:
    """`--config PATH`, then `$SOCIALTUI_CONFIG`, then `$XDG_CONFIG_HOME/socialtui/config.toml`."""
    if arg:
        return Path(arg).expanduser()
    from_env = os.environ.get(CONFIG_ENV, "")
    if from_env:
        return Path(from_env).expanduser()
    return default_config_path()


def _search_order() -> str:
    from_env = os.environ.get(CONFIG_ENV, "")
    env_state = f"= {from_env}" if from_env else "unset"
    return (
        f"configs are looked for in --config PATH, then ${CONFIG_ENV} ({env_state}), "
        f"then {default_config_path()}; start from config.example.toml, or try `socialtui demo`"
    )


# --- loading -------------------------------------------------------------------------------------


def load_config(path: Path | str) -> Config:
    """Read and validate. Raises ConfigError."""
    path = Path(path).expanduser().absolute()
    data = _read_toml(path)
    top = _Table(path, "", data)
    top.check_keys(("team", "operators", "saved_replies", "keys", "accounts", "tone"))
    team = _load_team(top)

    raw_accounts = data.get("accounts", [])
    if not isinstance(raw_accounts, list):
        raise top.bad("accounts", raw_accounts, "an array of tables, written [[accounts]]")
    accounts: list[AccountConfig] = []
    first_index: dict[str, int] = {}
    for index, raw in enumerate(raw_accounts):
        where = f"accounts[{index}]"
        if not isinstance(raw, dict):
            raise ConfigError(path, where, f"got {_show(raw)}; expected a table, written [[accounts]]")
        account = _load_account(_Table(path, where, raw), team)
        if account.id in first_index:
            raise ConfigError(
                path,
                f"{where}.id",
                f"got {_show(account.id)}; expected a unique id, but accounts[{first_index[account.id]}] "
                "already uses it",
            )
        first_index[account.id] = index
        accounts.append(account)

    return Config(
        path=path,
        team=team,
        accounts=tuple(accounts),
        operators=_load_operators(top.table("operators")),
        saved_replies=_load_saved_replies(top.table("saved_replies")),
        keys=_load_keys(top.table("keys")),
        tone=_load_tone(top.table("tone")),
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise ConfigError(path, "", "is not a regular file; expected a TOML config file")
            raw = file.read()
    except FileNotFoundError:
        raise ConfigError(path, "", f"does not exist; {_search_order()}") from None
    except IsADirectoryError:
        raise ConfigError(path, "", "is a directory; expected a TOML config file") from None
    except OSError as error:
        raise ConfigError(path, "", f"cannot be read ({error.strerror}); expected a readable file") from None
    if mode & stat.S_IWOTH:
        # Anyone could point the accounts at another server and collect their secrets.
        raise ConfigError(
            path,
            "",
            f"refused: the config is writable by other users (mode {stat.S_IMODE(mode):04o}); "
            f"run chmod o-w {shlex.quote(str(path))}",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            path, "", f"is not UTF-8 (byte {error.start}); expected a UTF-8 TOML file"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(path, "", _toml_message(str(error))) from None


def _toml_message(message: str) -> str:
    where = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if where:
        what = message[: where.start()]
        return f"line {where[1]}, column {where[2]}: invalid TOML: {what}; expected TOML syntax (toml.io)"
    end = re.search(r"\s*\(at end of document\)$", message)
    if end:
        return f"at the end: invalid TOML: {message[: end.start()]}; expected TOML syntax (toml.io)"
    return f"invalid TOML: {message}; expected TOML syntax (toml.io)"


# --- tables --------------------------------------------------------------------------------------

TEAM_KEYS = (
    "data_dir",
    "timezone",
    "poll_interval",
    "home_poll_interval",
    "claim_ttl",
    "retention",
    "handoff_ack_within",
    "negative_first",
    "schedule_grace",
    "store",
    "store_password_env",
    "store_password_file",
    "bell",
)
ACCOUNT_KEYS = (
    "id",
    "network",
    "server",
    "handle",
    "token_env",
    "token_file",
    "app_password_env",
    "app_password_file",
    "active_hours",
    "timezone",
    "max_quiet",
    "reply_within",
    "color",
    "langs",
    "listen",
    "listen_every",
    "reply_within_talk",
)
SECRET_KEYS = {
    "mastodon": ("token_env", "token_file"),
    "bluesky": ("app_password_env", "app_password_file"),
}
"""Per network: the key naming the env var, and the key naming the file, that hold the account's secret."""

_SECRET_WORDS = frozenset(
    {
        "token",
        "access_token",
        "refresh_token",
        "password",
        "app_password",
        "secret",
        "client_secret",
        "api_key",
    }
)
_SECRET_WHAT = {"mastodon": "the access token", "bluesky": "the app password"}

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ACCOUNT_ID = re.compile(r"[a-z0-9][a-z0-9_-]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_MASTODON_HANDLE = re.compile(
    rf"@[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?@(?:{_LABEL}\.)*{_LABEL}(?::\d{{1,5}})?"
)
_BLUESKY_HANDLE = re.compile(rf"(?=.{{1,253}}$)(?:{_LABEL}\.)+[A-Za-z](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?")
_LANG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
_KEY_LIST = re.compile(r"[^\s,]+(?:\s*,\s*[^\s,]+)*")
_HANDLE_EXPECTED = {
    "mastodon": "a Mastodon handle @user@domain, like '@acme@mastodon.social'",
    "bluesky": "a domain-like Bluesky handle without '@', like 'acme.bsky.social'",
}
_DURATION_EXPECTED = "a duration like '45s', '30m', '4h', '2d' or '1h30m'"


class _Table:
    """One TOML table being read, with where it sits in the file, for error messages."""

    def __init__(self, file: Path, where: str, data: dict[str, Any]) -> None:
        self.file = file
        self.where = where
        self.data = data

    def key(self, name: str) -> str:
        shown = name if _BARE_KEY.fullmatch(name) else _quote_key(name)
        return f"{self.where}.{shown}" if self.where else shown

    def error(self, name: str, message: str) -> ConfigError:
        return ConfigError(self.file, self.key(name), message)

    def bad(
        self, name: str, value: Any, expected: str, choices: tuple[str, ...] | frozenset[str] = ()
    ) -> ConfigError:
        """`got VALUE; [did you mean X?] expected ...`, suggesting the closest of `choices`."""
        return self.error(name, f"got {_show(value)}; {_suggest(value, choices)}expected {expected}")

    def check_keys(self, allowed: tuple[str, ...], secret_hint: str = "") -> None:
        """Refuse secrets and unknown keys, suggesting the closest known key."""
        for name in self.data:
            if name in allowed:
                continue
            if name.lower() in _SECRET_WORDS:
                hint = secret_hint or (
                    "an account's token_env/token_file (Mastodon) or app_password_env/app_password_file "
                    "(Bluesky), which name an environment variable or a file holding the secret"
                )
                raise self.error(
                    name, f"refused: secrets never live in the config (value not shown); expected {hint}"
                )
            raise self.error(
                name, f"unknown key; {_suggest(name, allowed)}expected one of: {', '.join(allowed)}"
            )

    def table(self, name: str) -> _Table:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise self.bad(name, value, f"a table, written [{name}]")
        return _Table(self.file, self.key(name), value)

    def string(self, name: str, expected: str, default: str | None = None) -> str:
        """A non-empty string without control characters; missing -> default (None: required)."""
        if name not in self.data:
            if default is None:
                raise self.error(name, f"missing; expected {expected}")
            return default
        value = self.data[name]
        if not isinstance(value, str) or not value.strip() or _has_control(value):
            raise self.bad(name, value, expected)
        return value

    def flag(self, name: str, default: bool) -> bool:
        if name not in self.data:
            return default
        value = self.data[name]
        if not isinstance(value, bool):
            raise self.bad(name, value, "true or false (without quotes)")
        return value

    @overload
    def duration(self, name: str, default: timedelta) -> timedelta: ...
    @overload
    def duration(self, name: str, default: None) -> timedelta | None: ...
    def duration(self, name: str, default: timedelta | None) -> timedelta | None:
        """A positive duration like '4h'; `default` when the key is absent."""
        if name not in self.data:
            return default
        value = self.data[name]
        if not isinstance(value, str):
            raise self.bad(name, value, f"{_DURATION_EXPECTED}, as a quoted string")
        try:
            result = parse_duration(value)
        except ValueError:
            # Its message repeats the whole value; ours shows it shortened and says the same.
            raise self.bad(name, value, _DURATION_EXPECTED) from None
        if result <= timedelta(0):
            raise self.bad(name, value, "a positive " + _DURATION_EXPECTED.removeprefix("a "))
        return result

    def boolean(self, name: str, default: bool) -> bool:
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            raise self.bad(name, value, "true or false")
        return value

    def strings(
        self, name: str, expected: str, check: Callable[[str], bool] | None = None
    ) -> tuple[str, ...]:
        """An array of non-empty one-line strings (each checked by `check`), duplicates dropped."""
        value = self.data.get(name, [])
        if not isinstance(value, list):
            raise self.bad(name, value, f"an array of strings: {expected}")
        out: list[str] = []
        for index, entry in enumerate(value):
            if (
                not isinstance(entry, str)
                or not entry.strip()
                or _has_control(entry)
                or len(entry) > 100
                or (check is not None and not check(entry.strip()))
            ):
                raise ConfigError(
                    self.file, f"{self.key(name)}[{index}]", f"got {_show(entry)}; expected {expected}"
                )
            if entry.strip() not in out:
                out.append(entry.strip())
        return tuple(out)

    def timezone(self, name: str, default: str) -> tuple[str, tzinfo]:
        value = self.string(name, "an IANA time zone name like 'Europe/London' or 'UTC'", default)
        zone = _zone(value)
        if zone is None:
            # A high cutoff: 'BST' is not a near miss of 'MST'.
            import difflib

            close = difflib.get_close_matches(value, _zone_names(), n=1, cutoff=0.8)
            raise self.bad(name, value, "an IANA time zone name like 'Europe/London' or 'UTC'", tuple(close))
        return value, zone

    def path(self, name: str, expected: str, default: Path | None = None) -> Path | None:
        """A path; `~` expands, a relative path is relative to the config file's directory."""
        if name not in self.data:
            return default
        value = self.string(name, expected)
        try:
            expanded = Path(value).expanduser()
        except RuntimeError:  # `~nosuchuser`
            raise self.bad(name, value, f"{expected} (the ~user cannot be expanded)") from None
        return expanded if expanded.is_absolute() else self.file.parent / expanded


def _load_team(top: _Table) -> TeamConfig:
    team = top.table("team")
    team.check_keys(TEAM_KEYS)
    data_dir = team.path("data_dir", "a directory path shared by the team, like '/srv/socialtui'")
    timezone, _ = team.timezone("timezone", "UTC")
    return TeamConfig(
        data_dir=data_dir or default_data_dir(),
        timezone=timezone,
        poll_interval=team.duration("poll_interval", TeamConfig.poll_interval),
        home_poll_interval=team.duration("home_poll_interval", TeamConfig.home_poll_interval),
        claim_ttl=team.duration("claim_ttl", TeamConfig.claim_ttl),
        retention=team.duration("retention", TeamConfig.retention),
        handoff_ack_within=team.duration("handoff_ack_within", TeamConfig.handoff_ack_within),
        negative_first=team.boolean("negative_first", False),
        schedule_grace=team.duration("schedule_grace", TeamConfig.schedule_grace),
        store=_store_url(team),
        store_password_env=team.string("store_password_env", "an environment variable's name", ""),
        store_password_file=team.string("store_password_file", "a file path", ""),
        bell=team.flag("bell", False),
    )


def _store_url(team: _Table) -> str:
    url = team.string("store", 'a PostgreSQL URL such as "postgresql:///socialtui"', "").strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise team.error(
            "store",
            f"{url.split(':', 1)[0]!r} is not a store socialtui knows; expected a PostgreSQL URL "
            'such as "postgresql:///socialtui" (or no `store` for the files in data_dir)',
        )
    if parts.password:
        raise team.error(
            "store",
            "the URL holds a password, and the config is no place for one: use store_password_env, "
            "store_password_file or libpq's ~/.pgpass",
        )
    return url


def store_password(team: TeamConfig) -> str | None:
    """The store's database password, from its env var or file (None: peer or ~/.pgpass)."""
    if team.store_password_env:
        value = os.environ.get(team.store_password_env, "")
        if not value:
            raise ConfigError(
                Path("<config>"),
                "team.store_password_env",
                f"environment variable {team.store_password_env} is not set",
            )
        return value
    if team.store_password_file:
        return _read_secret_file(
            Path(team.store_password_file),
            Path("<config>"),
            "team.store_password_file",
            "the store's password",
        )
    return None


def _load_account(table: _Table, team: TeamConfig) -> AccountConfig:
    raw_network = table.data.get("network")
    if raw_network in SECRET_KEYS:
        env_key, file_key = SECRET_KEYS[raw_network]
        hint = f"{env_key} or {file_key}, naming an environment variable or a file holding {_SECRET_WHAT[raw_network]}"
    else:
        hint = ""
    table.check_keys(ACCOUNT_KEYS, hint)

    account_id = table.string(
        "id", "an account id: lowercase letters, digits, '-' and '_', like 'acme-mastodon'"
    )
    if not _ACCOUNT_ID.fullmatch(account_id):
        raise table.bad("id", account_id, "an account id matching [a-z0-9][a-z0-9_-]*, like 'acme-mastodon'")

    network = table.string("network", f"one of: {', '.join(NETWORKS)}")
    if network not in NETWORKS:
        raise table.bad("network", network, f"one of: {', '.join(NETWORKS)}", NETWORKS)

    server = _server(table)
    handle = table.string("handle", _HANDLE_EXPECTED[network])
    pattern = _MASTODON_HANDLE if network == "mastodon" else _BLUESKY_HANDLE
    if not pattern.fullmatch(handle):
        raise table.bad("handle", handle, _HANDLE_EXPECTED[network])
    if network == "bluesky":
        handle = handle.lower()  # atproto handles are case-insensitive, normalised to lowercase

    secrets = _secrets(table, network)
    timezone, tz = table.timezone("timezone", team.timezone)
    active_spec = table.string(
        "active_hours",
        "'always' or windows like 'Mon-Fri 08:00-20:00, Sat 10:00-14:00'",
        DEFAULT_ACTIVE_HOURS,
    )
    try:
        active_hours = ActiveHours.parse(active_spec, tz)
    except ValueError as error:
        # Keep what the parser says about the bad part, without its copy of the whole value.
        detail = _shorten(str(error).removeprefix(f"active hours `{active_spec}`: "), 160)
        raise table.bad(
            "active_hours",
            active_spec,
            f"'always' or windows like 'Mon-Fri 08:00-20:00, Sat 10:00-14:00' ({detail})",
        ) from None

    return AccountConfig(
        id=account_id,
        network=network,
        server=server,
        handle=handle,
        timezone=timezone,
        tz=tz,
        active_hours=active_hours,
        max_quiet=table.duration("max_quiet", DEFAULT_MAX_QUIET),
        reply_within=table.duration("reply_within", DEFAULT_REPLY_WITHIN),
        color=_color(table),
        langs=_langs(table),
        listen=_listen(table),
        listen_every=table.duration("listen_every", DEFAULT_LISTEN_EVERY),
        reply_within_talk=table.duration("reply_within_talk", None),
        config_path=table.file,
        key_path=table.where,
        **secrets,
    )


def _server(table: _Table) -> str:
    expected = (
        "an https URL like 'https://mastodon.social' (http only for 127.0.0.1, localhost or ::1: the sandbox)"
    )
    value = table.string("server", expected)
    try:
        url = urlsplit(value)
        port = url.port
    except ValueError:
        raise table.bad("server", value, expected) from None
    if url.username is not None or url.password is not None:
        # Never echo it: the user part may be a password.
        raise table.error(
            "server", f"refused: the URL holds credentials (value not shown); expected {expected}"
        )
    if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment or port == 0:
        raise table.bad("server", value, expected)
    if url.scheme == "http" and not _is_loopback(url.hostname):
        raise table.bad("server", value, expected)
    return value.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _secrets(table: _Table, network: str) -> dict[str, str]:
    """The account's secret source: exactly one of its network's env/file keys."""
    env_key, file_key = SECRET_KEYS[network]
    for other_network, keys in SECRET_KEYS.items():
        for key in keys:
            if other_network != network and key in table.data:
                raise table.bad(
                    key,
                    table.data[key],
                    f"{env_key} or {file_key} ({key} is for {other_network} accounts; this is a {network} account)",
                )
    what = _SECRET_WHAT[network]
    if env_key in table.data and file_key in table.data:
        raise table.bad(file_key, table.data[file_key], f"either {env_key} or {file_key}, not both")
    if env_key in table.data:
        name = table.data[env_key]
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            # Often the secret itself pasted in the wrong place: do not echo it.
            raise table.error(
                env_key,
                "got a value that is not an environment variable name (value not shown); expected a name "
                f"like 'ACME_TOKEN' of a variable holding {what} (the secret itself must not be in the config)",
            )
        return {env_key: name}
    if file_key in table.data:
        path = table.path(file_key, f"the path of a file holding {what}")
        assert path is not None
        _check_secret_file_at_load(path, table.file, table.key(file_key))
        return {file_key: str(path)}
    raise table.error(
        env_key,
        f'missing; expected {env_key} = "NAME" (an environment variable holding {what}) '
        f'or {file_key} = "/path" (a file holding it, mode 0600 or 0640)',
    )


def _color(table: _Table) -> str:
    if "color" not in table.data:
        return ""
    expected = f"one of the 16 terminal colours: {', '.join(ANSI_COLORS)}"
    value = table.string("color", expected)
    name = value.lower().replace("-", "_").removeprefix("ansi_")
    if name not in ANSI_COLORS:
        raise table.bad("color", value, expected, ANSI_COLORS)
    return name


def _langs(table: _Table) -> tuple[str, ...]:
    value = table.data.get("langs", [])
    expected = 'an array of language codes like ["en"] or ["en", "pt-BR"]'
    if not isinstance(value, list):
        raise table.bad("langs", value, expected)
    for index, lang in enumerate(value):
        if not isinstance(lang, str) or not _LANG.fullmatch(lang):
            raise ConfigError(
                table.file,
                f"{table.key('langs')}[{index}]",
                f"got {_show(lang)}; expected a language code like 'en'",
            )
    return tuple(value)


_WATCH_EXPECTED = (
    "a watch term: words or a phrase like 'acme bikes', a hashtag like '#acmebikes', or a domain "
    "like 'acme.example.com' (at most 100 characters)"
)
_HASHTAG = re.compile(r"#\w+")


def _listen(table: _Table) -> tuple[str, ...]:
    terms = table.strings(
        "listen", _WATCH_EXPECTED, lambda term: not term.startswith("#") or bool(_HASHTAG.fullmatch(term))
    )
    if len(terms) > MAX_WATCH_TERMS:
        raise table.bad(
            "listen",
            terms,
            f"at most {MAX_WATCH_TERMS} watch terms (each costs a request per listening poll)",
        )
    return terms


def _load_tone(table: _Table) -> ToneLexicon:
    table.check_keys(("negative", "positive"))
    expected = "a word or phrase, in any language, like 'kaputt', 'reembolso' or 'not happy' ('*' at the end: any ending)"
    return ToneLexicon(
        negative=table.strings("negative", expected),
        positive=table.strings("positive", expected),
    )


def _load_operators(table: _Table) -> dict[str, str]:
    for login in table.data:
        table.string(login, 'a display name, like "Night shift lead"')
    return dict(table.data)


def _load_saved_replies(table: _Table) -> dict[str, str]:
    expected = "reply text whose only placeholder is {name} (write {{ and }} for literal braces)"
    for name, text in table.data.items():
        if not isinstance(text, str) or not text.strip() or _has_control(text.replace("\n", "")):
            raise table.bad(name, text, expected)
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
        except ValueError:
            raise table.bad(name, text, expected) from None
        if any(f != "name" for f in fields):
            raise table.bad(name, text, expected)
    return dict(table.data)


def _load_keys(table: _Table) -> dict[str, str]:
    expected = 'a key or comma-separated keys as a string, like "r" or "ctrl+r,f5"'
    for binding, keys in table.data.items():
        if not isinstance(keys, str) or not _KEY_LIST.fullmatch(keys.strip()):
            raise table.bad(binding, keys, expected)
    return {binding: ",".join(k.strip() for k in keys.split(",")) for binding, keys in table.data.items()}


# --- secrets -------------------------------------------------------------------------------------


def _secret_file_problem(path: str | Path, mode: int) -> str | None:
    """Why a secret file with this st_mode is refused, or None when it is fine."""
    if not stat.S_ISREG(mode):
        return f"refused: {path} is not a regular file"
    if mode & 0o007:
        access = "readable" if mode & stat.S_IROTH else "accessible"
        fixed = (mode & 0o040) | 0o600
        return (
            f"refused: {path} is {access} by other users (mode {stat.S_IMODE(mode):04o}); "
            f"run chmod {fixed:o} {shlex.quote(str(path))}"
        )
    return None


def _check_secret_file_at_load(path: Path, config: Path, key: str) -> None:
    """Fail early on a secret file that exists but is too open; a missing one is fine (login writes it)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    except OSError:
        return  # unreadable directories etc. are reported by read_secret, when the secret is needed
    problem = _secret_file_problem(path, mode)
    if problem:
        raise SecretError(config, key, problem)


def read_secret(account: AccountConfig) -> str:
    """The account's secret, from its env var or file (stripped). Raises SecretError."""
    config = account.config_path or Path("<config>")
    where = account.key_path or f"accounts[id={account.id!r}]"
    env_key, file_key = SECRET_KEYS.get(account.network, ("token_env", "token_file"))
    what = _SECRET_WHAT.get(account.network, "the secret")
    if account.secret_env:
        name = account.secret_env
        value = os.environ.get(name, "").strip()
        if not value:
            state = "is empty" if name in os.environ else "is not set"
            raise SecretError(
                config,
                f"{where}.{env_key}",
                f"environment variable {name} {state}; expected it to hold {what}",
            )
        return value
    if account.secret_file:
        return _read_secret_file(Path(account.secret_file), config, f"{where}.{file_key}", what)
    raise SecretError(config, where, f"no secret configured; expected {env_key} or {file_key}")


def _read_secret_file(path: Path, config: Path, key: str, what: str) -> str:
    try:
        # Check the mode of the file actually opened, not of whatever the path names a moment later.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise SecretError(config, key, f"{path} does not exist; expected a file holding {what}") from None
    except OSError as error:
        raise SecretError(
            config,
            key,
            f"{path} cannot be read ({error.strerror}); expected a file holding {what} readable by you",
        ) from None
    with os.fdopen(fd, "rb") as file:
        problem = _secret_file_problem(path, os.fstat(fd).st_mode)
        if problem:
            raise SecretError(config, key, problem)
        try:
            raw = file.read()
        except OSError as error:
            raise SecretError(config, key, f"{path} cannot be read ({error.strerror})") from None
    try:
        value = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise SecretError(config, key, f"{path} is not UTF-8 text; expected a file holding {what}") from None
    if not value:
        raise SecretError(config, key, f"{path} is empty; expected it to hold {what}")
    return value


# --- small helpers -------------------------------------------------------------------------------


_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
"""Host-dependent or placeholder entries of the tz database: no zone a team means."""


@cache
def _zone_names() -> frozenset[str]:
    """Every name in the tz database but `_NOT_ZONES`: for the near misses of a wrong name only."""
    return frozenset(zoneinfo.available_timezones() - _NOT_ZONES)


def _zone(name: str) -> tzinfo | None:
    """The zone of a name in the tz database (what `zoneinfo.available_timezones()` lists, without
    `_NOT_ZONES`), or None. Asked of `ZoneInfo` itself: listing the database opens every file in it
    (tens of milliseconds of every `status` and `check`)."""
    if name in _NOT_ZONES or name.split("/", 1)[0] in ("posix", "right"):
        return None  # the special directories that available_timezones() leaves out
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


_TYPE_NAMES = {
    bool: "a boolean",
    int: "an integer",
    float: "a float",
    list: "an array",
    dict: "a table",
}


def _show(value: Any, limit: int = 60) -> str:
    """The value as the user wrote it, shortened; its TOML type when it is not a string."""
    text = _shorten(repr(value), limit)
    if isinstance(value, str):
        return text
    kind = _TYPE_NAMES.get(type(value), "a date/time")
    return f"{text} ({kind})"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _suggest(value: Any, choices: tuple[str, ...] | frozenset[str]) -> str:
    import difflib  # only when a value is wrong

    close = difflib.get_close_matches(value, choices, n=1) if isinstance(value, str) and choices else []
    return f"did you mean {close[0]!r}? " if close else ""


def _quote_key(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _has_control(text: str) -> bool:
    # isprintable() is false for every control character (and for some others, checked one by one)
    return not text.isprintable() and any(unicodedata.category(char) == "Cc" for char in text)


def _one_line(text: str) -> str:
    """Line breaks become spaces and other control characters are escaped: a message is one line."""
    out = []
    for char in text:
        if char in "\r\n\t":
            out.append(" ")
        elif unicodedata.category(char) == "Cc":
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out)
