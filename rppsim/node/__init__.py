"""The RPP node, sans-IO: protocol rules as pure functions and a state machine.

Nothing here imports simpy, asyncio, socket, time, datetime or random; time is always an
argument (docs/architecture.md#the-node-is-sans-io).
"""
