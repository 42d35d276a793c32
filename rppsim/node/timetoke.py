"""Timetoke: credited online hours (spec/consensus.md §4)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TimetokeParams:
    """The five ``timetoke_params`` of spec/ops.md §1.6 (malachite ``[reputation.timetoke]``)."""

    minimum_window_secs: int = 3600
    accrual_cap_hours: int = 720
    decay_interval_secs: int = 86400
    decay_step_hours: int = 1
    sync_interval_secs: int = 600
