"""Condition nodes own their walk: each node lists its children, and every consumer walks the tree
through them (children, walk, leaves, parts, situations, fields) instead of switching on node types."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from negotiation_rules._compiler import _engine_rules, compile_ruleset, count_alternatives, dnf
from negotiation_rules._conditions import All, AnyOf, Condition, Count, Not, Test, evaluate
from negotiation_rules._ruleset import builtin_ruleset

PHASE = Test("phase", "eq", "opening", 3)
UNKNOWN_TRUST = Test("trust", "exists", False, 4)
OFFERS = Count("history", Test("kind", "eq", "offer"), "gte", 2, 5)
STUCK = Test("situation.talks_stuck", "eq", True, 6)
NOT_OFFERS = Not(OFFERS, 7)
EITHER = AnyOf((UNKNOWN_TRUST, NOT_OFFERS), 8)
TREE = All((PHASE, EITHER, STUCK), 2)


def test_a_test_and_a_count_are_leaves_without_children() -> None:
    for leaf in (PHASE, UNKNOWN_TRUST, OFFERS, STUCK):
        assert leaf.children == ()
        assert leaf.parts == ()
        assert list(leaf.walk()) == [leaf]
        assert leaf.leaves() == [leaf]


def test_a_count_s_where_is_about_list_items_so_it_is_not_a_child() -> None:
    assert OFFERS.where is not None
    assert OFFERS.where not in list(OFFERS.walk())


def test_all_and_any_have_their_items_as_children_and_not_its_one_item() -> None:
    assert TREE.children == (PHASE, EITHER, STUCK)
    assert EITHER.children == (UNKNOWN_TRUST, NOT_OFFERS)
    assert NOT_OFFERS.children == (OFFERS,)
    assert All(()).children == () and AnyOf(()).children == ()


def test_walk_visits_every_node_once_depth_first_left_to_right() -> None:
    assert list(TREE.walk()) == [TREE, PHASE, EITHER, UNKNOWN_TRUST, NOT_OFFERS, OFFERS, STUCK]
    assert TREE.leaves() == [PHASE, UNKNOWN_TRUST, OFFERS, STUCK]


def test_parts_push_a_not_through_to_its_negation_and_leave_other_children_as_written() -> None:
    assert NOT_OFFERS.parts == (Count("history", OFFERS.where, "lt", 2, 5),)
    assert TREE.parts == TREE.children
    assert Not(TREE).parts == (TREE.negate(),)


def test_situations_and_fields_split_the_leaves_by_what_they_read() -> None:
    assert TREE.situations() == {"talks_stuck"}
    assert TREE.fields() == {"phase", "trust", "history"}
    assert PHASE.situation is None and STUCK.situation == "talks_stuck" and OFFERS.situation is None


def test_a_leaf_knows_what_it_reads_when_its_key_is_absent_a_count_of_nothing_being_zero() -> None:
    assert PHASE.absent is None and OFFERS.absent == 0
    assert not PHASE.holds({}) and Count("history", None, "eq", 0).holds({})


def test_each_group_knows_its_keyword_in_the_rule_format() -> None:
    assert (TREE.keyword, EITHER.keyword, NOT_OFFERS.keyword) == ("all", "any", "not")


# -- properties over random trees ------------------------------------------------------------------

LEAVES = st.sampled_from(
    [
        Test("phase", "eq", "bargaining"),
        Test("phase", "in", ("opening", "closing")),
        Test("trust", "ne", "low"),
        Test("trust", "exists", False),
        Test("deadlock", "eq", True),
        Test("alternatives", "gte", 2),
        Test("alternatives", "lt", 1),
        Count("history", None, "gte", 1),
    ]
)


def _groups(children: st.SearchStrategy[Condition]) -> st.SearchStrategy[Condition]:
    """An all, an any (of one to three children) or a not over ``children``."""
    items = st.lists(children, min_size=1, max_size=3).map(tuple)
    return st.one_of(items.map(All), items.map(AnyOf), children.map(Not))


CONDITIONS: st.SearchStrategy[Condition] = st.recursive(LEAVES, lambda children: _groups(children), max_leaves=8)
FACTS = st.fixed_dictionaries(
    {},
    optional={
        "phase": st.sampled_from(["opening", "bargaining", "closing"]),
        "trust": st.sampled_from(["low", "medium", "high"]),
        "deadlock": st.booleans(),
        "alternatives": st.integers(0, 3),
        Count("history", None, "gte", 1).key: st.integers(0, 2),
    },
)
WHERE = SimpleNamespace(file="t.yaml", line=1, id="t")


@settings(max_examples=200, deadline=None)
@given(CONDITIONS)
def test_the_compiler_reads_only_fact_keys_of_leaves_the_walk_visits(cond: Condition) -> None:
    walked = {leaf.key for leaf in cond.leaves()}
    for rule in _engine_rules("r:t", 0, cond, WHERE):
        assert rule.keys <= walked
        assert {key for key, _ in rule.pins} <= walked


@settings(max_examples=200, deadline=None)
@given(CONDITIONS, FACTS)
def test_the_alternatives_the_compiler_runs_mean_what_the_tree_means(cond: Condition, fact: dict[str, Any]) -> None:
    alternatives = dnf(cond)
    assert count_alternatives(cond) == len(alternatives)
    assert evaluate(cond, fact) == any(all(leaf.holds(fact) for leaf in alt) for alt in alternatives)


@settings(max_examples=200, deadline=None)
@given(CONDITIONS, FACTS)
def test_a_not_holds_exactly_when_its_pushed_negation_does(cond: Condition, fact: dict[str, Any]) -> None:
    assert Not(cond).holds(fact) == cond.negate().holds(fact)
    assert Not(Not(cond)).holds(fact) == cond.holds(fact)


def test_every_key_the_built_in_rules_compile_to_is_a_leaf_the_walk_visits() -> None:
    rules = builtin_ruleset()
    conditions = [s.when for s in rules.situations] + [c for r in rules.rules for c in (r.when, r.unless) if c]
    walked = {leaf.key for cond in conditions for leaf in cond.leaves()}
    walked |= {f"situation__{s.id}" for s in rules.situations}
    compiled = compile_ruleset(rules)
    assert {key for shard in compiled.shards for key in shard.keys} <= walked
    assert {count.key for count in compiled.counts} == {
        leaf.key for cond in conditions for leaf in cond.leaves() if isinstance(leaf, Count)
    }
