"""The repository's scripts/ (no installed package) loaded as modules, for the tests that
check what a script generates against what is committed."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from taskplane_testing import REPO_ROOT


def load_script(file_name: str) -> ModuleType:
    """``scripts/<file_name>`` (a module, or a package's folder) as the module
    ``taskplane_script_<stem>``, loaded once."""
    name = "taskplane_script_" + file_name.removesuffix(".py")
    if name in sys.modules:
        return sys.modules[name]
    path = REPO_ROOT / "scripts" / file_name
    if path.is_dir():
        spec = importlib.util.spec_from_file_location(
            name, path / "__init__.py", submodule_search_locations=[str(path)]
        )
    else:
        spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module
