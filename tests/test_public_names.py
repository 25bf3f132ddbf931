"""Every name a package lists in ``__all__`` can be imported from it."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("package", ["work_compat", "celery_shim", "webui", "celery_shim.signals", "celery_shim.states"])
def test_every_public_name_is_importable(package: str) -> None:
    module = importlib.import_module(package)
    missing = [name for name in getattr(module, "__all__", ()) if not hasattr(module, name)]
    assert missing == []
