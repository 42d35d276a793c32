"""The frames a verdict needs, and "not applicable" when its source does not have them.

A source of frames may hold only some of them: live telemetry (``rppsim.telemetry.jsonl``)
has snapshots but no blocks, votes or messages, and its mapping lacks those frames (absent,
not empty). Every checker and guardrail declares the frames it reads (``NEEDS`` of a checker
module, ``needs=`` of ``rppsim.guardrails.base.register``); ``evaluate_needing`` judges it only
when they are all there, and otherwise returns its "not applicable" verdict naming the absent
frames, e.g. "needs the blocks frame (not in live telemetry)", instead of passing on empty
frames or raising. The verdict sees the frames through a ``FrameView``, so reading a frame it
did not declare and the source lacks gives the same verdict, never a ``KeyError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TypeVar

import pandas as pd

__all__ = [
    "SOURCE_LABELS",
    "FrameView",
    "MissingFrameError",
    "compute_missing_frames",
    "describe_missing_frames",
    "evaluate_needing",
]

Context = TypeVar("Context")
Result = TypeVar("Result")

SOURCE_LABELS = {"live-telemetry": "live telemetry"}
"""How a message names a source (``run_info`` ``source``); a run folder records none."""


class MissingFrameError(KeyError):
    """A verdict read a frame its source does not have."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class FrameView(Mapping[str, pd.DataFrame]):
    """A source's frames, read-only; reading an absent frame raises ``MissingFrameError`` (a
    ``KeyError``, so ``in`` and ``get`` work as on a dict)."""

    __slots__ = ("_frames",)

    def __init__(self, frames: Mapping[str, pd.DataFrame]) -> None:
        self._frames = frames

    def __getitem__(self, name: str) -> pd.DataFrame:
        try:
            return self._frames[name]
        except KeyError:
            raise MissingFrameError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._frames)

    def __len__(self) -> int:
        return len(self._frames)


def compute_missing_frames(frames: Mapping[str, pd.DataFrame], needs: Iterable[str]) -> list[str]:
    """The frames of ``needs`` that ``frames`` lacks, in ``needs`` order."""
    return [name for name in needs if name not in frames]


def _get_source_label(frames: Mapping[str, pd.DataFrame]) -> str:
    """The source's name in a message: "live telemetry" for ``run_info`` ``source``
    ``live-telemetry``, "these frames" when the source is not named."""
    info = frames.get("run_info")
    if info is None or "key" not in info.columns:
        return "these frames"
    values = info.loc[info["key"] == "source", "value"]
    source = str(values.iloc[0]) if len(values) else ""
    return SOURCE_LABELS.get(source, source or "these frames")


def describe_missing_frames(frames: Mapping[str, pd.DataFrame], missing: Iterable[str]) -> str:
    """Why a verdict is not applicable: e.g. "needs the blocks frame (not in live
    telemetry)", or "needs the blocks and votes frames (...)" for several."""
    names = list(dict.fromkeys(missing))
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"
    noun = "frame" if len(names) == 1 else "frames"
    return f"needs the {listed} {noun} (not in {_get_source_label(frames)})"


def evaluate_needing(
    needs: Iterable[str],
    check: Callable[[Mapping[str, pd.DataFrame], Context], Result],
    frames: Mapping[str, pd.DataFrame],
    context: Context,
    not_applicable: Callable[[str], Result],
) -> Result:
    """``check(frames, context)`` when ``frames`` holds every frame of ``needs``, else
    ``not_applicable(why)``; also when ``check`` reads another absent frame."""
    missing = compute_missing_frames(frames, needs)
    if not missing:
        try:
            return check(FrameView(frames), context)
        except MissingFrameError as error:
            missing = [error.name]
    return not_applicable(describe_missing_frames(frames, missing))
