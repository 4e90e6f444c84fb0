"""Helpers shared by every test tier: load a function's handler, build API events, build the table from the template."""
