"""Exceptions shared by every layer of charme.

``SpecError`` carries the place of a problem in a user's file (file, line,
field path) so that the CLI can print one line such as
``model.yaml:14: reactions[2].rate: unknown name 'kk'`` and exit with status 2.
"""

from __future__ import annotations


class CharmeError(Exception):
    """Base class of charme's own errors."""


class SpecError(CharmeError, ValueError):
    """Bad input: a spec file, an expression or an option that cannot be used.

    Parameters
    ----------
    message
        What is wrong, in words.
    file
        The file it was read from, if any.
    line
        1-based line of the offending entry, if known.
    field
        Path of the entry inside the spec, e.g. ``reactions[2].rate``.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.field = field

    def located(self, *, file=None, line=None, field=None) -> SpecError:
        """A copy with missing location parts filled in."""
        return SpecError(
            self.message,
            file=self.file or file,
            line=self.line or line,
            field=self.field or field,
        )

    def __str__(self) -> str:
        head = ""
        if self.file:
            head = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        if self.field:
            head += f"{self.field}: "
        return head + self.message


class SolverError(CharmeError, RuntimeError):
    """A solver failed at run time (step budget, invalid propensities...)."""
