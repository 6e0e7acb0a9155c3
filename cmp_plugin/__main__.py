from cmp_plugin.cli import main

raise SystemExit(main())
