import os
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

# Test modules share helpers through tests/cliutil.py; make it importable from every subfolder.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cliutil import REPO  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402

# Property tests draw the same examples on every run, so a run is reproducible and CI cannot fail
# by chance; HYPOTHESIS_PROFILE=explore draws new ones each time (and remembers failures).
hypothesis_settings.register_profile("repeatable", derandomize=True, database=None)
hypothesis_settings.register_profile("explore")
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


class Ran(NamedTuple):
    """What a run of cmp-render gave; also readable as a subprocess.CompletedProcess."""
    code: int
    out: str
    err: str

    returncode = property(lambda self: self.code)
    stdout = property(lambda self: self.out)
    stderr = property(lambda self: self.err)


@pytest.fixture
def cli(monkeypatch, capsys):
    """cmp-render in this process, from the checkout, without platform settings or Vault variables:
    `cli("check", path)` returns Ran(exit code, stdout, stderr)."""
    for key in list(os.environ):
        if key.startswith(("CMP_", "VAULT_", "AVP_", "ARGOCD_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(REPO)
    from cmp_plugin import cli as command_line

    def run(*args) -> Ran:
        capsys.readouterr()
        try:
            code = command_line.main([str(a) for a in args])
        except SystemExit as exit:  # usage errors leave through argparse, as in a real process
            code = exit.code
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return run
