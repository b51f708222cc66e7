"""Fixtures for the dashboard tests; the helpers live in `tuikit` (a unique module name: the test
tree has more than one conftest)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tuikit import NOW, World, fill, write_config

from socialtui.clock import FixedClock
from socialtui.store import Store


@pytest.fixture
def world(tmp_path: Path) -> World:
    """A config and a store in tmp_path, filled through the Store API, at a fixed time."""
    config = write_config(tmp_path)
    store = Store(config.team.data_dir)
    items = fill(store)
    return World(config, store, FixedClock(NOW), items)
