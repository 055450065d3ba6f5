"""GCRA, the generic cell rate algorithm: an allowance kept as one time, for the adaptive limiter.

An allowance of at most ``capacity`` units that comes back at ``rate`` units
per second is kept here as its *theoretical arrival time* ``tat``: the time
at which it would be whole again if nothing more were taken. With the
emission interval ``T = 1 / rate`` (the seconds one unit takes to come back)
and the burst tolerance ``tau = T * (capacity - 1)``:

- a request of one unit at ``now`` is scheduled at ``max(now, tat - tau)``;
  one of ``amount`` units at ``max(now, tat - T * (capacity - amount))``;
- it is counted at once, even when it must wait: ``tat`` becomes
  ``max(tat, now) + T * amount``, so the next request is scheduled behind it
  and callers that arrive together queue in arrival order, nobody polling;
- what the allowance holds at ``now`` is ``capacity - (tat - now) / T`` while
  ``tat`` is ahead of ``now`` (below zero while turns are handed out ahead of
  time), and ``capacity`` once ``tat`` has passed.

``hold`` pauses the allowance until that time (a provider's ``Retry-After``):
nothing is scheduled earlier and nothing comes back before it, so what it
holds is read at ``max(now, hold)``.

:class:`Gcra` is immutable: every operation returns the allowance after it.
Times are in seconds on the caller's clock, rates in units per second.
It is overflow-safe: every span computed from units (``T * units``) is at
most :data:`MAX_AHEAD_S`, and nothing is scheduled more than that after
``now``, so a tiny rate, a huge capacity or a huge ``Retry-After`` read from
a provider's headers gives long but finite waits, never ``inf`` or NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

__all__ = ["MAX_AHEAD_S", "Gcra"]

#: The furthest ahead of ``now`` anything is scheduled: one year, in seconds.
MAX_AHEAD_S = 365 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Gcra:
    """An allowance of ``capacity`` units refilled at ``rate`` units per second, as a theoretical arrival time.

    ``tat`` is when it is whole again; ``hold``, when not None, is when it
    starts to come back again after a pause. ``rate`` and ``capacity`` must
    be finite and above 0, ``tat`` and ``hold`` finite (ValueError).
    """

    rate: float
    capacity: float
    tat: float
    hold: float | None = None

    def __post_init__(self) -> None:
        for name in ("rate", "capacity"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number above 0, got {value!r}")
        if not math.isfinite(self.tat) or (self.hold is not None and not math.isfinite(self.hold)):
            raise ValueError(f"tat and hold must be finite times, got {self.tat!r} and {self.hold!r}")

    @classmethod
    def full(cls, rate: float, capacity: float, now: float) -> Gcra:
        """An allowance that is whole at ``now``."""
        return cls(rate, capacity, now)

    def span(self, units: float) -> float:
        """The seconds ``units`` take to come back (``T * units``; 0 for none), at most MAX_AHEAD_S."""
        return min(max(units, 0.0) / self.rate, MAX_AHEAD_S)

    def _start(self, now: float) -> float:
        """The time it is read at: ``now``, or the end of the pause while paused."""
        return now if self.hold is None else max(now, self.hold)

    def _ahead(self, now: float, tat: float) -> float:
        """``tat``, no further than MAX_AHEAD_S after ``now``."""
        return min(tat, now + MAX_AHEAD_S)

    def level(self, now: float) -> float:
        """What it holds at ``now``: ``capacity`` at most, below zero while turns are handed out ahead."""
        return self.capacity - max(0.0, self.tat - self._start(now)) * self.rate

    def take(self, now: float, amount: float = 1.0) -> tuple[float, Gcra]:
        """Schedule a request of ``amount`` units (at most ``capacity`` is counted) arriving at ``now``.

        Returns the time it may go, ``max(now, tat - T * (capacity - amount))``,
        never before the pause ends, and the allowance with it counted.
        """
        amount = min(max(amount, 0.0), self.capacity)
        start = self._start(now)
        at = max(start, self.tat - self.span(self.capacity - amount))
        return at, replace(self, tat=self._ahead(now, max(self.tat, start) + self.span(amount)))

    def give_back(self, amount: float) -> Gcra:
        """The allowance with ``amount`` units counted earlier given back (a turn withdrawn before it was used)."""
        return replace(self, tat=self.tat - self.span(amount))

    def with_level(self, now: float, level: float) -> Gcra:
        """The allowance holding ``level`` units at ``now`` (at most ``capacity``; below zero for turns owed)."""
        start = self._start(now)
        return replace(self, tat=self._ahead(now, start + self.span(self.capacity - min(level, self.capacity))))

    def retuned(self, now: float, rate: float, capacity: float) -> Gcra:
        """The allowance refilled at ``rate`` and holding at most ``capacity`` from ``now`` on, holding what it held."""
        level = self.level(now)
        return replace(self, rate=rate, capacity=capacity).with_level(now, level)

    def paused(self, now: float, until: float) -> Gcra:
        """Nothing scheduled before ``until``: empty (or owing what it owed) one interval ``T`` before it.

        Pauses do not add up: the later end wins.
        """
        start = self._start(now)
        level = self.level(now)
        hold = min(max(start, until - self.span(1.0)), now + MAX_AHEAD_S)
        return replace(self, hold=hold).with_level(now, min(level, 0.0))
