"""The whole run, stage by stage: load -> validate -> render -> secrets -> check -> emit."""

from __future__ import annotations

import os
from collections.abc import Mapping

from cmp_plugin import check as check_stage
from cmp_plugin import emit as emit_stage
from cmp_plugin import load as load_stage
from cmp_plugin import model
from cmp_plugin.naming import project_name
from cmp_plugin.problems import Failure, Problem
from cmp_plugin.settings import Settings, load_settings
from cmp_plugin.validate import validate


def load_project(path: str, project: str | None = None, settings: Settings | None = None,
                 display: str | None = None) -> model.Project:
    """Load and validate a project file; Failure carries every problem found."""
    settings = settings or load_settings()
    return _project(load_stage.load_file(path, display), project or project_name(path), settings)


def load_project_bytes(data: bytes, display: str, project: str, settings: Settings) -> model.Project:
    """load_project for a file's bytes read elsewhere (a git revision); problems name `display`."""
    return _project(load_stage.load_bytes(data, display), project, settings)


def _project(loaded, name: str, settings: Settings) -> model.Project:
    problems = validate(loaded, name, settings)
    if problems:
        raise Failure(problems)
    return model.build(loaded.value, name, settings)


def validate_text(text: str, filename: str, project: str | None = None,
                  settings: Settings | None = None) -> list[Problem]:
    """Problems of a project file's text, for tools that edit project files."""
    settings = settings or load_settings()
    loaded = load_stage.load_bytes(text.encode("utf-8"), filename)
    return validate(loaded, project or project_name(filename), settings)


def render_documents(project: model.Project, settings: Settings) -> list[dict]:
    from cmp_plugin import render

    return render.render(project, settings)


def manifests(proj: model.Project, settings: Settings) -> list[dict]:
    """The checked objects of a project, placeholders kept, in the platform's secrets mode."""
    docs = render_documents(proj, settings)
    operator = settings.secrets_mode != "inline"
    if operator or settings.secrets_keep_on_removal:
        from cmp_plugin.secrets.operators import apply_mode

        docs = apply_mode(docs, proj, settings)
    # with an operator, no placeholder may remain: the operator reads Vault, not this plugin
    problems = check_stage.check(docs, vault_prefix=proj.vault_prefix, resolved=operator)
    if problems:
        raise Failure(problems)
    return docs


def render_file(path: str, *, project: str | None = None, settings: Settings | None = None,
                secrets: str = "keep", env: Mapping[str, str] | None = None, display: str | None = None) -> str:
    """The manifests for one project file, as the text to print. Never empty; raises Failure."""
    if secrets not in ("keep", "resolve"):
        raise ValueError(f"secrets must be 'keep' or 'resolve', not {secrets!r}")
    env = os.environ if env is None else env
    settings = settings or load_settings(env)
    proj = load_project(path, project, settings, display)
    docs = manifests(proj, settings)
    if secrets == "resolve" and settings.secrets_mode == "inline":
        from cmp_plugin.secrets import resolve_documents

        docs = resolve_documents(docs, project=proj.name, prefix=proj.vault_prefix, env=env)
        problems = check_stage.check(docs, vault_prefix=proj.vault_prefix, resolved=True)
        if problems:
            raise Failure(problems)
    return emit_stage.emit(docs)
