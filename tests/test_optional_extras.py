"""The optional extras stay optional: the core never imports pandas, pyarrow or Dask, and ``score``
without the extra says which one to install."""

from __future__ import annotations

import subprocess
import sys

import pytest

import negotiation_rules

HEAVY = ("pandas", "pyarrow", "numpy", "dask", "distributed")


def test_importing_the_library_and_its_command_line_loads_no_dataframe_library() -> None:
    code = (
        "import sys, negotiation_rules, negotiation_rules._cli, negotiation_rules._batch\n"
        "negotiation_rules._cli.build_parser()\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"


def test_the_dataframe_names_are_loaded_on_first_use_and_others_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'advise_frames'"):
        negotiation_rules.advise_frames  # noqa: B018
    for name in ("advise_frame", "frame_states", "advise_dask", "score"):
        assert name not in negotiation_rules.__all__  # a star import never needs an extra


def test_score_without_the_dask_extra_says_what_to_install() -> None:
    code = (
        "import sys\n"
        "sys.modules['dask'] = sys.modules['distributed'] = None  # as if the extra were not installed\n"
        "from negotiation_rules._cli import main\n"
        "sys.exit(main(['score', 'in.parquet', 'out']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr == (
        "negotiation-rules: error: score needs the optional extra 'dask' (dask is not installed): "
        "pip install 'negotiation-rules[dask]'\n"
    )


@pytest.mark.parametrize(
    ("name", "blocked", "extra"),
    [("advise_frame", "pandas", "dataframe"), ("frame_states", "pandas", "dataframe"), ("score", "dask", "dask")],
)
def test_importing_a_table_function_without_its_extra_names_the_extra_to_install(
    name: str, blocked: str, extra: str
) -> None:
    code = (
        f"import sys\nsys.modules[{blocked!r}] = None  # as if the extra were not installed\n"
        f"from negotiation_rules import {name}\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1] == (
        f"ImportError: negotiation_rules.{name} needs the optional extra '{extra}' ({blocked} is not installed): "
        f"pip install 'negotiation-rules[{extra}]'"
    )
