"""What the library makes on first use (pydantic's deferred models, lazily imported modules) is made before a fork.

pydantic builds a deferred model's validator under a lock of its own, and Python imports a
module under a lock of that module. A thread in its first use of the library holds them while
it builds or imports; a child forked meanwhile inherits them held (only the forking thread
lives on) and would wait for ever on its own first use. So, before any fork, the forking
thread imports every module the library may import later and then builds every model it
registered (waiting for an import or a build under way to finish): the child inherits them
done. It costs a process that forks before its first advice about 50-100 ms, once.
"""

from __future__ import annotations

import importlib
import os

from pydantic import BaseModel

__all__ = ["build_before_fork", "import_before_fork"]

#: Modules to import, then models to build, before a fork (in that order: an import may add models).
_modules: list[str] = []
_models: list[type[BaseModel]] = []


def build_before_fork(*models: type[BaseModel]) -> None:
    """Have ``models`` built by the forking thread before any fork of this process (see the module docstring)."""
    _models.extend(models)


def import_before_fork(*modules: str) -> None:
    """Have ``modules`` (absolute names) imported by the forking thread before any fork (see the module docstring)."""
    _modules.extend(modules)


def _before_fork() -> None:
    """Import the registered modules, then build the registered models (those the imports registered too)."""
    for name in dict.fromkeys(_modules):  # a module several places register is imported once
        importlib.import_module(name)  # waits for an import of it under way in another thread
    for model in list(_models):
        if not model.__pydantic_complete__:
            model.model_rebuild()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork)
