"""Composition roots: where a runtime's settings become the adapters and port bundles the logic needs.

`aws` builds them for the Lambda functions (from typed settings read once per execution environment); the
one-machine platform has its own root in `hosted_mcp_local.platform`. Adapters only adapt; logic never reads the
environment; only a composition root knows which adapter goes where.
"""
