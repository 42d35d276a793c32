"""The testnet: the sans-IO node as real processes on loopback (asyncio, TCP, HTTP, SQLite)."""
