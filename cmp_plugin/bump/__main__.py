"""`python -m cmp_plugin.bump ARGS...`: the same as `cmp-render bump ARGS...`."""

from cmp_plugin.cli import bump_main

raise SystemExit(bump_main())
