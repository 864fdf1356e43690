"""One cache for everything derived from a ruleset: built once, and dropped together with the ruleset."""

from __future__ import annotations

import gc
import threading
import time
import weakref

from negotiation_rules import Ruleset, advise, explain, what_if
from negotiation_rules._derived import derived, derived_names
from negotiation_rules._engine import engine_for

RULES = """\
rules:
  - id: anchor.first.t
    tactic: anchor.first
    move: Open with an ambitious anchor.
    rationale: Nobody has named a number yet.
    when: {phase: opening, trust: [low, medium]}
    weight: 0.8
    sources: [{document: d.pdf, section: s}]
"""


def _used(rules: Ruleset) -> None:
    """Advise, explain and ask what-if with ``rules``: every kind of derived value gets built."""
    advise({"phase": "opening", "trust": "low"}, ruleset=rules)
    explain({"phase": "opening"}, "anchor.first", ruleset=rules)
    what_if({"phase": "bargaining"}, "anchor.first", ruleset=rules, max_changes=1)


def test_advise_explain_and_what_if_keep_what_they_derive_in_the_one_cache() -> None:
    rules = Ruleset.from_text(RULES, file="one.yaml")
    _used(rules)
    names = derived_names(rules)
    assert "negotiation_rules._compiler.compile_ruleset" in names
    assert "negotiation_rules._engine.Engine" in names
    assert "negotiation_rules._ranking._build_plans" in names
    assert "negotiation_rules._whatif._tests_by_path" in names
    assert "negotiation_rules._explain.situations_by_id" in names
    assert engine_for(rules) is engine_for(rules)
    assert engine_for(rules).compiled is rules.compiled()


def test_dropping_a_ruleset_drops_everything_derived_from_it() -> None:
    rules = Ruleset.from_text(RULES, file="two.yaml")
    _used(rules)
    refs = [weakref.ref(rules), weakref.ref(engine_for(rules)), weakref.ref(rules.compiled())]
    del rules
    gc.collect()
    assert [ref() for ref in refs] == [None, None, None]


def test_a_value_is_built_once_however_many_threads_ask_for_it_at_once() -> None:
    rules = Ruleset.from_text(RULES, file="three.yaml")
    calls: list[int] = []

    def slow(ruleset: Ruleset) -> object:
        calls.append(1)
        time.sleep(0.05)
        return object()

    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(derived(rules, slow))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len({id(value) for value in got}) == 1


def test_two_rulesets_never_share_a_derived_value() -> None:
    one, two = Ruleset.from_text(RULES, file="a.yaml"), Ruleset.from_text(RULES, file="b.yaml")
    assert engine_for(one) is not engine_for(two)
    assert derived(one, lambda r: r.name) == "a" and derived(two, lambda r: r.name) == "b"
