"""The tactic catalog of tactics.md: stable ids, the move, when it fits, never when, source documents."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tactic:
    """One catalog entry; ``id`` is a public, never-changing contract."""

    id: str
    family: str
    move: str
    fits: str
    never: str
    documents: tuple[str, ...]


FAMILIES = ("authority", "pressure", "outcome", "trust", "prep")

CATALOG: dict[str, Tactic] = {
    t.id: t
    for t in (
        Tactic(
            "authority.confirm_at_opening",
            "authority",
            "At the start, ask whether they can decide today if the terms suit them.",
            "Opening phase (or start of bargaining) and their authority is not yet known.",
            "Their authority is already confirmed as full.",
            ("000_b924a11848c92eba.txt", "004_8875d33a9d272d34.txt"),
        ),
        Tactic(
            "authority.engage_decision_maker",
            "authority",
            "Ask to talk to the claimed decision maker directly, and keep a wider margin in reserve.",
            "They invoke a superior early (opening or bargaining), when the claim costs them the most.",
            "",
            ("000_b924a11848c92eba.txt", "004_8875d33a9d272d34.txt"),
        ),
        Tactic(
            "authority.provoke",
            "authority",
            "Politely test their standing: will the boss follow their recommendation, what if the boss says no.",
            "They claim a superior, they are experienced, and the claim was not removed at the opening.",
            "Trust is low and the relationship is long term (face-threatening).",
            ("000_b924a11848c92eba.txt", "004_8875d33a9d272d34.txt"),
        ),
        Tactic(
            "authority.ask_to_recommend",
            "authority",
            "Ask them to recommend our offer to their superior, so they commit to arguing for it.",
            "They claim a superior must approve.",
            "",
            ("000_b924a11848c92eba.txt", "004_8875d33a9d272d34.txt"),
        ),
        Tactic(
            "authority.set_easy_premises",
            "authority",
            "Set small, easy conditions that lead them step by step to a decision.",
            "They claim a superior, or hesitate to decide.",
            "",
            ("000_b924a11848c92eba.txt", "004_8875d33a9d272d34.txt"),
        ),
        Tactic(
            "authority.tit_for_tat",
            "authority",
            "Say we too must consult our superiors, and return to our opening price level.",
            "They keep invoking a superior (two claims or more).",
            "",
            ("000_b924a11848c92eba.txt", "004_8875d33a9d272d34.txt"),
        ),
        Tactic(
            "pressure.gradual_escalation",
            "pressure",
            "Advance and retreat, adding pressure a step at a time instead of all at once.",
            "Bargaining, whenever any pressure tactic is in play.",
            "",
            ("001_b456b039e9603b86.txt",),
        ),
        Tactic(
            "pressure.strong_posture",
            "pressure",
            "Lower their expectations: show a firm budget and that other partners are waiting.",
            "Bargaining and we have credible alternatives.",
            "We have no alternatives (the bluff is exposed).",
            ("001_b456b039e9603b86.txt",),
        ),
        Tactic(
            "pressure.third_party",
            "pressure",
            "Bring in competitors or a changed need, so they feel the market, while leaving the door open.",
            "Stuck on an issue and we have at least one alternative partner.",
            "",
            ("001_b456b039e9603b86.txt",),
        ),
        Tactic(
            "pressure.ultimatum",
            "pressure",
            "A firm final offer, delivered by our top leader and backed by action.",
            "Deadlock, and our top leader can deliver it.",
            "Our top leader cannot deliver it; trust is low and the relationship is long term.",
            ("001_b456b039e9603b86.txt",),
        ),
        Tactic(
            "pressure.emotional",
            "pressure",
            "Show determination by a display: raised voice, silence, walking out (without really leaving).",
            "Deadlock or tension, and we know a mistake or weakness of theirs.",
            "We know no weakness of theirs.",
            ("001_b456b039e9603b86.txt",),
        ),
        Tactic(
            "pressure.conditional_concession",
            "pressure",
            "Concede a little, and only in exchange for a concession from them.",
            "Bargaining or deadlock, particularly when the relationship is long term.",
            "",
            ("001_b456b039e9603b86.txt",),
        ),
        Tactic(
            "pressure.use_deadline",
            "pressure",
            "Use time: their deadline, or the cost of a slow deal to them.",
            "Their time pressure is high and ours is not.",
            "Our time pressure is high and theirs is not.",
            ("001_b456b039e9603b86.txt",),
        ),
        Tactic(
            "outcome.ask_compensating_condition",
            "outcome",
            "Accept the loss on the main point, and ask for a condition they can easily grant in return.",
            "The outcome is going against us and a loss is all but certain.",
            "",
            ("003_3cedbf76b167ba9a.txt",),
        ),
        Tactic(
            "outcome.conceal_bottom_line",
            "outcome",
            "Do not let them see they reached our limit; keep our standing for the next round.",
            "The outcome is going against us.",
            "",
            ("003_3cedbf76b167ba9a.txt",),
        ),
        Tactic(
            "outcome.frame_as_support",
            "outcome",
            "Present the concession as support for them in a hard period, to earn goodwill for later.",
            "We are losing and the relationship is long term.",
            "",
            ("003_3cedbf76b167ba9a.txt",),
        ),
        Tactic(
            "outcome.stay_modest",
            "outcome",
            "Stay low key about the win and speak of future cooperation instead.",
            "The outcome is going our way, closing or after agreement.",
            "",
            ("003_3cedbf76b167ba9a.txt",),
        ),
        Tactic(
            "outcome.let_them_feel_they_won",
            "outcome",
            "Show reluctance when giving the final concession so that they feel they won.",
            "The outcome is going our way, at the close.",
            "",
            ("003_3cedbf76b167ba9a.txt",),
        ),
        Tactic(
            "trust.small_increments",
            "trust",
            "Move slowly, in small steps; never put much on the table at once.",
            "Trust is low, bargaining.",
            "",
            ("004_8875d33a9d272d34.txt",),
        ),
        Tactic(
            "trust.control_documentation",
            "trust",
            "Take the notes ourselves and draft the written recap of what was agreed.",
            "Trust is low, closing or after agreement.",
            "",
            ("004_8875d33a9d272d34.txt",),
        ),
        Tactic(
            "trust.assign_owners",
            "trust",
            "Put a named person against every agreed item.",
            "Trust is low, closing or after agreement.",
            "",
            ("004_8875d33a9d272d34.txt",),
        ),
        Tactic(
            "trust.reciprocal_sequencing",
            "trust",
            'Tie each of our steps to a step they must take first ("if you will, then I will").',
            "Trust is low, closing or after agreement.",
            "",
            ("004_8875d33a9d272d34.txt",),
        ),
        Tactic(
            "trust.verify_authority",
            "trust",
            "Before negotiating, confirm their authority through someone else in their company or a third party.",
            "Trust is low and their authority is unknown or only claimed.",
            "Their authority is already verified.",
            ("004_8875d33a9d272d34.txt",),
        ),
        Tactic(
            "prep.research_counterpart",
            "prep",
            "Learn the client and their company; close gaps in the preliminary work.",
            "Preparation, counterpart not researched.",
            "",
            ("002_0c5247c3135714f9.txt",),
        ),
        Tactic(
            "prep.profile_negotiator",
            "prep",
            "Learn their lead negotiator's style and interests, and plan how to deal with it.",
            "Preparation, their negotiator's style unknown.",
            "",
            ("002_0c5247c3135714f9.txt",),
        ),
        Tactic(
            "prep.plan_opening",
            "prep",
            "Decide how to open once the meeting starts.",
            "Preparation.",
            "",
            ("002_0c5247c3135714f9.txt",),
        ),
        Tactic(
            "prep.anticipate_questions",
            "prep",
            "List their likely key questions and our answers.",
            "Preparation.",
            "",
            ("002_0c5247c3135714f9.txt",),
        ),
        Tactic(
            "prep.gather_evidence",
            "prep",
            "Check we have the arguments and information to back our demands; add what is missing.",
            "Preparation.",
            "",
            ("002_0c5247c3135714f9.txt",),
        ),
        Tactic(
            "prep.anticipate_deadlocks",
            "prep",
            "Foresee likely deadlocks and how to break each.",
            "Preparation.",
            "",
            ("002_0c5247c3135714f9.txt",),
        ),
        Tactic(
            "prep.prepare_alternatives",
            "prep",
            "Prepare fallback proposals in case our first plan is refused.",
            "Preparation, or later when no alternative plan exists.",
            "",
            ("002_0c5247c3135714f9.txt",),
        ),
        Tactic(
            "prep.set_bottom_line",
            "prep",
            "Fix our bottom line, and what we do if it is not met (our best alternative).",
            "No bottom line set yet, in any phase before post-agreement.",
            "",
            ("002_0c5247c3135714f9.txt",),
        ),
        Tactic(
            "prep.plan_agenda",
            "prep",
            "Order the agenda: time for the big topics, easy ones first, keep the lead on the process.",
            "Preparation, several issues on the table.",
            "",
            ("002_0c5247c3135714f9.txt",),
        ),
        # Added with the history rules (issue 5): they read the order of concessions over time.
        Tactic(
            "pressure.taper_concessions",
            "pressure",
            "Make each concession smaller than the one before, or hold.",
            "Our concessions are not getting smaller.",
            "",
            ("001_b456b039e9603b86.txt",),
        ),
        Tactic(
            "pressure.read_their_limit",
            "pressure",
            "Read their shrinking concessions as a sign they are near their limit; secure what is on the table.",
            "Their last three concessions got smaller each time.",
            "",
            ("003_3cedbf76b167ba9a.txt", "001_b456b039e9603b86.txt"),
        ),
    )
}


def catalog_markdown(rules_by_tactic: dict[str, list[str]]) -> str:
    """The catalog as a Markdown page, with the rules that produce each tactic (docs/tactics.md)."""
    out = [
        "# Tactics",
        "",
        "The catalog of tactic ids (a public contract: ids never change once released), the move,",
        "when it fits, when never, the source documents, and the built-in rules that recommend it.",
        "Generated by `negotiation-rules tactics --markdown`; a test keeps this page in sync.",
    ]
    for family in FAMILIES:
        out += [
            "",
            f"## {family}",
            "",
            "| id | move | when it fits | never when | sources | rules |",
            "|---|---|---|---|---|---|",
        ]
        for t in CATALOG.values():
            if t.family == family:
                rules = ", ".join(f"`{r}`" for r in rules_by_tactic.get(t.id, [])) or "-"
                docs = ", ".join(f"`{d}`" for d in t.documents)
                out.append(f"| `{t.id}` | {t.move} | {t.fits} | {t.never or '-'} | {docs} | {rules} |")
    return "\n".join(out) + "\n"
