"""Command line: `cmp-render FILE`, `check`, `diff`, `settings`, `vault-keys`, `schema`, `bump`,
`resolve`, and Argo CD's plugin entry points.

Failure contract of every command: exit non-zero, every problem on stderr, nothing on stdout.
Exceptions: reports asked for by name (`check --format github|json`), whose problems are the
output, on stdout, with exit 1; and `diff`, whose exit 1 means "changed" (diff(1); it fails with 2).
"""

from __future__ import annotations

import argparse
import sys

from cmp_plugin.commands import Parser, write
from cmp_plugin.problems import EXIT_INTERNAL, Failure, Problem, internal_error, write_problems

USAGE = """\
cmp-render [render] PROJECT_FILE [--project NAME] [--secrets keep|resolve] [--settings FILE]
cmp-render check PROJECT_FILE_OR_DIR... [--settings FILE] [--format text|github|json]
cmp-render diff OLD NEW [--project NAME] [--settings FILE]   (FILE, git:REV:PATH or /dev/null)
cmp-render settings [--settings FILE]
cmp-render vault-keys PROJECT_FILE [--project NAME] [--settings FILE] [--check]
cmp-render schema
cmp-render bump PROJECT_FILE APP SHA [--pushed-at TIME] [--force]
cmp-render resolve [--prefix PREFIX]... [--any-path] [--disable-token-cache] PATH...
cmp-render generate | discover | parameters      (Argo CD plugin entry points)
cmp-render generic-generate                      (the generic plugin's entry point)"""

CMP_COMMANDS = ("generate", "discover", "parameters")


def _render_parser() -> argparse.ArgumentParser:
    p = Parser(prog="cmp-render", usage=USAGE, add_help=True)
    p.add_argument("file", metavar="PROJECT_FILE")
    p.add_project_options()
    p.add_argument("--secrets", choices=("keep", "resolve"), default="keep",
                   help="keep <path:...> placeholders (dry run, default) or resolve them from Vault")
    return p


def _settings_parser() -> argparse.ArgumentParser:
    p = Parser(prog="cmp-render settings", usage=USAGE)
    p.add_argument("--settings")
    return p


def _bump_parser() -> argparse.ArgumentParser:
    from cmp_plugin.bump.policy import SKEW_TEXT

    parser = argparse.ArgumentParser(
        prog="cmp-render bump", allow_abbrev=False,
        description="Set applications[name=APP].git.hash in a project file, in place and forward only.",
        epilog="Exit status: 0 bumped or already there, 1 error, 2 usage, 3 refused: the build is not newer "
               "than the one recorded (see docs/ci-loop.md).")
    parser.add_argument("project_file", metavar="PROJECT_FILE", help="projects/<name>.yaml")
    parser.add_argument("app", metavar="APP", help="name of the application in the file")
    parser.add_argument("sha", metavar="SHA", help="full commit id: 40 lowercase hex characters")
    parser.add_argument("--pushed-at", metavar="RFC3339",
                        help="time of the push that produced SHA, RFC 3339 with Z or an offset, e.g. "
                             "2026-11-27T03:04:05Z or 2026-11-27T12:04:05+09:00; recorded in UTC as "
                             f"git.pushedAt; one older than recorded, or more than {SKEW_TEXT} ahead of the "
                             "clock, is refused")
    parser.add_argument("--force", action="store_true",
                        help="skip the forward-only check (a deliberate rollback)")
    return parser


def _bump(argv: list[str]) -> int:
    """`cmp-render bump`: its own usage text and exit codes (0, 1 error, 2 usage, 3 refused, 70 a bug)."""
    try:
        args = _bump_parser().parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage/help
        return exc.code if isinstance(exc.code, int) else 2
    from cmp_plugin import bump

    try:
        outcome = bump.bump_file(args.project_file, args.app, args.sha, pushed_at=args.pushed_at, force=args.force)
    except bump.BumpError as exc:
        write_problems(exc.problems)
        return exc.code
    except KeyboardInterrupt:
        write_problems([Problem(args.project_file, 0, 0, "", "interrupted; nothing was written")])
        return 130
    return write(outcome.message + "\n")  # a bug reaches main(), which reports it like every command's


def fail(failure: Failure) -> int:
    write_problems(failure.problems)
    return 1


def run(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE + "\n")
        return 0
    if argv and argv[0] == "schema":
        from cmp_plugin.validate.schema import schema_text

        return write(schema_text())
    if argv and argv[0] == "check":
        from cmp_plugin.commands.check import main as check_main

        return check_main(argv[1:])
    if argv and argv[0] == "diff":
        from cmp_plugin.commands.diff import main as diff_main

        return diff_main(argv[1:])
    if argv and argv[0] == "settings":
        from cmp_plugin.settings import load_settings, settings_file_text

        args = _settings_parser().parse_args(argv[1:])
        return write(settings_file_text(load_settings(file=args.settings)))
    if argv and argv[0] == "vault-keys":
        from cmp_plugin.commands.vault_keys import main as vault_keys_main

        return vault_keys_main(argv[1:])
    if argv and argv[0] == "bump":
        return _bump(argv[1:])
    if argv and argv[0] == "resolve":
        from cmp_plugin.resolve.command import main as resolve_main

        return write(resolve_main(argv[1:]))
    if argv and argv[0] == "generic-generate":
        from cmp_plugin.generic import generate as generic_generate

        return generic_generate(argv[1:])
    if argv and argv[0] in CMP_COMMANDS:
        from cmp_plugin.argocd import main as cmp_main

        return cmp_main(argv[0], argv[1:])
    if argv and argv[0] == "render":
        argv = argv[1:]
    args = _render_parser().parse_args(argv)
    from cmp_plugin.pipeline import render_file
    from cmp_plugin.settings import load_settings

    settings = load_settings(file=args.settings)
    text = render_file(args.file, project=args.project, settings=settings, secrets=args.secrets)
    return write(text)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        return run(argv)
    except Failure as failure:
        return fail(failure)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug, not bad input: said without any value
        from cmp_plugin.settings import debug

        internal_error(exc, debug())
        return EXIT_INTERNAL


if __name__ == "__main__":
    raise SystemExit(main())
