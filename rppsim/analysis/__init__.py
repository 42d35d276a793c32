"""Runs, many runs and sweeps as tidy frames with provenance, and the derived series the
notebooks read (docs/analysis.md).

``load_run`` / ``load_runs`` / ``build_run`` give frames whose rows name their run, scenario
digest, seed and engine; ``rppsim.analysis.series`` derives finality lag, VRF participation,
rejection reasons, tier occupancy and timetoke trajectories; ``rppsim.analysis.leaders``
tests leader frequency against weight (χ²); ``rppsim.analysis.sweeps`` reads a sweep
folder; ``rppsim.analysis.timeline`` lays a drill's faults, alerts and verdicts on one axis.
"""

from rppsim.analysis.leaders import LeaderFrequency, compute_leader_frequency
from rppsim.analysis.runs import PROVENANCE, Provenance, Run, build_run, load_run, load_runs
from rppsim.analysis.series import (
    compute_finality_lag,
    compute_participation,
    compute_rejections,
    compute_tier_occupancy,
    compute_timetoke,
    compute_timetoke_band,
    compute_vrf_rejections,
)
from rppsim.analysis.sweeps import (
    SweepResult,
    compute_mean_ci,
    compute_verdict_rates,
    get_metric_band,
    get_metric_runs,
    load_sweep_folder,
)
from rppsim.analysis.timeline import compute_verdict_timeline

__all__ = [
    "PROVENANCE",
    "LeaderFrequency",
    "Provenance",
    "Run",
    "SweepResult",
    "build_run",
    "compute_finality_lag",
    "compute_leader_frequency",
    "compute_mean_ci",
    "compute_participation",
    "compute_rejections",
    "compute_tier_occupancy",
    "compute_timetoke",
    "compute_timetoke_band",
    "compute_verdict_rates",
    "compute_verdict_timeline",
    "compute_vrf_rejections",
    "get_metric_band",
    "get_metric_runs",
    "load_run",
    "load_runs",
    "load_sweep_folder",
]
