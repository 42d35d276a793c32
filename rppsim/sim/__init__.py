"""The simulated network: topologies, link model, gossip propagation and fault schedules.

Pieces the simpy kernel calls (docs/architecture.md#network-model): ``topology`` builds the graph,
``links`` samples
per-message per-hop delay and loss, ``gossip`` propagates a message (numba fast path and a
per-hop reference), ``faults`` answers what is broken at time t. Nothing here imports simpy.
"""
