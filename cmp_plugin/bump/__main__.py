"""`python -m cmp_plugin.bump ARGS...`: the same as `cmp-render bump ARGS...`."""

from cmp_plugin.bump import main

raise SystemExit(main())
