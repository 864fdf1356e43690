"""Start-up cost: ``import negotiation_rules`` against its dependencies alone, and ``demo`` against the import.

Each command runs as a fresh process, the commands taking turns, ``--runs`` times (default 10);
the minimum wall time of each is printed with the ratios the targets of issue 13 name
(import <= 1.5x the dependencies; ``negotiation-rules demo`` <= 1.2x the bare import).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

COMMANDS = {
    "python (nothing)": [sys.executable, "-c", "pass"],
    "dependencies alone": [sys.executable, "-c", "import durable_rules_engine, pydantic, yaml"],
    "import negotiation_rules": [sys.executable, "-c", "import negotiation_rules"],
    "negotiation-rules demo": [sys.executable, "-m", "negotiation_rules", "demo"],
}


def main() -> None:
    """Time every command in turn and print the minimum of each and the two ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    best = dict.fromkeys(COMMANDS, float("inf"))
    for _ in range(runs):
        for name, argv in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
            best[name] = min(best[name], time.perf_counter() - start)
    for name, seconds in best.items():
        print(f"{name:26} {seconds * 1000:7.1f} ms (min of {runs})")
    imported, demo = best["import negotiation_rules"], best["negotiation-rules demo"]
    print(f"import / dependencies: {imported / best['dependencies alone']:.2f}x (target 1.5x)")
    print(f"demo / import:         {demo / imported:.2f}x (target 1.2x)")


if __name__ == "__main__":
    main()
