"""Stops from flow: a pure state machine over (time, moving, parts in view).

- No flow for `stop_after_s` is a stop (reason None) that starts when the flow
  stopped (backdated) and ends when flow has been back for `resume_after_s`
  (backdated to when it came back).
- Flow with no part in view for `starved_after_s` is a stop with reason `starved`
  that starts when the last part left (or flow resumed, if later) and ends when a
  part comes into view.

Whether a stop is a small stop or downtime is the OEE engine's business, not this one's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

logger = logging.getLogger(__name__)

STARVED = "starved"


@dataclass(frozen=True, slots=True)
class Stamp:
    """A moment: monotonic seconds (durations) and wall time (labels)."""

    mono: float
    wall: datetime


@dataclass(frozen=True, slots=True)
class StateChange:
    """The line entered `state` at `at` (backdated where the rules say so)."""

    state: Literal["running", "stopped"]
    reason: str | None
    at: Stamp


class StopDetector:
    """Feed it every frame's flow verdict and part presence; it says when state changes."""

    def __init__(
        self,
        stop_after_s: float,
        starved_after_s: float | None = None,
        resume_after_s: float = 0.2,
    ) -> None:
        self.stop_after_s = stop_after_s
        self.starved_after_s = stop_after_s if starved_after_s is None else starved_after_s
        self.resume_after_s = resume_after_s
        self.state: Literal["running", "halted", "starved"] = "running"
        self._still_since: Stamp | None = None
        self._moving_since: Stamp | None = None
        self._flowing_since: Stamp | None = None
        self._empty_since: Stamp | None = None
        self._parts_since: Stamp | None = None
        self._last: Stamp | None = None

    def reset(self, now: Stamp) -> None:
        """Start afresh at `now` (after a gap in the footage): running, nothing known."""
        self.state = "running"
        self._still_since = now
        self._moving_since = None
        self._flowing_since = None
        self._empty_since = now
        self._parts_since = None
        self._last = now

    def update(self, now: Stamp, moving: bool, parts_in_view: bool) -> list[StateChange]:
        """One frame; returns the state changes it completes (usually none)."""
        if self._last is None:
            self.reset(now)
        if moving:
            if self._moving_since is None:
                self._moving_since = now
            if (
                self._still_since is not None
                and now.mono - self._moving_since.mono >= self.resume_after_s
            ):
                self._still_since = None
                self._flowing_since = self._moving_since
        else:
            self._moving_since = None
            if self._still_since is None:
                self._still_since = now
        if parts_in_view:
            self._empty_since = None
            if self._parts_since is None:
                self._parts_since = now
        else:
            self._parts_since = None
            if self._empty_since is None:
                self._empty_since = now

        changes: list[StateChange] = []
        halted = (
            self._still_since is not None and now.mono - self._still_since.mono >= self.stop_after_s
        )
        starved_from = self._starved_from()
        starved = (
            self._still_since is None
            and starved_from is not None
            and now.mono - starved_from.mono >= self.starved_after_s
        )
        if halted and self.state != "halted":
            assert self._still_since is not None
            changes.append(self._change("stopped", None, self._still_since))
            self.state = "halted"
        elif starved and self.state != "starved" and not halted:
            assert starved_from is not None
            changes.append(self._change("stopped", STARVED, starved_from))
            self.state = "starved"
        elif self.state == "halted" and self._still_since is None:
            assert self._flowing_since is not None
            changes.append(self._change("running", None, self._flowing_since))
            self.state = "running"
        elif self.state == "starved" and self._parts_since is not None:
            changes.append(self._change("running", None, self._parts_since))
            self.state = "running"
        return changes

    def _starved_from(self) -> Stamp | None:
        if self._empty_since is None:
            return None
        if self._flowing_since is not None and self._flowing_since.mono > self._empty_since.mono:
            return self._flowing_since
        return self._empty_since

    def _change(
        self, state: Literal["running", "stopped"], reason: str | None, at: Stamp
    ) -> StateChange:
        # backdating never goes before a change already reported
        if self._last is not None and at.mono < self._last.mono:
            at = self._last
        self._last = at
        logger.debug("line %s%s at %.2f s", state, f" ({reason})" if reason else "", at.mono)
        return StateChange(state, reason, at)
