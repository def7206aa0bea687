"""Errors with exit codes: every failure a user can meet maps to one of four codes.

0 ok, 1 findings (violations, thresholds failed), 2 usage or configuration error,
3 the job could not run (a database unreachable, a required tool missing).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The documented process exit codes."""

    OK = 0
    FINDINGS = 1
    USAGE = 2
    CANNOT_RUN = 3


class PlimsollError(Exception):
    """Base of every error plimsoll reports to a user as one line, without a traceback."""

    exit_code: ExitCode = ExitCode.CANNOT_RUN
    slug: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(PlimsollError):
    """A bad flag or argument combination."""

    exit_code = ExitCode.USAGE
    slug = "usage"


class ConfigError(PlimsollError):
    """The configuration is invalid: names the file, the key path and what was expected."""

    exit_code = ExitCode.USAGE
    slug = "config"


class InputError(PlimsollError):
    """An input (a file, a record, a revision) cannot be read or understood."""

    exit_code = ExitCode.USAGE
    slug = "input"


class NotARepositoryError(PlimsollError):
    """The command needs a git repository and was not run inside one."""

    exit_code = ExitCode.USAGE
    slug = "not-a-repository"


class CannotRunError(PlimsollError):
    """The job could not run: an external service or tool is not available."""

    exit_code = ExitCode.CANNOT_RUN
    slug = "cannot-run"


class ToolMissingError(CannotRunError):
    """A required external tool is not installed."""

    slug = "tool-missing"


class GitError(CannotRunError):
    """A git command failed in a way plimsoll cannot recover from."""

    slug = "git"


class ConcurrentUpdateError(CannotRunError):
    """A compare-and-swap update lost its race too many times."""

    slug = "concurrent-update"
