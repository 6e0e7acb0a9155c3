"""The example GitHub workflows (examples/github-actions/) are valid workflows."""

import subprocess
import sys

from cliutil import REPO

WORKFLOWS = sorted((REPO / "examples" / "github-actions").glob("*.yaml"))


def test_every_example_workflow_is_a_valid_github_workflow():
    """check-jsonschema ships GitHub's workflow schema: no network needed. One run checks them all."""
    assert {w.name for w in WORKFLOWS} >= {"update-config.yaml", "review-projects.yaml"}
    run = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                          *map(str, WORKFLOWS)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
