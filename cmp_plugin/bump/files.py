"""The project file: where it may lead, its lock, its text and its atomic replacement.

A symbolic link (of the file or of a directory on its path) is followed only while it stays in the
file's repository: the git work tree holding it, or without one, the file's directory.

Concurrency: the whole read-check-write runs under an exclusive `flock` on the project file
itself. The write replaces the file (temp file in the same directory, fsync, `os.replace`), so
the locked inode is retired by every write; a waiter that gets the lock therefore checks that
the path still names the inode it locked and, if not, opens the new file and locks again. No
stray lock file is left in the gitops checkout.

Reading is the loader's (`cmp_plugin.load`): the same size cap, UTF-8 check and messages.
"""

from __future__ import annotations

import fcntl
import os
import stat
import tempfile
import time

from cmp_plugin import load
from cmp_plugin.bump.policy import BumpError
from cmp_plugin.problems import Problem


def _problem(display: str, message: str) -> BumpError:
    return BumpError(Problem(display, 0, 0, "", message))


def reason(exc: OSError) -> str:
    """What the system says went wrong, never the exception's text."""
    return exc.strerror or type(exc).__name__


def check_inside_repository(path: str, real: str, display: str) -> None:
    """Refuse a file that resolves (through a symbolic link, of the file or of a directory) to a
    place outside its repository: the git work tree holding `path` (the nearest directory above it
    with a `.git`), or without one, the file's own directory."""
    start = os.path.dirname(os.path.abspath(path))
    root = start
    while not os.path.lexists(os.path.join(root, ".git")):
        parent = os.path.dirname(root)
        if parent == root:
            root = start
            break
        root = parent
    root = os.path.realpath(root)
    if os.path.commonpath([root, real]) != root:
        raise _problem(display, f"leads outside its repository {root} (to {real}); "
                                "refusing to edit it, nothing was written")


def check_regular(real: str, display: str) -> None:
    """Refuse what is not a regular file before waiting for a lock on it."""
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        raise _problem(display, "no such file") from None
    except OSError as exc:
        raise BumpError(load.io_problem(display, reason(exc))) from None
    if not stat.S_ISREG(mode):
        raise _problem(display, "not a regular file")


def _wait_for_lock(fd: int, display: str, deadline: float, timeout: float) -> None:
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise _problem(display, f"gave up after {timeout:g}s waiting for another bump of this file") from None
            time.sleep(0.005)


def lock(real: str, display: str, timeout: float) -> int:
    """An fd of the current file at `real`, exclusively flocked; retries if the file was replaced."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(real, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise _problem(display, "no such file") from None
        except OSError as exc:
            raise BumpError(load.io_problem(display, reason(exc))) from None
        keep = False
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise _problem(display, "not a regular file")
            _wait_for_lock(fd, display, deadline, timeout)
            try:
                now = os.stat(real)
            except FileNotFoundError:
                raise _problem(display, "no such file (removed while waiting)") from None
            if (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):
                keep = True
                return fd
            # Another bump replaced the file while we waited: lock the new one.
        finally:
            if not keep:
                os.close(fd)


def read(fd: int, display: str) -> str:
    """The text of the locked file, as the loader reads it (size cap, UTF-8), byte-order mark kept."""
    data, problem = load.read_fd(fd, display)
    if problem is None:
        text, problem = load.decode(data, display)
    if problem is not None:
        raise BumpError(problem)
    return text


def write_atomic(real: str, data: bytes, like: os.stat_result) -> None:
    """Replace real with data: temp file beside it, same mode (and owner if allowed), fsync, rename."""
    directory, base = os.path.split(real)
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".bump", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), stat.S_IMODE(like.st_mode))
            if (like.st_uid, like.st_gid) != (os.geteuid(), os.getegid()):
                try:
                    os.fchown(fh.fileno(), like.st_uid, like.st_gid)
                except OSError:
                    pass
            os.fsync(fh.fileno())
        os.replace(tmp, real)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
