"""Drivers for tests and notebooks that are not the simulator: the in-memory cluster.

Kept out of ``rppsim.node`` so the sans-IO package holds no event loop of its own.
"""
