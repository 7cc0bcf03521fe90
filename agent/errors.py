"""Errors a user can act on: the CLI prints them as one sentence, no traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or environment, explained in one sentence; exit code 1."""

    exit_code = 1


class ConfigError(UserError):
    """A line configuration with problems; lists every bad key. Exit code 2."""

    exit_code = 2

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))
