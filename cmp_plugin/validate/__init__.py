"""Stage 2, validate: the project file against its JSON Schema, then the rules a schema cannot say."""

from __future__ import annotations

from cmp_plugin.load import Loaded
from cmp_plugin.problems import Problem
from cmp_plugin.settings import Settings
from cmp_plugin.validate import rules, schema


def validate(loaded: Loaded, project: str, settings: Settings) -> list[Problem]:
    """Every problem of a loaded project file, sorted by position."""
    found = list(loaded.problems)
    found += rules.project_problems(loaded, project, settings)
    if not loaded.problems:  # a file that did not parse has no value to check
        found += schema.problems(loaded)
        found += rules.data_problems(loaded, project, settings)
    return sorted(set(found))
