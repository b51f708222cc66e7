"""The config: the example loads, defaults, every kind of error message, paths, and secrets."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from socialtui.config import (
    AccountConfig,
    ConfigError,
    SecretError,
    load_config,
    read_secret,
    resolve_config_path,
)

REPO = Path(__file__).resolve().parent.parent

MASTODON = """
[[accounts]]
id = "acme"
network = "mastodon"
server = "https://mastodon.social"
handle = "@acme@mastodon.social"
token_env = "ACME_TOKEN"
"""

BLUESKY = """
[[accounts]]
id = "acme-bsky"
network = "bluesky"
server = "https://bsky.social"
handle = "acme.bsky.social"
app_password_env = "ACME_APP_PASSWORD"
"""


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test depends on the real user's environment or home."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("SOCIALTUI_CONFIG", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o644)
    return path


def load_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value


def secret_file(tmp_path: Path, text: str, mode: int, name: str = "token") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


# --- what loads ----------------------------------------------------------------------------------


def test_the_example_config_loads() -> None:
    config = load_config(REPO / "config.example.toml")

    assert config.path == REPO / "config.example.toml"
    assert config.team.data_dir == Path("/srv/socialtui")
    assert config.team.timezone == "Europe/London"
    assert config.team.home_poll_interval == timedelta(minutes=5)
    assert [a.id for a in config.accounts] == ["acme-mastodon", "acme-bluesky"]
    mastodon, bluesky = config.accounts
    assert mastodon.token_env == "ACME_MASTODON_TOKEN"
    assert mastodon.color == "cyan"
    assert mastodon.langs == ("en",)
    assert mastodon.max_quiet == timedelta(hours=4)
    assert not mastodon.active_hours.always
    # A relative secret path is relative to the config's directory.
    assert bluesky.app_password_file == str(REPO / "secrets" / "acme-bluesky.app-password")
    assert bluesky.timezone == "Europe/London"
    assert config.display_name("nightlead") == "Night shift lead"
    assert "{name}" in config.saved_replies["thanks"]


def test_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MASTODON))

    team = config.team
    assert team.data_dir == tmp_path / "home" / ".local" / "share" / "socialtui"
    assert team.timezone == "UTC"
    assert (team.poll_interval, team.home_poll_interval) == (timedelta(seconds=30), timedelta(minutes=5))
    assert (team.claim_ttl, team.retention) == (timedelta(minutes=10), timedelta(days=14))
    assert team.handoff_ack_within == timedelta(minutes=30)

    account = config.account("acme")
    assert account.timezone == "UTC"
    assert account.active_hours.always
    assert account.max_quiet == timedelta(hours=4)
    assert account.reply_within == timedelta(minutes=30)
    assert (account.color, account.langs) == ("", ())
    assert (account.token_file, account.app_password_env, account.app_password_file) == ("", "", "")
    assert (config.operators, config.saved_replies, config.keys) == ({}, {}, {})
    assert config.display_name("somebody") == "somebody"


def test_an_empty_config_is_an_empty_team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    config = load_config(write(tmp_path, ""))
    assert config.accounts == ()
    assert config.team.data_dir == tmp_path / "xdg-data" / "socialtui"


def test_values_given_are_used(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[team]
timezone = "America/New_York"
poll_interval = "45s"
retention = "2d"
[keys]
reply = "r"
done = "d, f9"
"""
        + MASTODON
        + 'timezone = "Asia/Tokyo"\nmax_quiet = "1h30m"\nactive_hours = "Mon-Fri 08:00-20:00"\n'
        + 'color = "Bright-Cyan"\nlangs = ["en", "pt-BR"]\n'
        + BLUESKY.replace("acme.bsky.social", "Acme.BSKY.social"),
    )
    config = load_config(path)
    assert config.team.poll_interval == timedelta(seconds=45)
    assert config.team.retention == timedelta(days=2)
    assert config.keys == {"reply": "r", "done": "d,f9"}
    acme = config.account("acme")
    assert acme.timezone == "Asia/Tokyo"
    assert acme.max_quiet == timedelta(hours=1, minutes=30)
    assert not acme.active_hours.always
    assert acme.color == "bright_cyan"
    assert acme.langs == ("en", "pt-BR")
    bsky = config.account("acme-bsky")
    assert bsky.timezone == "America/New_York"  # the team's zone
    assert bsky.handle == "acme.bsky.social"  # atproto handles are normalised to lowercase


@pytest.mark.parametrize(
    "server",
    [
        "http://127.0.0.1:8080",
        "http://localhost:9000/",
        "http://[::1]:8000",
        "https://social.example.org:8443",
    ],
)
def test_sandbox_and_https_servers_are_allowed(tmp_path: Path, server: str) -> None:
    config = load_config(write(tmp_path, MASTODON.replace("https://mastodon.social", server)))
    assert config.accounts[0].server == server.rstrip("/")


# --- errors --------------------------------------------------------------------------------------

ERRORS = {
    # name: (config text, parts the one-line message must contain)
    "unknown top-level key": (
        "[[acounts]]\nid = 'x'\n",
        ["acounts: unknown key", "did you mean 'accounts'?"],
    ),
    "unknown team key": (
        '[team]\nretension = "14d"\n',
        ["team.retension: unknown key", "did you mean 'retention'?", "expected one of: data_dir"],
    ),
    "unknown account key": (
        MASTODON + 'max_quite = "4h"\n',
        ["accounts[0].max_quite: unknown key", "did you mean 'max_quiet'?"],
    ),
    "unknown key, nothing close": (
        MASTODON + "zzz = 1\n",
        ["accounts[0].zzz: unknown key; expected one of: id"],
    ),
    "duplicate ids": (
        MASTODON + MASTODON,
        ["accounts[1].id", "got 'acme'", "expected a unique id, but accounts[0] already uses it"],
    ),
    "bad id": (
        MASTODON.replace('"acme"', '"Acme Corp"'),
        ["accounts[0].id", "'Acme Corp'", "[a-z0-9][a-z0-9_-]*"],
    ),
    "missing id": (
        MASTODON.replace('id = "acme"\n', ""),
        ["accounts[0].id: missing; expected an account id"],
    ),
    "unknown network": (
        MASTODON.replace('"mastodon"', '"mastdon"'),
        ["accounts[0].network", "got 'mastdon'", "did you mean 'mastodon'?", "one of: mastodon, bluesky"],
    ),
    "number for a string": (
        MASTODON.replace('"@acme@mastodon.social"', "42"),
        ["accounts[0].handle", "got 42 (an integer)", "expected a Mastodon handle @user@domain"],
    ),
    "mastodon handle without @": (
        MASTODON.replace('"@acme@mastodon.social"', '"acme@mastodon.social"'),
        ["accounts[0].handle", "'acme@mastodon.social'", "@user@domain"],
    ),
    "bluesky handle with @": (
        BLUESKY.replace('"acme.bsky.social"', '"@acme.bsky.social"'),
        ["accounts[0].handle", "'@acme.bsky.social'", "domain-like Bluesky handle without '@'"],
    ),
    "number for a duration": (
        "[team]\npoll_interval = 30\n",
        ["team.poll_interval", "got 30 (an integer)", "a duration like '45s'", "quoted string"],
    ),
    "bad duration": (
        '[team]\nretention = "14 days"\n',
        ["team.retention", "got '14 days'", "a duration like '45s'"],
    ),
    "bad account duration": (
        MASTODON + 'max_quiet = "four hours"\n',
        ["accounts[0].max_quiet", "got 'four hours'", "a duration like"],
    ),
    "bad active hours": (
        MASTODON + 'active_hours = "Mon-Fri 9-5"\n',
        [
            "accounts[0].active_hours",
            "got 'Mon-Fri 9-5'",
            "'always' or windows like 'Mon-Fri 08:00-20:00",
            "(`9` is not a valid start time",  # what the parser says about the bad part
        ],
    ),
    "active hours not a string": (
        MASTODON + 'active_hours = ["Mon 08:00-10:00"]\n',
        ["accounts[0].active_hours", "(an array)", "'always' or windows"],
    ),
    "misspelt team time zone": (
        '[team]\ntimezone = "Europe/Lodnon"\n',
        ["team.timezone", "got 'Europe/Lodnon'", "did you mean 'Europe/London'?", "an IANA time zone name"],
    ),
    "account time zone that is a path": (
        MASTODON + 'timezone = "../../../etc/passwd"\n',
        ["accounts[0].timezone", "'../../../etc/passwd'", "an IANA time zone name"],
    ),
    "time zone that is a directory": (
        MASTODON + 'timezone = "Europe"\n',
        ["accounts[0].timezone", "'Europe'", "an IANA time zone name"],
    ),
    "time zone abbreviation": (MASTODON + 'timezone = "BST"\n', ["accounts[0].timezone", "'BST'", "IANA"]),
    "host-dependent time zone": (
        MASTODON + 'timezone = "localtime"\n',
        ["accounts[0].timezone", "'localtime'"],
    ),
    "mastodon key on bluesky": (
        BLUESKY.replace("app_password_env", "token_env"),
        [
            "accounts[0].token_env",
            "got 'ACME_APP_PASSWORD'",
            "expected app_password_env or app_password_file",
            "token_env is for mastodon accounts",
        ],
    ),
    "bluesky key on mastodon": (
        MASTODON + 'app_password_file = "x"\n',
        [
            "accounts[0].app_password_file",
            "got 'x'",
            "expected token_env or token_file",
            "is for bluesky accounts",
        ],
    ),
    "env and file both": (
        MASTODON + 'token_file = "/nonexistent/token"\n',
        ["accounts[0].token_file", "got '/nonexistent/token'", "either token_env or token_file, not both"],
    ),
    "no secret at all": (
        MASTODON.replace('token_env = "ACME_TOKEN"\n', ""),
        ["accounts[0].token_env: missing", 'expected token_env = "NAME"', "or token_file"],
    ),
    "accounts as a table": (
        '[accounts]\nid = "acme"\n',
        ["accounts: got {'id': 'acme'} (a table)", "expected an array of tables, written [[accounts]]"],
    ),
    "accounts with a number": ("accounts = [1]\n", ["accounts[0]: got 1 (an integer)", "expected a table"]),
    "team not a table": ('team = "x"\n', ["team: got 'x'", "expected a table, written [team]"]),
    "http to a public host": (
        MASTODON.replace("https://mastodon.social", "http://mastodon.social"),
        [
            "accounts[0].server",
            "got 'http://mastodon.social'",
            "https",
            "http only for 127.0.0.1, localhost or ::1",
        ],
    ),
    "not a URL": (
        MASTODON.replace("https://mastodon.social", "mastodon.social"),
        ["accounts[0].server", "got 'mastodon.social'", "an https URL"],
    ),
    "other scheme": (
        MASTODON.replace("https://", "ftp://"),
        ["accounts[0].server", "'ftp://mastodon.social'"],
    ),
    "colour": (
        MASTODON + 'color = "purpel"\n',
        ["accounts[0].color", "got 'purpel'", "one of the 16 terminal colours"],
    ),
    "langs as a string": (
        MASTODON + 'langs = "en"\n',
        ["accounts[0].langs", "got 'en'", "an array of language codes"],
    ),
    "langs with a number": (
        MASTODON + "langs = [1]\n",
        ["accounts[0].langs[0]", "got 1 (an integer)", "language code"],
    ),
    "operator name": (
        "[operators]\nnightlead = 3\n",
        ["operators.nightlead", "got 3 (an integer)", "expected a display name"],
    ),
    "operator login that needs quotes": (
        '[operators]\n"night.lead" = ""\n',
        ['operators."night.lead"', "got ''", "expected a display name"],
    ),
    "saved reply placeholder": (
        '[saved_replies]\nthanks = "Thanks {nme}!"\n',
        ["saved_replies.thanks", "got 'Thanks {nme}!'", "only placeholder is {name}"],
    ),
    "saved reply unbalanced brace": (
        '[saved_replies]\nthanks = "Thanks {name"\n',
        ["saved_replies.thanks", "'Thanks {name'", "{{ and }}"],
    ),
    "key binding not a string": (
        "[keys]\nreply = 1\n",
        ["keys.reply", "got 1 (an integer)", "a key or comma-separated keys"],
    ),
    "key binding empty": ('[keys]\nreply = ""\n', ["keys.reply", "got ''", "a key or comma-separated keys"]),
    "TOML syntax": (
        '[team]\nretention = "14d\n',
        ["line 2, column", "invalid TOML", "expected TOML syntax"],
    ),
    "TOML duplicate key": (
        '[team]\nretention = "1d"\nretention = "2d"\n',
        ["invalid TOML", "Cannot overwrite a value"],
    ),
    "a newline in a value": (
        MASTODON + 'active_hours = "Mon 08:00-10:00\\nSat"\n',
        ["accounts[0].active_hours", r"'Mon 08:00-10:00\nSat'"],
    ),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_name_file_key_value_and_expectation(tmp_path: Path, name: str) -> None:
    text, parts = ERRORS[name]
    path = write(tmp_path, text)

    error = load_error(path)

    message = str(error)
    assert message.startswith(f"{path}: ")
    for part in parts:
        assert part in message
    assert "\n" not in message and "\r" not in message
    assert error.path == path


def test_suggestions_only_for_near_misses(tmp_path: Path) -> None:
    near = str(load_error(write(tmp_path, MASTODON + 'color = "cyna"\n')))
    assert "accounts[0].color: got 'cyna'; did you mean 'cyan'?" in near
    # 'BST' is not a near miss of any zone name: a suggestion would mislead.
    far = str(load_error(write(tmp_path, MASTODON + 'timezone = "BST"\n')))
    assert "did you mean" not in far


def test_error_attributes_name_the_key(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, MASTODON + 'reply_within = "soon"\n'))
    assert error.key == "accounts[0].reply_within"
    assert "got 'soon'" in error.message


def test_zero_duration_is_refused(tmp_path: Path) -> None:
    # Whatever parse_duration makes of "0s", a zero poll interval would hammer the server.
    error = load_error(write(tmp_path, '[team]\npoll_interval = "0s"\n'))
    assert "team.poll_interval" in str(error) and "got '0s'" in str(error)


def test_long_values_are_shortened(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, f'[team]\nretention = "{"x" * 500}"\n'))
    assert "'xxxx" in str(error) and "..." in str(error)
    assert "x" * 100 not in str(error)


def test_second_account_errors_use_zero_based_index(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, MASTODON + BLUESKY + 'max_quiet = "4x"\n'))
    assert "accounts[1].max_quiet" in str(error)


def test_a_missing_file_says_where_configs_are_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    missing = tmp_path / "nope.toml"

    message = str(load_error(missing))

    assert message.startswith(f"{missing}: does not exist")
    assert "--config PATH" in message
    assert "$SOCIALTUI_CONFIG (unset)" in message
    assert str(tmp_path / "xdg" / "socialtui" / "config.toml") in message
    assert "\n" not in message


def test_a_config_writable_by_others_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, MASTODON)
    path.chmod(0o666)
    message = str(load_error(path))
    assert "writable by other users (mode 0666)" in message
    assert f"chmod o-w {path}" in message


def test_a_directory_is_not_a_config(tmp_path: Path) -> None:
    assert "is a directory" in str(load_error(tmp_path))


def test_invalid_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[team]\ntimezone = "\xff"\n')
    assert "is not UTF-8" in str(load_error(path))


@pytest.mark.parametrize("key", ["token", "access_token", "password", "app_password", "Token"])
def test_secrets_in_the_config_are_refused_without_echoing_them(tmp_path: Path, key: str) -> None:
    message = str(load_error(write(tmp_path, MASTODON + f'{key} = "s3cr3t-value"\n')))
    assert f"accounts[0].{key}" in message
    assert "refused: secrets never live in the config" in message
    assert "token_env or token_file" in message
    assert "s3cr3t-value" not in message


def test_bluesky_secret_in_the_config_points_to_app_password_keys(tmp_path: Path) -> None:
    message = str(load_error(write(tmp_path, BLUESKY + 'app_password = "abcd-efgh-ijkl-mnop"\n')))
    assert "accounts[0].app_password" in message
    assert "app_password_env or app_password_file" in message
    assert "abcd-efgh" not in message


def test_a_secret_pasted_into_token_env_is_not_echoed(tmp_path: Path) -> None:
    text = MASTODON.replace('"ACME_TOKEN"', '"Zq-9s3cr3t/tok3n+value="')
    message = str(load_error(write(tmp_path, text)))
    assert "accounts[0].token_env" in message
    assert "not an environment variable name" in message
    assert "s3cr3t" not in message


def test_credentials_in_the_server_url_are_not_echoed(tmp_path: Path) -> None:
    text = MASTODON.replace("https://mastodon.social", "https://acme:hunter2@mastodon.social")
    message = str(load_error(write(tmp_path, text)))
    assert "accounts[0].server" in message and "refused" in message
    assert "hunter2" not in message


def test_config_error_is_one_line_whatever_it_is_given() -> None:
    error = ConfigError("/etc/socialtui/config.toml", "team.retention", "got 'x'\nexpected\r\n\x1b[31mred")
    assert str(error) == r"/etc/socialtui/config.toml: team.retention: got 'x' expected  \x1b[31mred"
    assert "\n" not in str(error)
    assert str(ConfigError("c.toml", "", "does not exist")) == "c.toml: does not exist"
    assert issubclass(SecretError, ConfigError)


# --- where the config is ------------------------------------------------------------------------


def test_resolve_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    assert resolve_config_path(None) == home / ".config" / "socialtui" / "config.toml"

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert resolve_config_path(None) == tmp_path / "xdg" / "socialtui" / "config.toml"

    monkeypatch.setenv("SOCIALTUI_CONFIG", str(tmp_path / "env.toml"))
    assert resolve_config_path(None) == tmp_path / "env.toml"
    assert resolve_config_path("") == tmp_path / "env.toml"

    assert resolve_config_path(str(tmp_path / "arg.toml")) == tmp_path / "arg.toml"
    assert resolve_config_path("~/mine.toml") == home / "mine.toml"


def test_resolve_ignores_a_relative_xdg_config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The XDG spec: relative paths in these variables are invalid and ignored.
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")
    assert resolve_config_path(None) == tmp_path / "home" / ".config" / "socialtui" / "config.toml"


def test_env_config_expands_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALTUI_CONFIG", "~/team.toml")
    assert resolve_config_path(None) == tmp_path / "home" / "team.toml"


def test_relative_paths_are_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path,
        '[team]\ndata_dir = "data"\n'
        + MASTODON.replace('token_env = "ACME_TOKEN"', 'token_file = "secrets/acme.token"'),
        name="etc/config.toml",
    )
    monkeypatch.chdir(tmp_path)  # a relative config path is made absolute too

    config = load_config(Path("etc/config.toml"))

    assert config.path == path
    assert config.team.data_dir == tmp_path / "etc" / "data"
    assert config.accounts[0].token_file == str(tmp_path / "etc" / "secrets" / "acme.token")


def test_home_paths_expand(tmp_path: Path) -> None:
    text = '[team]\ndata_dir = "~/social"\n' + MASTODON.replace(
        'token_env = "ACME_TOKEN"', 'token_file = "~/.acme.token"'
    )
    config = load_config(write(tmp_path, text))
    assert config.team.data_dir == tmp_path / "home" / "social"
    assert config.accounts[0].token_file == str(tmp_path / "home" / ".acme.token")


# --- secrets --------------------------------------------------------------------------------------


def file_account(tmp_path: Path, secret: Path, network: str = "mastodon") -> AccountConfig:
    """Load a one-account config whose secret is in `secret`."""
    if network == "mastodon":
        text = MASTODON.replace('token_env = "ACME_TOKEN"', f'token_file = "{secret}"')
    else:
        text = BLUESKY.replace('app_password_env = "ACME_APP_PASSWORD"', f'app_password_file = "{secret}"')
    return load_config(write(tmp_path, text)).accounts[0]


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o400])
def test_secret_files_for_owner_and_group_are_read(tmp_path: Path, mode: int) -> None:
    token = secret_file(tmp_path, "  tok-123\n", mode)
    assert read_secret(file_account(tmp_path, token)) == "tok-123"


def test_bluesky_app_password_file(tmp_path: Path) -> None:
    token = secret_file(tmp_path, "abcd-efgh-ijkl-mnop\n", 0o600)
    account = file_account(tmp_path, token, network="bluesky")
    assert account.app_password_file == str(token)
    assert read_secret(account) == "abcd-efgh-ijkl-mnop"


def test_a_world_readable_secret_file_is_refused_when_read(tmp_path: Path) -> None:
    token = secret_file(tmp_path, "tok-123", 0o600)
    account = file_account(tmp_path, token)
    token.chmod(0o644)

    with pytest.raises(SecretError) as info:
        read_secret(account)

    message = str(info.value)
    assert f"refused: {token} is readable by other users (mode 0644); run chmod 640 {token}" in message
    assert message.startswith(f"{tmp_path / 'config.toml'}: accounts[0].token_file: ")
    assert "tok-123" not in message


def test_a_world_readable_secret_file_is_refused_at_load(tmp_path: Path) -> None:
    token = secret_file(tmp_path, "tok-123", 0o644)
    with pytest.raises(SecretError) as info:
        file_account(tmp_path, token)
    assert "accounts[0].token_file" in str(info.value)
    assert f"readable by other users (mode 0644); run chmod 640 {token}" in str(info.value)


def test_other_access_bits_are_refused_too(tmp_path: Path) -> None:
    token = secret_file(tmp_path, "tok-123", 0o602)
    with pytest.raises(SecretError) as info:
        file_account(tmp_path, token)
    assert "accessible by other users (mode 0602); run chmod 600" in str(info.value)


def test_a_missing_secret_file_loads_but_cannot_be_read(tmp_path: Path) -> None:
    account = file_account(tmp_path, tmp_path / "later.token")  # login writes it later

    with pytest.raises(SecretError) as info:
        read_secret(account)

    assert f"{tmp_path / 'later.token'} does not exist" in str(info.value)
    assert "accounts[0].token_file" in str(info.value)


def test_an_empty_secret_file_is_refused(tmp_path: Path) -> None:
    account = file_account(tmp_path, secret_file(tmp_path, " \n", 0o600))
    with pytest.raises(SecretError, match="is empty; expected it to hold the access token"):
        read_secret(account)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_secret_file_is_refused(tmp_path: Path) -> None:
    token = secret_file(tmp_path, "tok", 0o600)
    account = file_account(tmp_path, token)
    token.chmod(0o000)
    try:
        with pytest.raises(SecretError, match="cannot be read"):
            read_secret(account)
    finally:
        token.chmod(0o600)


def test_env_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    account = load_config(write(tmp_path, MASTODON)).accounts[0]

    with pytest.raises(SecretError) as info:
        read_secret(account)
    assert "accounts[0].token_env: environment variable ACME_TOKEN is not set" in str(info.value)

    monkeypatch.setenv("ACME_TOKEN", "   ")
    with pytest.raises(SecretError, match="ACME_TOKEN is empty; expected it to hold the access token"):
        read_secret(account)

    monkeypatch.setenv("ACME_TOKEN", " tok-456\n")
    assert read_secret(account) == "tok-456"


def test_env_secret_for_bluesky(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    account = load_config(write(tmp_path, BLUESKY)).accounts[0]
    monkeypatch.setenv("ACME_APP_PASSWORD", "abcd-efgh-ijkl-mnop")
    assert read_secret(account) == "abcd-efgh-ijkl-mnop"


def test_the_store_is_a_postgresql_url_without_a_password(tmp_path: Path) -> None:
    ok = load_config(
        write(tmp_path, '[team]\nstore = "postgresql:///socialtui"\nstore_password_env = "PGPW"\n')
    )
    assert ok.team.store == "postgresql:///socialtui" and ok.team.store_password_env == "PGPW"
    with pytest.raises(ConfigError, match="holds a password") as caught:
        load_config(write(tmp_path, '[team]\nstore = "postgresql://u:s3cret@db/socialtui"\n'))
    assert "s3cret" not in str(caught.value)
    with pytest.raises(ConfigError, match="not a store socialtui knows"):
        load_config(write(tmp_path, '[team]\nstore = "mysql://db/socialtui"\n'))


# --- listening and tone --------------------------------------------------------------------------


def test_listening_and_tone_keys(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
[team]
negative_first = true
[tone]
negative = ["kaputt*", "reembolso", "kaputt*"]
positive = ["danke"]
"""
            + MASTODON
            + """
listen = ["acme bikes", "#acmebikes", "acme.example.com", "acme bikes"]
listen_every = "10m"
reply_within_talk = "4h"
"""
            + BLUESKY,
        )
    )
    assert config.team.negative_first is True
    assert config.tone.negative == ("kaputt*", "reembolso")  # duplicates dropped
    assert config.tone.positive == ("danke",)
    acme = config.account("acme")
    assert acme.listen == ("acme bikes", "#acmebikes", "acme.example.com")
    assert acme.listen_every == timedelta(minutes=10)
    assert acme.reply_within_talk == timedelta(hours=4)
    bsky = config.account("acme-bsky")
    assert (bsky.listen, bsky.listen_every, bsky.reply_within_talk) == ((), timedelta(minutes=5), None)
    assert config.team.negative_first is True


def test_the_example_config_listens() -> None:
    config = load_config(REPO / "config.example.toml")
    assert config.account("acme-mastodon").listen
    assert "refund" in config.tone.negative
    assert config.team.negative_first is False


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        (MASTODON + 'listen = "acme"\n', "accounts[0].listen", "an array of strings"),
        (MASTODON + 'listen = ["ok", 3]\n', "accounts[0].listen[1]", "expected a watch term"),
        (MASTODON + 'listen = ["ok", "  "]\n', "accounts[0].listen[1]", "expected a watch term"),
        (MASTODON + 'listen = ["#acme bikes"]\n', "accounts[0].listen[0]", "a hashtag like"),
        (MASTODON + 'listen = ["a\\u001bb"]\n', "accounts[0].listen[0]", "expected a watch term"),
        (MASTODON + 'listen_every = "0m"\n', "accounts[0].listen_every", "a positive duration"),
        (MASTODON + "listen_every = 300\n", "accounts[0].listen_every", "quoted string"),
        (MASTODON + 'reply_within_talk = "soon"\n', "accounts[0].reply_within_talk", "a duration"),
        (MASTODON + "listn = []\n", "accounts[0].listn", "did you mean 'listen'?"),
        ('[team]\nnegative_first = "yes"\n', "team.negative_first", "true or false"),
        ('[tone]\nnegative = "refund"\n', "tone.negative", "an array of strings"),
        ("[tone]\nnegative = [1]\n", "tone.negative[0]", "a word or phrase"),
        ('[tone]\nnegativ = ["x"]\n', "tone.negativ", "did you mean 'negative'?"),
        ('tone = "x"\n', "tone", "a table"),
    ],
)
def test_listening_and_tone_errors_name_file_and_key(tmp_path: Path, text: str, key: str, words: str) -> None:
    path = write(tmp_path, text)
    error = load_error(path)
    assert error.key == key
    assert str(error).startswith(f"{path}: {key}: ")
    assert words in str(error)


def test_too_many_watch_terms(tmp_path: Path) -> None:
    terms = ", ".join(f'"term{n}"' for n in range(21))
    error = load_error(write(tmp_path, MASTODON + f"listen = [{terms}]\n"))
    assert error.key == "accounts[0].listen"
    assert "at most 20" in str(error)
