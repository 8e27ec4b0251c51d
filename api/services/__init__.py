"""Service functions shared by the HTTP routers, the CLI and the demo (one module per area)."""
