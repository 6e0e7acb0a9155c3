"""`cmp-render vault-keys PROJECT_FILE [--check]`: every Vault path and key a project needs.

A platform creates them before the first sync: one missing key stops the whole Application from
syncing. The list comes from the rendered Secrets' placeholders (the same in every secrets mode:
an operator reads the same paths), one `PATH#KEY` per line, sorted.

`--check` reads each path once from Vault, configured as for `--secrets resolve` (docs/secrets.md:
VAULT_ADDR, AVP_AUTH_TYPE, ...; the paths must be under the project's prefix), and reports every
key that is missing. KV has no way to ask whether a key exists without reading the secret, so
values are read, kept in memory for the check and never printed or put in a message.
"""

from __future__ import annotations

import argparse
import os
import sys

from cmp_plugin.commands import Parser, write
from cmp_plugin.problems import Failure, Problem, run_problem

USAGE = "cmp-render vault-keys PROJECT_FILE [--project NAME] [--settings FILE] [--check]"


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="cmp-render vault-keys", usage=USAGE)
    p.add_argument("file", metavar="PROJECT_FILE")
    p.add_project_options()
    p.add_argument("--check", action="store_true", help="verify in Vault that every key exists (prints no value)")
    return p


def needed_keys(docs: list[dict]) -> list[tuple[str, str]]:
    """(path, key) of every inline placeholder in the documents, sorted, without repeats."""
    from cmp_plugin.secrets import grammar
    from cmp_plugin.secrets.documents import strings

    found = set()
    for doc in docs:
        for slot in strings(doc):
            for token in grammar.scan(slot.value, False):
                if token.kind == "inline":
                    found.add((token.path, token.key))
    return sorted(found)


def check_keys(keys: list[tuple[str, str]], *, project: str, prefix: str, env) -> list[Problem]:
    """A problem for every key that Vault does not hold (or could not be asked about); [] if all exist."""
    from cmp_plugin.secrets.config import load_rules, load_vault_config
    from cmp_plugin.secrets.paths import Scope, path_problems, prefix_problem

    rules = load_rules(env)
    if prefix_problem(prefix):
        return [run_problem(prefix_problem(prefix), "vault-prefix")]
    problems, paths = [], {}
    scope = Scope.project(prefix, project)
    for path, key in keys:
        bad = path_problems(path, scope, rules.path_validation)
        problems += [_key_problem(path, key, message, rule) for rule, message in bad]
        if not bad:
            paths.setdefault(path, []).append(key)
    if problems or not paths:
        return problems
    config = load_vault_config(env)
    from cmp_plugin.secrets.client import VaultClient, VaultError  # hvac only when needed

    client = VaultClient(config)
    items = list(paths.items())
    try:
        for i, (path, names) in enumerate(items):
            try:
                data = client.read(path, "", rules.kv_version)
            except VaultError as exc:
                if exc.fatal:  # nothing more can be read in this run: say so once
                    left = sum(len(n) for _, n in items[i:])
                    problems.append(run_problem(f"{exc}; {left} keys not checked", "vault"))
                    break
                problems += [_key_problem(path, name, str(exc), "vault") for name in names]
                continue
            problems += [_key_problem(path, name, "missing in Vault (the path has no such key)", "vault-key")
                         for name in names if data.get(name) is None]
    finally:
        client.close()
    return problems


def _key_problem(path: str, key: str, message: str, rule: str) -> Problem:
    return Problem("", 0, 0, f"{path}#{key}", message, rule)


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    from cmp_plugin.argocd import project_env
    from cmp_plugin.pipeline import load_project, render_documents
    from cmp_plugin.settings import load_settings

    settings = load_settings(file=args.settings)
    proj = load_project(args.file, args.project, settings)
    keys = needed_keys(render_documents(proj, settings))
    if args.check:
        env = project_env(dict(os.environ), proj.name)
        problems = check_keys(keys, project=proj.name, prefix=proj.vault_prefix, env=env)
        if problems:
            raise Failure(problems)
        sys.stderr.write(f"{len(keys)} keys at {len({p for p, _ in keys})} Vault paths exist\n")
    elif not keys:
        sys.stderr.write("the project needs no Vault keys\n")
    return write("".join(f"{path}#{key}\n" for path, key in keys))
