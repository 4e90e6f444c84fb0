"""Business logic: plain functions over models and ports. No environment, no clients, no I/O of its own."""
