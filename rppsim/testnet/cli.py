"""``rppsim testnet``: registered on the CLI (placeholder until the package lands)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register nothing yet."""
