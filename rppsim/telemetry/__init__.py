"""Run telemetry: tidy frames recorded during a run, their digest, the run folder
(docs/architecture.md#telemetry-reports-and-guardrails).

pandas is imported only under this package (docs/architecture.md#code-style).
"""

from rppsim.telemetry.digest import compute_frame_digests, compute_frames_digest
from rppsim.telemetry.frames import FRAME_NAMES, FRAME_SCHEMAS, FrameSchema, RunRecorder
from rppsim.telemetry.runfolder import (
    compute_summary,
    compute_summary_digest,
    read_run_folder,
    write_run_folder,
)

__all__ = [
    "FRAME_NAMES",
    "FRAME_SCHEMAS",
    "FrameSchema",
    "RunRecorder",
    "compute_frame_digests",
    "compute_frames_digest",
    "compute_summary",
    "compute_summary_digest",
    "read_run_folder",
    "write_run_folder",
]
