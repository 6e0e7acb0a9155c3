"""`python -m cmp_plugin.bump ARGS...`: the same as `cmp-render bump ARGS...`."""

import sys

from cmp_plugin.cli import main

raise SystemExit(main(["bump", *sys.argv[1:]]))
