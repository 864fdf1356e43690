"""Start-up cost: ``import negotiation_rules`` against its dependencies alone, and ``demo`` against the import.

The same commands as the start-up section of ``run.py``: each runs as a fresh process, the
commands taking turns, ``--runs`` times (default 10); the minimum wall time of each is printed
with the ratios the targets of issue 13 name (import <= 1.5x the dependencies;
``negotiation-rules demo`` <= 1.2x the bare import). This checkout's package is the one
imported (``PYTHONPATH``, and the commands run in its folder: ``python -c`` puts the current
folder first on the path), and one untimed round first lets Python write the bytecode files an
installed package has (a checkout run with ``PYTHONDONTWRITEBYTECODE`` would otherwise compile
every module from source in every timed process).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def commands() -> dict[str, list[str]]:
    """The timed commands: bare Python, the dependencies alone, the import, and the installed demo command."""
    script = Path(sys.executable).parent / "negotiation-rules"
    demo = [str(script), "demo"] if script.exists() else [sys.executable, "-m", "negotiation_rules", "demo"]
    # what the library imports at `import negotiation_rules` from its dependencies (rich is the CLI's)
    dependencies = "import durable_rules_engine, yaml; from pydantic import BaseModel"
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "dependencies alone": [sys.executable, "-c", dependencies],
        "import negotiation_rules": [sys.executable, "-c", "import negotiation_rules"],
        "negotiation-rules demo": demo,
    }


def environment() -> dict[str, str]:
    """This checkout first on the path; bytecode files written and read as for an installed package."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def main() -> None:
    """Time every command in turn and print the minimum of each and the two ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    env, argvs = environment(), commands()
    for argv in argvs.values():  # untimed: writes the bytecode files, warms the file cache
        subprocess.run(argv, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    best = dict.fromkeys(argvs, float("inf"))
    for _ in range(runs):
        for name, argv in argvs.items():
            start = time.perf_counter()
            subprocess.run(argv, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
            best[name] = min(best[name], time.perf_counter() - start)
    for name, seconds in best.items():
        print(f"{name:26} {seconds * 1000:7.1f} ms (min of {runs})")
    imported, demo = best["import negotiation_rules"], best["negotiation-rules demo"]
    print(f"import / dependencies: {imported / best['dependencies alone']:.2f}x (target 1.5x)")
    print(f"demo / import:         {demo / imported:.2f}x (target 1.2x)")


if __name__ == "__main__":
    main()
