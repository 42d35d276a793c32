"""Errors a user can cause (scenario, config, CLI): one clear line, no traceback.

Every such error names the file, the dotted key path, what was expected and what was
found. The CLI prints ``str(error)`` and exits with code 2 (the chain's configuration
exit code, docs/operations.md#loading-and-rejection).
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_USER_ERROR = 2


@dataclass(eq=False)
class UserError(Exception):
    """An invalid input file, key or command-line value.

    Not frozen: Python sets ``__traceback__`` (and ``__context__``) on an exception as it
    passes through frames and context managers, which a frozen dataclass refuses.
    """

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


def compute_one_line(text: str) -> str:
    """``text`` with every character that could break or hide the line (controls, line and
    paragraph separators) written as its Python escape, so a message stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def describe(value: object) -> str:
    """Render a found value for an error message: its repr, shortened, plus its type."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"
