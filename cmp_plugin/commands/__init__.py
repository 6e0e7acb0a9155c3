"""The commands other than render (`check`, `diff`, `vault-keys`), and what every command's
command line shares: its parser, and how it writes its output."""

from __future__ import annotations

import argparse
import sys


class Parser(argparse.ArgumentParser):
    """A command's arguments. A usage error prints the message and the usage on stderr and exits
    2, with nothing on stdout and no traceback."""

    def error(self, message):
        usage = self.usage or ""
        sys.stderr.write(f"{self.prog}: error: {message}\nusage:{chr(10) if chr(10) in usage else ' '}{usage}\n")
        raise SystemExit(2)

    def add_project_options(self, project_help: str = "project name (default: the file's stem)") -> None:
        """--project and --settings, as every command that renders a project file takes them."""
        self.add_argument("--project", help=project_help)
        self.add_argument("--settings", help="platform settings file (default: $CMP_SETTINGS_FILE)")


def write(text: str) -> int:
    """Print a command's output in one piece; a reader that went away is exit 1, not a traceback."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        return 1
    return 0
