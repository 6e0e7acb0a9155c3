"""`cmp-render resolve [--prefix P]... [--any-path] PATH...`: argocd-vault-plugin's `generate`.

Reads every PATH (files, directories in AVP's order, `-` for standard input), resolves the
placeholders wherever AVP does (any kind, any string value; Secret base64 rules), and prints the
documents as AVP does. Vault is configured by the environment under AVP's names
(docs/secrets.md); the paths that may be read by `--prefix` / CMP_RESOLVE_PREFIXES.

Failure contract: exit 1 with every problem on stderr and nothing on stdout; never exit 0 with
no documents (Argo CD would delete every object of the Application).
"""

from __future__ import annotations

import os
from typing import Mapping

from cmp_plugin.problems import Failure, run_problem

USAGE = ("cmp-render resolve [--prefix PREFIX]... [--any-path] [--disable-token-cache] PATH...\n"
         "  PATH: a file, a directory (its .yaml, .yml and .json files, recursively), or - for stdin")


def resolve_sources(sources: list, env: Mapping[str, str], *, prefixes=(), any_path: bool = False) -> str:
    """The output text for documents already read (files.Source); raises Failure."""
    from cmp_plugin.resolve.goyaml import dump_document
    from cmp_plugin.resolve.prefixes import scope_from
    from cmp_plugin.secrets import resolve_documents

    if not sources:
        raise Failure(run_problem("no Kubernetes objects in the input; refusing to print empty output (Argo CD"
                                  " would delete every object of the Application)", "empty"))
    docs = resolve_documents([s.doc for s in sources], env=env, secrets_only=False,
                             scope=scope_from(env, prefixes, any_path), files=[s.file for s in sources])
    return "".join(dump_document(doc) for doc in docs)


def resolve_paths(paths: list[str], env: Mapping[str, str], *, prefixes=(), any_path: bool = False,
                  stdin=None, root: str | None = None) -> str:
    """Read, resolve and format; raises Failure with every problem."""
    from cmp_plugin.resolve.files import read_inputs

    sources, problems = read_inputs(paths, stdin=stdin, root=root)
    if problems:
        raise Failure(problems)
    return resolve_sources(sources, env, prefixes=prefixes, any_path=any_path)


def _parse(argv: list[str]):
    from cmp_plugin.commands import Parser

    parser = Parser(prog="cmp-render resolve", usage=USAGE)
    parser.add_argument("paths", nargs="*", metavar="PATH")
    parser.add_argument("--prefix", action="append", default=[],
                        help="a Vault path prefix that may be read (repeatable); {app}, {project}, {namespace}")
    parser.add_argument("--any-path", action="store_true", help="allow every Vault path")
    parser.add_argument("--disable-token-cache", action="store_true",
                        help="log in on every run (argocd-vault-plugin's flag; CMP_VAULT_TOKEN_CACHE=false)")
    args = parser.parse_args(argv)
    if not args.paths:
        raise Failure(run_problem("<path> argument required to generate manifests", "usage"))
    return args


def main(argv: list[str]) -> str:
    """The text to print; raises Failure."""
    args = _parse(argv)
    env = dict(os.environ, CMP_VAULT_TOKEN_CACHE="false") if args.disable_token_cache else os.environ
    return resolve_paths(args.paths, env, prefixes=args.prefix, any_path=args.any_path)
