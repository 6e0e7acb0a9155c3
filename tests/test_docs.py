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


STAGE_ROW = re.compile(r"^\| (\w+) \| `(cmp_plugin/[^`]*)` \| (.*) \|$", re.M)


def stage_rows(readme: str) -> list[tuple[str, str, str]]:
    return STAGE_ROW.findall(readme.split("## How it works", 1)[1].split("\n## ", 1)[0])


def test_readme_stage_table_names_files_that_exist():
    rows = stage_rows((REPO / "README.md").read_text())
    assert [stage for stage, _, _ in rows] == ["load", "validate", "model", "render", "secrets", "check", "emit"]
    for stage, where, what in rows:
        assert (REPO / where).exists(), f"{stage}: {where} does not exist"
        home = REPO / where if where.endswith("/") else (REPO / where).parent
        for name in re.findall(r"`([\w.]+\.(?:py|json))`", what):
            assert (home / name).exists() or (REPO / "cmp_plugin" / name).exists(), f"{stage}: {name} does not exist"


def test_readme_names_every_template_directory():
    readme = (REPO / "README.md").read_text()
    named = re.search(r"`render/templates/\{([\w,]+)\}/`", readme).group(1).split(",")
    on_disk = [p.name for p in (REPO / "cmp_plugin" / "render" / "templates").iterdir() if p.is_dir()]
    assert sorted(named) == sorted(on_disk)


def test_readme_cli_block_is_the_usage_text():
    from cmp_plugin.cli import USAGE

    assert f"## CLI\n\n```\n{USAGE}\n```\n" in (REPO / "README.md").read_text()
