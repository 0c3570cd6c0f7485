"""Back-off on wrong admin passwords, per client address, in bounded memory.

After `free` wrong passwords from one address, that address waits `first_wait`
seconds before its next try, twice as long after each further wrong one (at most
`max_wait`). While it waits every try is refused, the right password included
(the dashboard answers 429 with Retry-After). A right password clears the
address's count; so does a day without a wrong one. At most `max_addresses`
addresses are remembered: beyond that the least recently failed is forgotten.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

FORGET_AFTER = 86400.0  # seconds without a wrong password


class Backoff:
    def __init__(self, free: int = 5, first_wait: float = 30.0, max_wait: float = 900.0,
                 max_addresses: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.free, self.first_wait, self.max_wait, self.max_addresses = free, first_wait, max_wait, max_addresses
        self.clock = clock
        self._failed: OrderedDict[str, tuple[int, float, float]] = OrderedDict()  # failures, last, wait until
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._failed)

    def retry_after(self, address: str) -> int:
        """Whole seconds `address` must still wait before trying a password (0: it may try now)."""
        with self._lock:
            _, _, until = self._failed.get(address, (0, 0.0, 0.0))
        return max(0, math.ceil(until - self.clock()))

    def failed(self, address: str) -> None:
        now = self.clock()
        with self._lock:
            failures, last, _ = self._failed.pop(address, (0, now, 0.0))
            failures = 1 if now - last > FORGET_AFTER else failures + 1
            wait = min(self.first_wait * 2 ** (failures - self.free), self.max_wait) if failures >= self.free else 0
            self._failed[address] = (failures, now, now + wait)
            while len(self._failed) > self.max_addresses:
                self._failed.popitem(last=False)

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failed.pop(address, None)
