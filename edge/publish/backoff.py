"""Back-off for reconnecting and for retrying what the broker refused, and which
connection failures are worth a log line. Pure: no I/O, the caller passes the time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K")


class Backoff:
    """Delays from ``first`` doubling up to ``ceiling``; :meth:`reset` after a success."""

    def __init__(self, first: float, ceiling: float) -> None:
        self.first = first
        self.ceiling = max(first, ceiling)
        self._delay = first

    @property
    def delay(self) -> float:
        """The delay :meth:`next` will return."""
        return self._delay

    def next(self) -> float:
        delay = self._delay
        self._delay = min(self._delay * 2, self.ceiling)
        return delay

    def reset(self) -> None:
        self._delay = self.first


@dataclass(slots=True)
class _Retry:
    delay: float
    due_at: float
    trying: bool = False


class Retries(Generic[K]):
    """Things the broker refused, each retried on its own doubling delay.

    A key is *waiting* from its refusal until it is due, then *trying* (handed
    out by :meth:`due`) until the broker answers: :meth:`refused` again (the
    delay doubles) or :meth:`accepted` (forgotten).
    """

    def __init__(self, first: float, ceiling: float) -> None:
        self.first = first
        self.ceiling = max(first, ceiling)
        self._entries: dict[K, _Retry] = {}

    def refused(self, key: K, now: float) -> bool:
        """Schedule the next try; True when the key was not set aside before."""
        entry = self._entries.get(key)
        if entry is None:
            self._entries[key] = _Retry(self.first, now + self.first)
            return True
        entry.delay = min(entry.delay * 2, self.ceiling)
        entry.due_at = now + entry.delay
        entry.trying = False
        return False

    def accepted(self, key: K) -> bool:
        """Forget the key; True when it had been set aside."""
        return self._entries.pop(key, None) is not None

    def due(self, now: float, limit: int) -> list[K]:
        """Up to ``limit`` waiting keys whose time has come; they become *trying*."""
        keys: list[K] = []
        for key, entry in self._entries.items():
            if len(keys) >= limit:
                break
            if not entry.trying and entry.due_at <= now:
                entry.trying = True
                keys.append(key)
        return keys

    def release_tries(self) -> None:
        """Keys being tried will get no answer (connection lost): due again right away."""
        for entry in self._entries.values():
            entry.trying = False

    def waiting(self, key: K) -> bool:
        """Set aside and not being tried right now."""
        entry = self._entries.get(key)
        return entry is not None and not entry.trying

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)


class FailureLog:
    """Which connection failures are worth a log line: the first, each new reason,
    and a reminder every ``reminder_s`` while the same one repeats."""

    def __init__(self, reminder_s: float) -> None:
        self.reminder_s = reminder_s
        self.count = 0
        self._since: float | None = None
        self._reason: str | None = None
        self._logged_at = 0.0

    def failed(self, reason: str, now: float) -> str | None:
        """Count a failure; the message to log at WARNING, or None to log it at DEBUG."""
        self.count += 1
        if self._since is None:
            self._since = now
        if reason != self._reason:
            self._reason = reason
            self._logged_at = now
            return f"cannot connect to the broker: {reason}"
        if now - self._logged_at >= self.reminder_s:
            self._logged_at = now
            return (
                f"still cannot connect to the broker after {self.count} attempts "
                f"in {now - self._since:.0f} s: {reason}"
            )
        return None

    def recovered(self, now: float) -> str | None:
        """Reset after a successful connection; a message when there had been failures."""
        message = None
        if self.count and self._since is not None:
            message = f"after {self.count} failed attempts in {now - self._since:.0f} s"
        self.count = 0
        self._since = None
        self._reason = None
        return message
