"""Files in the shared data dir: nothing planted there (a symlink, a hard link, a FIFO) is followed or
written through, and the secrets' directories are checked. Run as root, "another user"
is a file or directory chowned to uid 65534; the two-operator test forks and drops to two uids."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from socialtui.cli import main
from socialtui.model import Actor, Author, Item, Post, item_id
from socialtui.sandbox import World, write_config
from socialtui.store import Store, StoreError, StoreWriteFailed
from socialtui.store.safefile import ensure_dir, open_shared, read_bytes, write_atomic
from socialtui.store.sessions import FileSessionStore
from socialtui.sync import account_lease as Lease

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ALICE = Actor("alice", "Alice")
BOB = Actor("bob", "Bob")
NOBODY = 65534
TEAM_GID = 12345

needs_root = pytest.mark.skipif(
    os.getuid() != 0, reason="plays other users with chown and setuid: needs root"
)


def make_item(n: int) -> Item:
    author = Author("mastodon", f"person{n}@example.org", str(n), f"Person {n}")
    post = Post("acme-mastodon", f"{n:020d}", author, f"question {n}", NOW - timedelta(minutes=n))
    return Item(item_id("acme-mastodon", post.remote_id), "acme-mastodon", "mention", post)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file outside the data dir that a planted link points at: it must stay as it is."""
    path = tmp_path / "outside" / "precious"
    path.parent.mkdir()
    path.write_bytes(b"not yours\n")
    path.chmod(0o644)
    return path


def assert_untouched(path: Path) -> None:
    assert path.read_bytes() == b"not yours\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


# -- planted symbolic links ---------------------------------------------------------------------------


STATES = "tables/states/acme-mastodon.json"  # the account's partition of the table
STATES_LOCK = "tables/states.lock"


@pytest.mark.parametrize(
    "name", [STATES, STATES_LOCK, "tables/items/acme-mastodon.2026-11-21.json", "tables/items.lock"]
)
def test_a_symlink_planted_at_a_store_file_is_refused(tmp_path: Path, outside: Path, name: str) -> None:
    data = tmp_path / "data"
    Store(data).put_items([make_item(1)])
    Store(data).mark_done(make_item(1), "spam", ALICE, NOW)
    (data / name).unlink()
    (data / name).symlink_to(outside)
    store = Store(data)
    with pytest.raises(StoreError, match="symbolic link"):
        store.put_items([make_item(2)])
        store.mark_done(make_item(2), "spam", ALICE, NOW)
    assert_untouched(outside)


@pytest.mark.parametrize("name", ["tables/states", "tables/items", "tables"])
def test_a_symlink_planted_at_a_table_directory_is_refused(tmp_path: Path, name: str) -> None:
    data = tmp_path / "data"
    Store(data).put_items([make_item(1)])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (data / name).rename(elsewhere / "moved")
    (data / name).symlink_to(elsewhere / "moved")
    before = sorted(p.name for p in (elsewhere / "moved").rglob("*"))
    with pytest.raises(StoreError, match="symbolic link"):
        store = Store(data)
        store.put_items([make_item(2)])
        store.mark_done(make_item(2), "spam", ALICE, NOW)
    assert sorted(p.name for p in (elsewhere / "moved").rglob("*")) == before


def test_a_symlink_planted_at_an_old_file_before_the_upgrade_is_refused(
    tmp_path: Path, outside: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "ops.json").symlink_to(outside)
    with pytest.raises(StoreError, match="symbolic link"):
        Store(data).states()
    assert_untouched(outside)
    assert not (data / "store.json").exists(), "nothing upgraded"


def test_a_symlink_planted_at_the_audit_trail_is_refused(tmp_path: Path, outside: Path) -> None:
    data = tmp_path / "data"
    Store(data)
    (data / "audit.jsonl").symlink_to(outside)
    with pytest.raises(StoreError, match="symbolic link"):
        Store(data).mark_done(make_item(1), "spam", ALICE, NOW)
    assert_untouched(outside)


def test_a_symlink_planted_at_a_lease_is_refused(tmp_path: Path, outside: Path) -> None:
    store = Store(tmp_path / "data")
    (store.private_dir("leases") / "acme-mastodon.lock").symlink_to(outside)
    with pytest.raises(StoreError, match="symbolic link"):
        Lease(store, "acme-mastodon").try_acquire()
    assert_untouched(outside)


def test_a_symlink_planted_at_a_session_is_refused(tmp_path: Path, outside: Path) -> None:
    store = Store(tmp_path / "data")
    sessions = FileSessionStore(store, "acme-bluesky")
    sessions.path.symlink_to(outside)
    with pytest.raises(StoreError, match="symbolic link"):
        sessions.load()
    with pytest.raises(StoreError, match="symbolic link"):
        sessions.save({"accessJwt": "secret"})
    assert_untouched(outside)
    sessions.path.unlink()
    (sessions.path.parent / "acme-bluesky.lock").symlink_to(outside)
    with pytest.raises(StoreError, match="symbolic link"), sessions.locked():
        pass
    assert_untouched(outside)


def test_a_session_is_saved_with_its_mode_and_read_back(tmp_path: Path) -> None:
    sessions = FileSessionStore(Store(tmp_path / "data"), "acme-bluesky")
    assert sessions.load() is None
    sessions.save({"accessJwt": "a", "refreshJwt": "r"})
    assert sessions.load() == {"accessJwt": "a", "refreshJwt": "r"}
    assert stat.S_IMODE(sessions.path.stat().st_mode) == 0o660


# -- hard links, FIFOs, directories, other users' files --------------------------------------------------


def test_a_hard_link_planted_at_the_lock_file_is_refused(tmp_path: Path, outside: Path) -> None:
    data = tmp_path / "data"
    Store(data).put_items([make_item(9)])  # the store's files are there
    os.link(outside, data / STATES_LOCK)
    with pytest.raises(StoreError, match="hard link"):
        Store(data).mark_done(make_item(1), "spam", ALICE, NOW)
    assert_untouched(outside)


def test_a_hard_link_planted_at_a_store_file_is_refused(tmp_path: Path, outside: Path) -> None:
    data = tmp_path / "data"
    Store(data).put_items([make_item(9)])  # the store's files are there
    os.link(outside, data / STATES)
    with pytest.raises(StoreError, match="hard link"):
        Store(data).states()
    assert_untouched(outside)


@pytest.mark.parametrize("name", [STATES_LOCK, "audit.jsonl", STATES])
def test_a_fifo_at_a_store_path_is_refused_without_hanging(tmp_path: Path, name: str) -> None:
    data = tmp_path / "data"
    Store(data).put_items([make_item(9)])  # the store's files are there
    os.mkfifo(data / name)  # opening a FIFO to write blocks until a reader comes: never here
    with pytest.raises(StoreError, match="not a regular file"):
        Store(data).mark_done(make_item(1), "spam", ALICE, NOW)


def test_a_directory_at_a_store_path_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    Store(data).put_items([make_item(9)])  # the store's files are there
    (data / STATES).mkdir()
    with pytest.raises(StoreError, match="not a regular file"):
        Store(data).states()
    (data / STATES).rmdir()
    (data / STATES_LOCK).mkdir()
    with pytest.raises(StoreError, match="not a regular file"):
        Store(data).mark_done(make_item(1), "spam", ALICE, NOW)


@needs_root
def test_a_teammates_file_is_used_as_it_is(tmp_path: Path) -> None:
    data = tmp_path / "data"
    lock = data / "x.lock"
    ensure_dir(data)
    lock.touch(mode=0o640)
    os.chown(lock, NOBODY, data.stat().st_gid)  # another operator's, in the data dir's group
    os.close(open_shared(lock, os.O_RDWR))
    st = lock.stat()
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (NOBODY, 0o640), "not ours: not chmod-ed"
    os.chown(lock, NOBODY, NOBODY)  # someone outside the group
    with pytest.raises(StoreError, match="another user"):
        open_shared(lock, os.O_RDWR)
    with pytest.raises(StoreError, match="another user"):
        read_bytes(lock)


@needs_root
def test_two_operators_save_over_each_others_files(tmp_path: Path) -> None:
    """Operators replace the files a teammate wrote: the data dir must not be sticky, or the second
    save fails with EPERM (a sticky dir lets only a file's owner rename over it)."""
    base = Path(tempfile.mkdtemp(prefix="socialtui-team-"))  # tmp_path is root-only (0700)
    try:
        base.chmod(0o755)
        data = base / "data"
        Store(data)
        os.chown(data, 0, TEAM_GID)
        run_as(NOBODY, lambda: Store(data).put_items([make_item(1), make_item(2)]))
        run_as(NOBODY - 1, lambda: Store(data).mark_done(make_item(1), "spam", BOB, NOW))
        run_as(NOBODY, lambda: Store(data).mark_done(make_item(2), "thanked", ALICE, NOW))
        assert set(Store(data).states()) == {make_item(1).id, make_item(2).id}
        assert stat.S_IMODE(data.stat().st_mode) & 0o1000 == 0
    finally:
        for path in sorted(base.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        base.rmdir()


def run_as(uid: int, action: Callable[[], object]) -> None:
    """Run `action` in a forked child as `uid` in the team's group; fail with the child's traceback."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read_end)
        try:
            os.setgroups([TEAM_GID])
            os.setgid(TEAM_GID)
            os.setuid(uid)
            action()
            os._exit(0)
        except BaseException:
            os.write(write_end, traceback.format_exc().encode())
            os._exit(1)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as fh:
        error = fh.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, error


# -- directories ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_ensure_dir_makes_a_group_shared_dir_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        ensure_dir(tmp_path / "a" / "data")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a" / "data").stat().st_mode) == 0o2770


def test_ensure_dir_refuses_a_symlink_or_a_file(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o755)
    (tmp_path / "data").symlink_to(elsewhere)
    with pytest.raises(StoreError, match="symbolic link"):
        Store(tmp_path / "data")
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o755
    (tmp_path / "dangling").symlink_to(tmp_path / "nothing")
    with pytest.raises(StoreError, match="symbolic link"):
        ensure_dir(tmp_path / "dangling")
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match="not a directory"):
        ensure_dir(tmp_path / "file")


@needs_root
def test_ensure_dir_leaves_another_users_dir_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o750)
    os.chown(shared, NOBODY, NOBODY)
    ensure_dir(shared)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o750


# -- write_atomic -----------------------------------------------------------------------------------------


def test_write_atomic_on_a_full_disk_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "secret"
    write_atomic(path, b"old", 0o600)

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(StoreWriteFailed, match="the disk is full; nothing was changed"):
        write_atomic(path, b"new", 0o600)
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["secret"], "no temp file left behind"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_write_atomic_refuses_a_symlink_or_a_directory(tmp_path: Path, outside: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(outside)
    with pytest.raises(StoreError, match="symbolic link"):
        write_atomic(link, b"x")
    assert link.is_symlink()
    assert_untouched(outside)
    (tmp_path / "dir").mkdir()
    with pytest.raises(StoreError, match="not a regular file"):
        write_atomic(tmp_path / "dir", b"x")


# -- the sandbox's --write-config ---------------------------------------------------------------------


def test_write_config_refuses_a_world_writable_dir(tmp_path: Path) -> None:
    shared = tmp_path / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp: anyone could plant or swap files there
    with pytest.raises(StoreError, match="writable by every user"):
        write_config(World(), shared / "config.toml", "http://127.0.0.1:9")
    assert list(shared.iterdir()) == [], "nothing written"


@needs_root
def test_write_config_refuses_another_users_dir(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, NOBODY, NOBODY)
    with pytest.raises(StoreError, match="another user"):
        write_config(World(), theirs / "config.toml", "http://127.0.0.1:9")
    assert list(theirs.iterdir()) == []


def test_write_config_refuses_a_symlinked_dir(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(StoreError, match="symbolic link"):
        write_config(World(), tmp_path / "link" / "config.toml", "http://127.0.0.1:9")
    assert list(real.iterdir()) == []


def test_write_config_accepts_our_group_writable_dir(tmp_path: Path) -> None:
    ours = tmp_path / "team"
    ours.mkdir()
    ours.chmod(0o2770)  # the operators may write here: they share these secrets anyway
    path = write_config(World(), ours / "config.toml", "http://127.0.0.1:9")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE((ours / "acme-mastodon.token").stat().st_mode) == 0o600


def test_sandbox_write_config_says_why_it_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shared = tmp_path / "tmp"
    shared.mkdir()
    shared.chmod(0o777)
    assert main(["sandbox", "--port", "0", "--quiet", "--write-config", str(shared / "config.toml")]) == 1
    assert "writable by every user" in capsys.readouterr().err
    assert list(shared.iterdir()) == []
