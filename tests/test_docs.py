"""The README is part of the product: its commands and tables must say what the code does."""

import re

from cliutil import REPO
from cmp_plugin.settings import knobs_reference, settings_reference


def test_readme_settings_table_matches_the_code():
    assert settings_reference() in (REPO / "README.md").read_text()


def test_readme_knobs_table_matches_the_code():
    assert knobs_reference() in (REPO / "README.md").read_text()


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)\n```", readme, re.S)
    test_command = next(b for b in blocks if "pytest" in b)
    install, run = [part.strip() for part in test_command.split("&&")]
    ci = (REPO / ".ci" / "run").read_text()
    assert install.replace("python3 -m pip install", "python3 -m pip install --quiet --disable-pip-version-check") in ci
    assert run in ci.splitlines()


def test_readme_documents_every_template_directory_and_stage():
    readme = (REPO / "README.md").read_text()
    for stage in ("load", "validate", "render", "secrets", "check", "emit"):
        assert f"| {stage} |" in readme


def test_readme_cli_block_is_the_usage_text():
    from cmp_plugin.cli import USAGE

    assert f"## CLI\n\n```\n{USAGE}\n```\n" in (REPO / "README.md").read_text()
