"""Placeholder: replaced by the module that registers its command."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register nothing yet."""
