"""What the library makes on first use (pydantic's deferred models, lazily imported modules) is made before a fork.

pydantic builds a deferred model's validator under a lock of its own, and Python imports a
module under a lock of that module. A thread in its first ``advise()`` holds them while it
builds or imports; a child forked meanwhile inherits them held (only the forking thread lives
on) and would wait for ever on its own first use. So the forking thread builds the library's
models and imports its lazily imported modules first (waiting for a build or an import under
way to finish): the child inherits them done. It costs a process that forks before its first
advice about 50-80 ms, once.
"""

from __future__ import annotations

import importlib
import os

from pydantic import BaseModel

__all__ = ["build_before_fork", "import_before_fork"]


def build_before_fork(*models: type[BaseModel]) -> None:
    """Have ``models`` built by the forking thread before any fork of this process (see the module docstring)."""

    def build() -> None:
        for model in models:
            if not model.__pydantic_complete__:
                model.model_rebuild()

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(before=build)


def import_before_fork(*modules: str) -> None:
    """Have ``modules`` (absolute names) imported by the forking thread before any fork (see the module docstring)."""

    def load() -> None:
        for name in modules:
            importlib.import_module(name)

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(before=load)
