"""What the benchmark scripts share."""

import io
import subprocess
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def checkout(rev: str, into: Path) -> Path:
    """cmp_plugin/ as it was at rev, unpacked under into (for a side-by-side "before")."""
    tar = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", rev, "cmp_plugin"],
                         capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        try:
            archive.extractall(into, filter="data")
        except TypeError:  # Python before 3.11.4: no filters (the archive is our own history)
            archive.extractall(into)  # noqa: S202
    return into
