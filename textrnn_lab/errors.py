"""The one exception type a person using the course should ever see.

A :class:`CourseError` carries a short message (what went wrong) and a hint
(what to do about it). The command line prints it as one or two lines, with no
traceback; notebooks show the same text.
"""
from __future__ import annotations


class CourseError(Exception):
    """A clear, actionable error: ``message`` says what, ``hint`` says what to do."""

    def __init__(self, message: str, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:  # pragma: no cover - trivial
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class DataError(CourseError):
    """A dataset is missing, corrupted, empty or malformed."""


class DeviceError(CourseError):
    """A requested device does not exist on this machine."""


class HubUnavailable(CourseError):
    """A model or dataset hub name was asked for while no hub can be reached."""


class NotebookError(CourseError):
    """A notebook is missing, malformed, or lacks what the pipeline needs."""
