"""Fixtures integration tests share: the whole choreography in process (tests/integration/test_choreography.py)."""

from tests.integration.test_choreography import choreography  # noqa: F401 - registered as a fixture here
