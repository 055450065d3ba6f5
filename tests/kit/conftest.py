"""The kit's own tests always test the reference package in solutions/."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import llm_client  # imported here, after tests/conftest.py has chosen the package

    here = Path(__file__).resolve().parent
    if Path(llm_client.__file__).resolve().is_relative_to(ROOT / "solutions"):
        return
    skip = pytest.mark.skip(reason="the kit's tests run against the reference: pytest --solutions")
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(here):
            item.add_marker(skip)
