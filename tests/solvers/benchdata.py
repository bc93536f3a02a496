"""Access to the public benchmark readers (benchmarks/quality/instances.py) from tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "quality" / "instances.py"


def instances_module() -> ModuleType:
    name = "terraplan_bench_instances"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, _PATH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def shared_or_skip() -> Path:
    root = instances_module().shared_root()
    if root is None:
        pytest.skip("public benchmark data (../shared/benchmarks) is absent")
    return root
