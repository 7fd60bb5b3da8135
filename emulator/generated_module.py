"""Load a package's generated `*_pb2.py` by its file path, without running the package's `__init__`."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

__all__ = ["load_generated_module"]


def load_generated_module(public_name: str, private_name: str, package: str, relative_path: str) -> ModuleType:
    """The module `public_name` if already imported, else `package`'s file `relative_path` run as `private_name`."""
    loaded = sys.modules.get(public_name) or sys.modules.get(private_name)
    if loaded is not None:
        return loaded
    found = importlib.util.find_spec(package)  # locates the package without running its __init__
    if found is None or not found.submodule_search_locations:
        raise ImportError(f"{package} is not installed: {public_name} comes from it")
    path = Path(next(iter(found.submodule_search_locations))) / relative_path
    spec = importlib.util.spec_from_file_location(private_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[private_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[private_name]
        raise
    return module
