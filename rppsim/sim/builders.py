"""What a run is built from: the network, the fault schedule, node groups, byzantine nodes,
node profiles, keys and configs, each a function of the scenario model (``rppsim.sim.spec``)
and the run's seed tree."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from rppsim.errors import UserError
from rppsim.node.config import NodeConfig, load_config
from rppsim.node.node import NodeKeys
from rppsim.node.signing import Keypair
from rppsim.rng import SeedTree
from rppsim.sim.faults import FaultSchedule
from rppsim.sim.genesis import build_run_genesis, compute_file_key_seeds, load_genesis_file
from rppsim.sim.gossip import Network
from rppsim.sim.links import build_link_model
from rppsim.sim.spec import ByzantineSpec, NodesConfig, Scenario, StageSpec
from rppsim.sim.stages import compute_stage_windows
from rppsim.sim.topology import Topology, build_topology


def build_sim_network(scenario: Scenario, tree: SeedTree) -> Network:
    """The run's ``Network``: topology, link model (regions, classes) and gossip mode."""
    net = scenario.network
    topology = build_topology(net.topology, scenario.nodes.count, tree)
    links = build_link_model(topology, net.link, tree, net.regions, net.classes)
    return Network(topology, links, net.gossip, tree, dict(net.mesh))


def _blame_params(
    error: UserError, params: tuple[tuple[str, Any], ...], source: str
) -> UserError | None:
    """``error`` as ``params."<path>"`` when it is about a value an override set (or about
    that value's table), else None."""
    for path, _ in params:
        key = error.key
        if key == path or key.startswith(path + ".") or path.startswith(key + "."):
            return UserError(source, f'params."{path}"', error.expected, error.found)
    return None


def load_profile(path: Path, params: tuple[tuple[str, Any], ...], source: str) -> NodeConfig:
    """A node profile with ``[params]`` applied and checked by the config's own rules; an
    error an override causes names ``params."<path>"`` in ``source``."""
    try:
        config, _ = load_config(path, overrides=dict(params))
    except UserError as error:
        blamed = _blame_params(error, params, source)
        if blamed is None:
            raise
        raise blamed from None
    return config


def build_node_config(scenario: Scenario, profile_path: Path | None = None) -> NodeConfig:
    """The scenario's node profile (or a group's, ``profile_path``) with ``[params]`` and
    ``[telemetry] sample_interval_ms`` applied (which also turns telemetry on; the node counts
    whole seconds, at least 1). The genesis is the profile's: the kernel sets the run's."""
    path = scenario.nodes.profile_path if profile_path is None else profile_path
    config = load_profile(path, scenario.params, scenario.source)
    return apply_sample_interval(config, scenario.telemetry.sample_interval_ms)


def apply_sample_interval(config: NodeConfig, interval_ms: int | None) -> NodeConfig:
    """``config`` with telemetry on every ``interval_ms`` (whole seconds, at least 1); as it
    is when None."""
    if interval_ms is None:
        return config
    telemetry = dataclasses.replace(
        config.rollout.telemetry, enabled=True, sample_interval_secs=max(interval_ms // 1000, 1)
    )
    return dataclasses.replace(
        config, rollout=dataclasses.replace(config.rollout, telemetry=telemetry)
    )


def build_fault_schedule(scenario: Scenario, topology: Topology, tree: SeedTree) -> FaultSchedule:
    """The run's expanded ``FaultSchedule`` (churn drawn from ``("fault", "churn", i)``), the
    stages' restarts included (``rppsim.sim.stages``)."""
    windows = compute_stage_windows(scenario.stages, scenario.nodes.count)
    return FaultSchedule(
        scenario.faults, topology, scenario.run.duration_ms, tree, scenario.source, windows
    )


def compute_stage_params(scenario: Scenario, stage: StageSpec) -> tuple[tuple[str, Any], ...]:
    """The scenario's ``[params]`` with the stage's own on top, sorted by path."""
    merged = dict(scenario.params) | dict(stage.params)
    return tuple(sorted(merged.items(), key=lambda item: item[0]))


def build_stage_config(scenario: Scenario, stage: StageSpec) -> NodeConfig:
    """A stage's profile with its ``[stage.params]`` and the scenario's telemetry setting."""
    params = compute_stage_params(scenario, stage)
    config = load_profile(stage.profile_path, params, scenario.source)
    return apply_sample_interval(config, scenario.telemetry.sample_interval_ms)


def compute_group_nodes(nodes: NodesConfig, tree: SeedTree) -> tuple[tuple[int, ...], ...]:
    """Each ``[[nodes.group]]``'s nodes, sorted: its list, or ``count`` nodes drawn from
    ``("nodes", "group", index)`` among those no group lists and no earlier group drew."""
    taken = {v for group in nodes.groups for v in group.nodes or ()}
    out = []
    for index, group in enumerate(nodes.groups):
        if group.nodes is not None:
            out.append(tuple(sorted(group.nodes)))
            continue
        free = [v for v in range(nodes.count) if v not in taken]
        picked = tree.generator("nodes", "group", index).permutation(len(free))[: group.count]
        chosen = tuple(sorted(free[int(k)] for k in picked))
        taken.update(chosen)
        out.append(chosen)
    return tuple(out)


def compute_byzantine_nodes(
    spec: ByzantineSpec, n: int, tree: SeedTree, index: int
) -> tuple[int, ...]:
    """The nodes of a byzantine entry: its list, or round(fraction·n) (at least 1) nodes drawn
    from ``("byzantine", index)``, sorted."""
    if spec.nodes is not None:
        return tuple(sorted(spec.nodes))
    count = max(1, round((spec.fraction or 0.0) * n))
    picked = tree.generator("byzantine", index).permutation(n)[:count]
    return tuple(sorted(int(v) for v in picked))


def build_node_keys(scenario: Scenario, tree: SeedTree) -> list[NodeKeys]:
    """Each node's keys: from ``("node", i, "keys")``, except that with a genesis file the
    validator nodes run its validator accounts (the keys their ``key_seed`` derives)."""
    n, spec = scenario.nodes.count, scenario.genesis
    seeds = [tree.seed_bytes("node", i, "keys") for i in range(n)]
    if spec is not None and spec.file is not None:
        genesis = load_genesis_file(spec, build_node_config(scenario), scenario.source)
        for i, seed in enumerate(compute_file_key_seeds(genesis)):
            seeds[i] = seed
    return [NodeKeys.from_seed(seed) for seed in seeds]


def build_run_configs(
    scenario: Scenario, keys: list[NodeKeys], wallets: list[Keypair], tree: SeedTree
) -> list[NodeConfig]:
    """The scenario's node config (``build_node_config``), then each ``[[nodes.group]]``'s,
    then each ``[[stage]]``'s, all with the run's genesis (``rppsim.sim.genesis``: built under
    the scenario's profile, checked under each)."""
    groups = scenario.nodes.groups
    profiles = [build_node_config(scenario)]
    profiles += [build_node_config(scenario, g.profile_path) for g in groups]
    profiles += [build_stage_config(scenario, stage) for stage in scenario.stages]
    validators = [k.address for k in keys[: scenario.nodes.validators]]
    genesis = build_run_genesis(
        scenario.genesis, validators, [w.address for w in wallets], profiles, tree, scenario.source
    )
    chain_ids = [None, *(g.genesis_chain_id for g in groups)]
    chain_ids += [None] * len(scenario.stages)
    return [
        dataclasses.replace(
            profile,
            genesis=genesis
            if chain_id is None
            else dataclasses.replace(genesis, chain_id=chain_id),
        )
        for profile, chain_id in zip(profiles, chain_ids, strict=True)
    ]
