"""Opening and writing files in a directory that other users can write to.

Every operator of the group may create files in the data dir, so any of them could plant a symbolic
link, a hard link or a FIFO where socialtui expects its own file. Nothing here follows a symbolic link
(`O_NOFOLLOW`), and a file is checked to be a plain file with one link, ours or a teammate's, before
anything is changed or written through it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from socialtui.store.engine import StoreError, StoreWriteFailed

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

FILE_MODE = 0o660
# setgid: every file stays with the operators' group. Not sticky: every operator replaces the store
# files that another wrote (an atomic write is a rename over the old file), which a sticky dir forbids.
DIR_MODE = 0o2770

_OPEN_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK  # NONBLOCK: a planted FIFO must not hang us


def ensure_dir(path: Path, mode: int = DIR_MODE) -> None:
    """Create the directory (and its parents) and give it `mode` if it is ours, never world bits.

    A symbolic link or anything but a directory at `path` is refused with StoreError.
    """
    try:
        path.mkdir(mode=mode, parents=True, exist_ok=True)
    except FileExistsError:
        pass  # a dangling symlink or a file: refused below
    except OSError as exc:
        raise StoreError(f"cannot create the directory {path}: {exc.strerror}") from exc
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except PermissionError:
        _lstat_dir(path)  # a directory we may only enter (no read): nothing to fix, but no link either
        return
    except OSError as exc:
        _lstat_dir(path)  # says why: a symbolic link, not a directory
        raise StoreError(f"cannot open the directory {path}: {exc.strerror}") from exc
    try:
        st = os.fstat(fd)
        current = stat.S_IMODE(st.st_mode)
        # Whatever the umask: the group (the operators) may create files here, others see nothing.
        wanted = (current | mode) & ~0o007
        if st.st_uid == os.getuid() and current != wanted:
            os.fchmod(fd, wanted)
    except OSError:
        pass  # a mode we cannot fix is no reason to stop; the files themselves are never world bits
    finally:
        os.close(fd)


def open_shared(path: Path, flags: int, mode: int = FILE_MODE) -> int:
    """Open (creating) a file that every operator in the group may use, and nobody else.

    Returns the descriptor. A symbolic link, a hard link, anything but a regular file, or a file of
    someone outside the directory's group is refused with StoreError before anything is written.
    """
    truncate = bool(flags & os.O_TRUNC)
    fd = _open(path, (flags & ~os.O_TRUNC) | os.O_CREAT, mode)
    try:
        st = _check(fd, path)
        if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) != mode:
            os.fchmod(fd, mode)
        if truncate:
            os.ftruncate(fd, 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_checked(path: Path) -> tuple[int, os.stat_result] | None:
    try:
        # Left non-blocking: a regular file ignores O_NONBLOCK, and anything else is refused below.
        # (Each system call lets another thread take the interpreter, and the dashboard's first look
        # reads hundreds of files while the screen is being built: every call saved counts.)
        fd = _open(path, os.O_RDONLY, 0, blocking=False)
    except FileNotFoundError:
        return None
    try:
        return fd, _check(fd, path, replaced_ok=True)
    except BaseException:
        os.close(fd)
        raise


def open_read(path: Path) -> int | None:
    """A descriptor to read the file from, or None if there is none; refused like `open_shared`."""
    opened = _open_checked(path)
    return opened[0] if opened is not None else None


def read_file(path: Path) -> tuple[os.stat_result, bytes] | None:
    """(the stat of the file read, its content), or None if there is none; refused like
    `open_shared` refuses. Read in one call when the file is the size its stat said."""
    opened = _open_checked(path)
    if opened is None:
        return None
    fd, st = opened
    try:
        chunks = []
        want = min(st.st_size + 1, 1 << 30)  # one more than the size: a short read is the end
        while chunk := os.read(fd, want):
            chunks.append(chunk)
            if len(chunk) < want:
                break
            want = 1 << 20
        return st, b"".join(chunks)
    finally:
        os.close(fd)


def read_bytes(path: Path) -> bytes | None:
    """The file's content, or None if there is none; refused like `open_shared` refuses."""
    found = read_file(path)
    return found[1] if found is not None else None


def write_atomic(
    path: Path, data: bytes, mode: int = FILE_MODE, mtime_ns: int | None = None, *, durable: bool = True
) -> None:
    """Replace the file with `data` at once: a reader or a crash only ever sees the old or the new.

    `durable=False`: no fsync, for a file that is only a cache of others (after a power cut it may
    be empty or old, which its readers must detect).

    `mtime_ns`: the new file's modification time (the store makes each version's greater than the
    last, so that readers tell versions apart by it).

    Raises StoreWriteFailed (nothing was changed) if it cannot, and StoreError if something other than
    a regular file (a symbolic link, a directory) is at `path`.
    """
    write_atomic_many([(path, data, mtime_ns)], mode, durable=durable)


def write_atomic_many(
    files: Sequence[tuple[Path, bytes, int | None]],
    mode: int = FILE_MODE,
    then: Callable[[], Callable[[], None] | None] | None = None,
    *,
    durable: bool = True,
) -> None:
    """Replace several files, each at once as `write_atomic` does, in the order given: every new
    file is written and made durable first (their fsyncs run together, so that the file system
    commits them in one go), then each replaces its old file in turn, then the directories are
    made durable. A crash leaves each file old or new, and the new ones a prefix of the order.

    `then`: called once the files are in place; what it returns (a sync of its own, the audit
    line's) runs together with the directories' and its error is raised.

    Raises StoreWriteFailed (nothing was changed) if a file cannot be written."""
    import tempfile  # only a writer needs it (with shutil, random...): a reading command never does

    for path, _, _ in files:
        _refuse_odd_target(path)
    pending: list[tuple[Path, str]] = []
    fds: list[int] = []
    try:
        try:
            for path, data, mtime_ns in files:
                fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
                fds.append(fd)
                pending.append((path, tmp))
                os.fchmod(fd, mode)
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                if mtime_ns is not None:
                    os.utime(fd, ns=(mtime_ns, mtime_ns))
            if durable:
                _together(os.fsync, fds)
        finally:
            for fd in fds:
                os.close(fd)
    except OSError as exc:
        for _, tmp in pending:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        failed = pending[-1][0] if pending else files[0][0]
        reason = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise StoreWriteFailed(f"could not save {failed}: {reason}; nothing was changed") from exc
    for n, (path, tmp) in enumerate(pending):
        try:
            os.replace(tmp, path)
        except OSError as exc:
            for _, left in pending[n:]:
                try:
                    os.unlink(left)
                except OSError:
                    pass
            if n == 0:
                raise StoreWriteFailed(f"could not save {path}: {exc.strerror}; nothing was changed") from exc
            raise StoreError(
                f"could not save {path} ({exc.strerror}) after saving the files before it"
            ) from exc
    finish = then() if then is not None else None
    directories = list(dict.fromkeys(path.parent for path, _ in pending))
    dir_fds: list[int] = []

    def sync_dirs() -> None:
        try:
            for directory in directories:
                dir_fds.append(os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
            _together(os.fsync, dir_fds)
        except OSError:
            pass  # the files are in place; only their durability across a power cut is less sure
        finally:
            for fd in dir_fds:
                os.close(fd)

    if not durable:
        if finish is not None:
            finish()
    elif finish is None:
        sync_dirs()
    else:
        _together(lambda call: call(), [sync_dirs, finish])


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _forget_pool() -> None:
    """In a forked child: the parent's threads are not there, so the pool is not either."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def _together(call: Callable[[Any], None], fds: Sequence[Any]) -> None:
    """`call(fd)` for each descriptor, at the same time (fsyncs issued together share a commit, and
    the device's flushes overlap: one after the other, an operator's action took three times as
    long alone). The calling thread makes the first call itself: on a busy machine each hand-over
    to a pool thread and back waited for a core (tens of ms of an operator's slowest actions
    beside fsync calls of a few), so it hands over only the others."""
    global _pool
    if len(fds) <= 1:
        for fd in fds:
            call(fd)
        return
    with _pool_lock:
        if _pool is None:
            from concurrent.futures import ThreadPoolExecutor  # writers only: readers never load it

            _pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="store-fsync")
    futures = [_pool.submit(call, fd) for fd in fds[1:]]
    try:
        call(fds[0])
    finally:
        for future in futures:  # every call done before the caller may close a descriptor
            future.exception()
    for future in futures:
        future.result()


def check_own_dir(path: Path) -> None:
    """Refuse (StoreError) a directory to write secrets into that someone else could meddle with: a
    symbolic link, another user's directory, or one that every user may write to. A directory of
    ours that our group may write to is fine: the group are the operators, who share the secrets."""
    st = _lstat_dir(path)
    if st.st_uid != os.getuid():
        raise StoreError(
            f"{path} belongs to another user; socialtui writes secrets only into a directory of yours"
        )
    if st.st_mode & stat.S_IWOTH:
        raise StoreError(f"{path} is writable by every user; secrets are not written there (chmod o-w it)")


def _lstat_dir(path: Path) -> os.stat_result:
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise StoreError(f"cannot use the directory {path}: {exc.strerror}") from exc
    if stat.S_ISLNK(st.st_mode):
        raise StoreError(f"{path} is a symbolic link; socialtui will not follow it. Give the real directory.")
    if not stat.S_ISDIR(st.st_mode):
        raise StoreError(f"{path} is not a directory; move it aside and run again")
    return st


def _open(path: Path, flags: int, mode: int, *, blocking: bool = True) -> int:
    try:
        fd = os.open(path, flags | _OPEN_FLAGS, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StoreError(
                f"{path} is a symbolic link; socialtui will not follow it. Remove it (and check who "
                "planted it) and run again."
            ) from exc
        if exc.errno in (errno.ENXIO, errno.EISDIR):
            raise StoreError(f"{path} is not a regular file; move it aside and run again") from exc
        raise
    if blocking:
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    return fd


def _check(fd: int, path: Path, replaced_ok: bool = False) -> os.stat_result:
    """The open file's stat, if it is a file socialtui may use; else StoreError.

    `replaced_ok`: a file that a writer replaced since we opened it (no link left) is still the
    whole version we opened, fine to read."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise StoreError(f"{path} is not a regular file; move it aside and run again")
    if st.st_nlink != 1 and not (replaced_ok and st.st_nlink == 0):
        raise StoreError(
            f"{path} has {st.st_nlink} hard links; socialtui will not write through a hard link to "
            "another file. Move it aside and run again."
        )
    if st.st_uid != os.getuid() and st.st_gid != os.stat(path.parent).st_gid:
        raise StoreError(f"{path} belongs to another user outside the group of {path.parent}; move it aside")
    return st


def _refuse_odd_target(path: Path) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreWriteFailed(f"could not save {path}: {exc.strerror}; nothing was changed") from exc
    if stat.S_ISLNK(st.st_mode):
        raise StoreError(
            f"{path} is a symbolic link; socialtui will not replace it. Remove it and run again."
        )
    if not stat.S_ISREG(st.st_mode):
        raise StoreError(f"{path} is not a regular file; move it aside and run again")
