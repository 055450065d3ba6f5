"""What every grader test shares: nothing in the package under test ever waits for real.

The exercises return waits (a backoff, a Retry-After, a token bucket's turn) and
the client sleeps through an injected ``sleep``. A function that calls
``time.sleep`` or ``asyncio.sleep`` itself would make the caller wait twice, and
the grader wait for real; here it fails its test at once instead.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

PACKAGE = "llm_client"


def _called_from_the_package() -> bool:
    """Whether a frame of the package under test is on the stack (the grader's own waits are allowed)."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        if str(frame.f_globals.get("__name__", "")).partition(".")[0] == PACKAGE:
            return True
        frame = frame.f_back
    return False


@pytest.fixture(autouse=True)
def no_real_sleep(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test when code in llm_client calls time.sleep or asyncio.sleep (it must return the wait).

    asyncio is patched only once something has imported it (an asyncio.sleep can only wait inside an
    event loop); the grader does not import it just for this, which would cost every run its import.
    """
    real_sleep = time.sleep

    def guarded_sleep(seconds: float) -> None:
        if _called_from_the_package():
            pytest.fail(
                f"expected no real wait, got time.sleep({seconds!r}) called from llm_client: "
                "return the wait and let the caller's injected sleep do the waiting"
            )
        real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", guarded_sleep)
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None:
        real_async_sleep = asyncio.sleep

        def guarded_async_sleep(delay: float, *args: Any, **kwargs: Any) -> Any:
            if _called_from_the_package():
                pytest.fail(
                    f"expected no real wait, got asyncio.sleep({delay!r}) called from llm_client: "
                    "return the wait and let the caller's injected sleep do the waiting"
                )
            return real_async_sleep(delay, *args, **kwargs)

        monkeypatch.setattr(asyncio, "sleep", guarded_async_sleep)
    yield
