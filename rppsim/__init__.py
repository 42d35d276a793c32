"""rppsim: deterministic simulation and testnet harness for the RPP chain."""

__version__ = "0.1.0"
