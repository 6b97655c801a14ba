from swamp.cli import main

raise SystemExit(main())
