"""The compiled evaluator against durable-rules, as ratios measured in one run (docs/performance.md).

    python benchmarks/compiled.py            # built-in rules and the 4,000-rule book, 5 rounds
    python benchmarks/compiled.py --quick    # built-in rules only, 3 rounds

Per state, the minimum over rounds of the mean time per call (µs) of: the bare generated
function on the prepared flat fact (``compiled_for(ruleset).bare``), ``Engine.evaluate`` on the
same fact (durable-rules), ``advise(engine="compiled", questions=0)`` and ``advise(questions=0)``.
Methods are interleaved round by round over the same states, so a slow moment hits all alike.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workload import flat_facts, states, synthetic

from negotiation_rules import Ruleset, advise
from negotiation_rules._compiled import compiled_for
from negotiation_rules._engine import engine_for
from negotiation_rules._ruleset import builtin_ruleset


def per_call(methods: dict[str, Callable[[], object]], count: int, rounds: int) -> dict[str, float]:
    """Minimum over ``rounds`` of each method's mean µs per state (each call runs ``count`` states)."""
    best = dict.fromkeys(methods, float("inf"))
    for _ in range(rounds):
        for name, run in methods.items():
            gc.collect()
            start = time.perf_counter_ns()
            run()
            best[name] = min(best[name], (time.perf_counter_ns() - start) / 1000 / count)
    return best


def measure(rules: Ruleset, batch: Sequence[Any], rounds: int) -> dict[str, float]:
    """The four figures for one ruleset over ``batch``."""
    facts = flat_facts(rules, batch)
    bare = compiled_for(rules).bare
    engine = engine_for(rules)
    assert [compiled_for(rules).evaluate(f) for f in facts] == [engine.evaluate(f) for f in facts]
    return per_call(
        {
            "bare generated function": lambda: [bare(f) for f in facts],
            "Engine.evaluate (durable-rules)": lambda: [engine.evaluate(f) for f in facts],
            'advise(engine="compiled", questions=0)': lambda: [
                advise(s, ruleset=rules, questions=0, engine="compiled") for s in batch
            ],
            "advise(questions=0) (durable-rules)": lambda: [advise(s, ruleset=rules, questions=0) for s in batch],
        },
        len(batch),
        rounds,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Print the table of figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="built-in rules only, 3 rounds")
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else 5
    batch = states()
    builtin = builtin_ruleset()
    books: list[tuple[str, Ruleset]] = [("built-in", builtin)]
    if not args.quick:
        start = time.perf_counter()
        book = synthetic(4000, flat_facts(builtin, batch), fire=6.0)
        loaded = time.perf_counter() - start
        start = time.perf_counter()
        compiled_for(book)
        print(f"4,000-rule book: loaded in {loaded:.1f} s, compiled to Python in {time.perf_counter() - start:.2f} s")
        books.append(("4,000 rules", book))
    results = {name: measure(rules, batch, rounds) for name, rules in books}
    bare = results["built-in"]["bare generated function"]
    print(f"\n{len(batch)} states, min of {rounds} rounds, µs per state (x: ratio to the built-in bare function)")
    for name, figures in results.items():
        print(f"\n{name} ({len(dict(books)[name].rules)} rules)")
        for method, value in figures.items():
            own = value / figures["bare generated function"]
            print(f"  {method:42} {value:9.1f} µs   {value / bare:6.1f}x   ({own:.1f}x this book's bare)")
    if len(results) > 1:
        for method in results["built-in"]:
            ratio = results["4,000 rules"][method] / results["built-in"][method]
            print(f"  4,000 rules / built-in, {method}: {ratio:.2f}x")


if __name__ == "__main__":
    main()
