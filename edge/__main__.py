from edge.cli.entry import main

raise SystemExit(main())
