"""``rppsim report``: figures and a Markdown / self-contained HTML report of a run folder."""

from rppsim.report.document import write_report
from rppsim.report.figures import FIGURES

__all__ = ["FIGURES", "write_report"]
