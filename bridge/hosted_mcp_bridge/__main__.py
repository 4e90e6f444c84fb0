import sys

from hosted_mcp_bridge.cli import main

sys.exit(main())
