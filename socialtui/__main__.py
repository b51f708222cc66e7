from socialtui.cli import main

raise SystemExit(main())
