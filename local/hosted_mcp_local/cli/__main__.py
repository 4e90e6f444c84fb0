from hosted_mcp_local.cli import main

raise SystemExit(main())
