"""The one exception type the course layer raises."""

from __future__ import annotations

BAD_INPUT = 2
CHECK_FAILED = 1


class TitoError(Exception):
    """A problem to tell the user in one sentence, with what to do about it.

    `exit_code` is 2 for bad usage or bad input (unknown module, invalid YAML) and 1 when a
    check failed (tests, a lock held by another process, grading).
    """

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int = BAD_INPUT):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} {self.hint}"
