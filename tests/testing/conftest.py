"""Fixtures of the cluster tests: the node tests' cluster fixtures (safety checked at teardown)."""

from ..node.conftest import fresh_height, identity_request, make_cluster, safety

__all__ = ["fresh_height", "identity_request", "make_cluster", "safety"]
