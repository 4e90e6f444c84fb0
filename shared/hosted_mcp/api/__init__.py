"""The management REST API (`/mcp`), built on Powertools' APIGatewayRestResolver."""
