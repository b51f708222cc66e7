"""Repository-level pytest hooks.

`pyproject.toml` makes a leaked pipe, file or socket (ResourceWarning) an error. `tests/test_store.py`
still leaks the pipes of the writers it kills; it is being rewritten with the store engines, and until
that lands its tests keep the default warning. Remove this file once test_store.py closes its pipes.
"""

from __future__ import annotations

import pytest

_LEAKS_PIPES_FOR_NOW = {"test_store.py"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in _LEAKS_PIPES_FOR_NOW:
            item.add_marker(pytest.mark.filterwarnings("default::ResourceWarning"))
            item.add_marker(pytest.mark.filterwarnings("default::pytest.PytestUnraisableExceptionWarning"))
