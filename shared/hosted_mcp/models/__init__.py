"""Models at every boundary: API input/output (`api`), domain (`domain`), events (`events`)."""
