"""Errors a user can cause (scenario, config, CLI): one clear line, no traceback.

Every such error names the file, the dotted key path, what was expected and what was
found. The CLI prints ``str(error)`` and exits with code 2 (the chain's configuration
exit code, spec/ops.md §1.1).
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_USER_ERROR = 2


@dataclass(frozen=True)
class UserError(Exception):
    """An invalid input file, key or command-line value."""

    file: str
    key: str
    expected: str
    found: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}: {self.key}" if self.key else self.file
        message = f"{where}: expected {self.expected}"
        if self.found is not None:
            message += f", found {self.found}"
        return message


def describe(value: object) -> str:
    """Render a found value for an error message: its repr, shortened, plus its type."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"
