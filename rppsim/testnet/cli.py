"""The testnet's commands: ``rppsim node``, ``rppsim collector`` and ``rppsim testnet``."""

from __future__ import annotations

import argparse
from importlib import import_module

COMMAND_MODULES = (
    "rppsim.testnet.node_cli",
    "rppsim.testnet.collector",
    "rppsim.testnet.orchestra",
)
"""Each registers its own subcommand with ``add_parser(sub)``."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``node``, ``collector`` and ``testnet``."""
    for module in COMMAND_MODULES:
        import_module(module).add_parser(sub)
