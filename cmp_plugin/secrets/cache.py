"""Vault token cache shared by the sidecar's runs, so a run with a valid token needs no login.

One file per (address, namespace, auth method, mount, role or role_id[, JWT file]), named by
the sha256 of that key, mode 0600 in a directory mode 0700. The directory and every parent
must be owned by us or root and not writable by others unless sticky (like /tmp);
otherwise the cache is not used at all (we log why and log in as if it were empty).
Files are replaced atomically, so concurrent runs (Argo CD runs them in parallel) never see
half a file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import tempfile

log = logging.getLogger("cmp_plugin.secrets")


def _safe_dir(path: str) -> bool:
    uid = os.geteuid()
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError as exc:
        log.warning("Vault token cache disabled: cannot create %s (%s)", path, exc.strerror)
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or st.st_mode & 0o077:
        log.warning("Vault token cache disabled: %s must be a directory owned by uid %d with mode 0700", path, uid)
        return False
    parent = os.path.dirname(os.path.realpath(path))
    while True:
        try:
            st = os.lstat(parent)
        except OSError:
            return False
        writable = st.st_mode & 0o022
        if st.st_uid not in (uid, 0) or (writable and not st.st_mode & stat.S_ISVTX):
            log.warning("Vault token cache disabled: %s is not a safe parent directory", parent)
            return False
        if parent == os.path.dirname(parent):
            return True
        parent = os.path.dirname(parent)


class TokenCache:
    def __init__(self, directory: str, key: tuple[str, ...]):
        self.directory = directory
        name = hashlib.sha256(json.dumps(list(key)).encode()).hexdigest()
        self.file = os.path.join(directory, name + ".json")
        self._usable: bool | None = None

    def usable(self) -> bool:
        if self._usable is None:
            self._usable = _safe_dir(self.directory)
        return self._usable

    def load(self, now: float, margin: float) -> str | None:
        """A cached token still valid `margin` seconds from now, else None."""
        if not self.usable():
            return None
        try:
            fd = os.open(self.file, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if st.st_uid != os.geteuid() or st.st_mode & 0o077 or not stat.S_ISREG(st.st_mode):
                log.warning("Vault token cache: ignoring %s (wrong owner or mode)", self.file)
                return None
            with os.fdopen(fd, "rb", closefd=False) as fh:
                entry = json.loads(fh.read(65536))
        except (OSError, ValueError):
            return None
        finally:
            os.close(fd)
        token, expires = entry.get("token"), entry.get("expires_at")
        if not isinstance(token, str) or not token:
            return None
        if expires is not None and (not isinstance(expires, (int, float)) or expires - now < margin):
            return None
        return token

    def store(self, token: str, expires_at: float | None) -> None:
        if not self.usable():
            return
        try:
            fd, tmp = tempfile.mkstemp(prefix=".token-", dir=self.directory)  # mode 0600
            try:
                with os.fdopen(fd, "w") as fh:
                    json.dump({"token": token, "expires_at": expires_at}, fh)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.file)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as exc:
            log.warning("Vault token cache: cannot write %s (%s); the next run logs in again", self.file, exc.strerror)

    def drop(self) -> None:
        try:
            os.unlink(self.file)
        except OSError:
            pass
