"""One renderer per result: advice, explanation, what-if, lint findings, the tactic catalog.

Each ``*_blocks`` function decides *what* is shown and in which words (what is hidden, how a
value or an unknown reads: ``show``); it returns plain blocks (``Line``, ``Table``) that carry
style names but no layout. Two writers lay them out: ``to_text`` (the results' ``__str__`` and
the testing kit's failure messages) and ``to_console`` (the command line, through rich), so the
words are written once and the two outputs cannot drift apart.

This module imports nothing of the library at run time (result types only for mypy) and rich
only inside ``to_console``, so ``__str__`` and the testing kit stay cheap to import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from rich.console import Console

    from ._advice import Advice, Fact, SetAside
    from ._catalog import Tactic
    from ._explain import ConditionCheck, Explanation
    from ._lint import Finding
    from ._whatif import WhatIf

#: Situation tests are named ``situation.<id>``; their reasons are carriers, not facts of the state.
_SITUATION = "situation."

# -- values --------------------------------------------------------------------------------------


def show(value: Any) -> str:
    """A value as every output prints it: ``true``/``false``, ``unknown`` for None, lists joined by commas."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "unknown"
    if isinstance(value, (list, tuple)):
        return ", ".join(show(v) for v in value)
    return str(value)


def plural(n: int, word: str) -> str:
    """``1 error``, ``2 errors``: a count with its noun."""
    return f"{n} {word}{'' if n == 1 else 's'}"


# -- blocks --------------------------------------------------------------------------------------

#: A run of text and its rich style name ("" for none); a newline in the text breaks the line.
Span = tuple[str, str]


@dataclass(frozen=True)
class Line:
    """One line of running text (never wrapped by the writer, so it stays greppable)."""

    spans: tuple[Span, ...]

    @property
    def text(self) -> str:
        """The line without styles."""
        return "".join(text for text, _ in self.spans)


@dataclass(frozen=True)
class Column:
    """A table column: its header, its alignment, and whether it may wrap."""

    header: str
    justify: Literal["left", "right"] = "left"
    no_wrap: bool = False


@dataclass(frozen=True)
class Table:
    """Rows of cells (each cell a tuple of spans, newlines allowed) under a title and a header row."""

    columns: tuple[Column, ...]
    rows: tuple[tuple[tuple[Span, ...], ...], ...]
    title: str = ""
    lines: bool = True
    header: bool = True


Block = Line | Table


def line(*spans: Span | str) -> Line:
    """A Line from spans; a bare string is a span without style."""
    return Line(tuple((s, "") if isinstance(s, str) else s for s in spans))


def cell(*spans: Span | str) -> tuple[Span, ...]:
    """A table cell from spans; a bare string is a span without style."""
    return tuple((s, "") if isinstance(s, str) else s for s in spans)


# -- writers -------------------------------------------------------------------------------------


def to_text(blocks: Iterable[Block]) -> str:
    """The blocks as plain text: tables as aligned columns (two spaces apart, indented two)."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Line):
            out.append(block.text)
        else:
            out += _text_table(block)
    return "\n".join(out)


def _text_table(table: Table) -> list[str]:
    """A table as lines of text; a cell with several lines makes its row that many lines high."""
    grid = [[c.header for c in table.columns]] * table.header + [
        ["".join(t for t, _ in c) for c in row] for row in table.rows
    ]
    split = [[text.split("\n") for text in row] for row in grid]
    widths = [max(len(part) for row in split for part in row[i]) for i in range(len(table.columns))]
    lines = [table.title] if table.title else []
    for row in split:
        for k in range(max(len(parts) for parts in row)):
            cells = []
            for col, width, parts in zip(table.columns, widths, row, strict=True):
                text = parts[k] if k < len(parts) else ""
                cells.append(text.rjust(width) if col.justify == "right" else text.ljust(width))
            lines.append(("  " + "  ".join(cells)).rstrip())
    return lines


def to_console(blocks: Iterable[Block], console: Console) -> None:
    """The blocks on a rich console: lines in their styles, tables drawn as rich tables."""
    from rich.table import Table as RichTable
    from rich.text import Text

    for block in blocks:
        if isinstance(block, Line):
            console.print(Text.assemble(*block.spans), soft_wrap=True)
            continue
        table = RichTable(
            title=block.title or None, show_lines=block.lines, show_header=block.header, title_justify="left"
        )
        for col in block.columns:
            table.add_column(col.header, justify=col.justify, no_wrap=col.no_wrap)
        for row in block.rows:
            table.add_row(*(Text.assemble(*c) for c in row))
        console.print(table)


# -- advice ----------------------------------------------------------------------------------------


def words(fact: Fact) -> str:
    """One fact of a basis in plain words: ``phase: bargaining``, ``deadlock: yes (derived)``."""
    from ._vocabulary import label

    shown = label(fact.path, fact.value) if isinstance(fact.value, (str, bool)) else show(fact.value)
    return f"{fact.path}: {shown}" + ("" if fact.stated else " (derived)")


def basis_text(basis: Sequence[Fact]) -> str:
    """``phase: bargaining, relationship: long-term, deadlock: stuck (derived)``: a basis in plain words."""
    return ", ".join(words(fact) for fact in basis)


def set_aside_text(aside: SetAside) -> str:
    """``tactic (rule: id) - reason``: what was set aside, by what (rule, unknown, playbook), and why."""
    return f"{aside.tactic} ({aside.by}: {aside.rule_id}) - {aside.reason}"


def set_aside_why(aside: SetAside) -> str:
    """``rule id: reason`` (``playbook: reason``): why, in brief, next to the tactic in a failure message."""
    return f"{'playbook' if aside.by == 'playbook' else aside.rule_id}: {aside.reason}"


def no_recommendation(hidden: int = 0, top: int | None = None) -> str:
    """The line shown for an empty ranking: nothing fits, or ``--top`` hid the ones that fit."""
    if hidden and top is not None:
        return f"(none shown: {plural(hidden, 'recommendation')} fit this state; --top {top} hides them)"
    return "(no recommendation fits this state)"


def advice_blocks(advice: Advice, *, title: str = "", hidden: int = 0, top: int | None = None) -> Iterator[Block]:
    """The full advice: each move with why now, its basis, cautions and sources; then set aside; then questions.

    ``hidden``: how many recommendations fit but were cut by ``top`` (said instead of "nothing fits").
    """
    if advice.recommendations:
        rows = []
        for i, rec in enumerate(advice.recommendations, 1):
            body: list[Span] = [(rec.move, "bold"), ("\n" + rec.rationale, "")]
            if rec.basis:
                body += [("\nbecause: ", "cyan"), (basis_text(rec.basis), "")]
            if rec.cautions:
                body += [("\ncaution: ", "yellow"), (" ".join(rec.cautions), "")]
            body.append(("\nsource: " + "; ".join(f"{s.document} - {s.section}" for s in rec.sources), "dim"))
            rows.append((cell(str(i)), cell(f"{rec.score:.3f}"), cell(rec.tactic), tuple(body)))
        columns = (
            Column("#", "right"),
            Column("score", "right"),
            Column("tactic", no_wrap=True),
            Column("move / why now"),
        )
        yield Table(columns, tuple(rows), title=title)
    else:
        if title:
            yield line(title)
        yield line(("  " if title else "") + no_recommendation(hidden, top))
    for aside in advice.set_aside:
        yield line(("  set aside: ", "dim"), set_aside_text(aside))
    if advice.questions:
        yield line(("worth asking next:", "bold"))
    for i, question in enumerate(advice.questions, 1):
        yield line(f"  {i}. {question.question}  ({question.path}, impact {question.impact:g})")
        for answer in question.answers:
            yield line((f"     - {answer.label or answer.value}: {answer.effect}", "dim"))


def ranking_blocks(advice: Advice) -> Iterator[Block]:
    """The advice in brief (the testing kit's failure messages): rank, score, tactic, rule; set aside; situations."""
    if advice.recommendations:
        columns = (Column("rank", "right"), Column("score", "right"), Column("tactic"), Column("rule"))
        rows = tuple(
            (cell(str(i)), cell(f"{rec.score:.4f}"), cell(rec.tactic), cell(rec.rule_id))
            for i, rec in enumerate(advice.recommendations, 1)
        )
        yield Table(columns, rows, lines=False)
    else:
        yield line("  (nothing recommended)")
    if advice.set_aside:
        yield line("set aside:")
        asides = tuple((cell(aside.tactic), cell(set_aside_why(aside))) for aside in advice.set_aside)
        yield Table((Column("tactic"), Column("why")), asides, lines=False, header=False)
    if advice.situations:
        yield line(f"situations: {', '.join(advice.situations)}")


# -- explanation -----------------------------------------------------------------------------------

_VERDICT_STYLE = {"recommended": "green", "set_aside": "yellow", "not_matched": "red"}
_STATUS_STYLE = {"matched": "green", "blocked": "yellow", "waiting": "yellow", "not matched": "red"}


def as_given(file: str, line: int | None) -> str:
    """``file:line`` as the rule carries it."""
    return f"{file}:{line}" if line is not None else file


def relative(file: str, line: int | None) -> str:
    """``file:line`` with the file relative to the working folder when it is inside it (the command line)."""
    try:
        shown = str(Path(file).resolve().relative_to(Path.cwd()))
    except (ValueError, OSError):
        shown = file
    return as_given(shown, line)


def explanation_blocks(expl: Explanation, where: Callable[[str, int | None], str] = as_given) -> Iterator[Block]:
    """The verdict first, then every rule: its status and each condition with ``[x]``/``[ ]`` and the actual value.

    A situation test that went against the rule shows the state's own conditions that decided
    the situation (``because ...``); the situation tests among them are only carriers and are hidden.
    """
    yield line((f"{expl.tactic}: ", "bold"), (expl.summary, _VERDICT_STYLE[expl.verdict]))
    if expl.score_formula:
        yield line(f"  score: {expl.score_formula}")
    for rule in expl.rules:
        score = f"  score {rule.score}" if rule.score is not None else ""
        yield line(
            (f"  rule {rule.rule_id} ", "bold"),
            (f"({where(rule.file, rule.line)}): ", "dim"),
            (rule.status, _STATUS_STYLE[rule.status]),
            score,
        )
        for label, checks, against in (("when", rule.when, False), ("unless", rule.unless, True)):
            if checks:
                yield line(f"    {label}{f' ({rule.unless_reason})' if label == 'unless' else ''}:")
                yield from _check_lines(checks, against)


def _check_lines(checks: Sequence[ConditionCheck], against: bool) -> Iterator[Line]:
    """Condition lines with [x]/[ ]; a situation test that went ``against`` the rule also shows its because."""
    for c in checks:
        pad = "      " + "  " * c.depth
        actual: Span = (f"   (actual: {show(c.actual)})", "cyan") if c.path is not None else ("", "")
        yield line(pad, ("[x] " if c.held else "[ ] ", "green" if c.held else "red"), c.text, actual)
        if c.because and c.held is against:
            for reason in c.because:
                if not reason.path.startswith(_SITUATION):
                    yield line((f"{pad}      because {reason.plain()}", "dim"))


# -- what-if ---------------------------------------------------------------------------------------


def what_if_blocks(answer: WhatIf) -> Iterator[Block]:
    """The answer, the minimal changes with their effect on the ranking (a table), and the notes."""
    colour = {"already": "green", "found": "green", "none": "yellow"}[answer.status]
    yield line((f"{answer.tactic} ({answer.goal}): ", "bold"), (answer.summary, colour))
    yield line(f"  now: {answer.before}")
    if answer.solutions:
        rows = []
        for i, sol in enumerate(answer.solutions, 1):
            moved = [f"+ {t}" for t in sol.entered if t != answer.tactic] + [f"- {t}" for t in sol.left]
            if not sol.verified:
                moved.insert(0, "NOT verified by advise()")
            rows.append(
                (
                    cell(str(i)),
                    cell("\n".join(str(c) for c in sol.changes)),
                    cell(f"{sol.before.rank or '-'} -> {sol.after.rank or '-'}"),
                    cell(f"{sol.before.score or '-'} -> {sol.after.score or '-'}"),
                    cell("\n".join(moved) or "-"),
                )
            )
        columns = (
            Column("#", "right"),
            Column("change"),
            Column("rank", "right"),
            Column("score", "right"),
            Column("also changes"),
        )
        yield Table(columns, tuple(rows))
        if answer.found > len(answer.solutions):
            yield line(f"  ... and {answer.found - len(answer.solutions)} more of the same size")
    for note in answer.notes:
        yield line((f"  note: {note}", "dim"))


# -- lint findings ---------------------------------------------------------------------------------

_SEVERITY_STYLE = {"error": "red", "warning": "yellow", "info": "cyan"}


def finding_text(finding: Finding) -> str:
    """``file:line: severity [code] rule 'id': message``: one finding on one line."""
    where = as_given(finding.file, finding.line)
    who = f" {finding.kind} '{finding.rule_id}':" if finding.rule_id else ""
    return f"{where}: {finding.severity} [{finding.code}]{who} {finding.message}"


def counts(findings: Sequence[Finding]) -> str:
    """``2 errors, 1 warning``: the findings counted by severity (``no findings`` when there are none)."""
    parts = []
    for severity in ("error", "warning", "info"):
        n = sum(1 for f in findings if f.severity == severity)
        if n:
            parts.append(plural(n, severity))
    return ", ".join(parts) or "no findings"


def findings_blocks(
    findings: Sequence[Finding], what: str, where: Callable[[str, int | None], str] = as_given
) -> Iterator[Block]:
    """One table of findings per file (line, severity, code, rule and message), then the counts."""
    if not findings:
        yield line((f"{what}: no findings", "green"))
        return
    by_file: dict[str, list[Finding]] = {}
    for f in findings:
        by_file.setdefault(f.file, []).append(f)
    columns = (
        Column("line", "right", no_wrap=True),
        Column("severity", no_wrap=True),
        Column("code", no_wrap=True),
        Column("rule / message"),
    )
    for file, group in by_file.items():
        rows = tuple(
            (
                cell(str(f.line) if f.line is not None else "-"),
                cell((f.severity, _SEVERITY_STYLE[f.severity])),
                cell(f.code),
                cell((f.rule_id or "-", "bold"), "\n" + f.message),
            )
            for f in group
        )
        yield Table(columns, rows, title=where(file, None))
    yield line(f"{what}: {counts(findings)}")


def codes_blocks(codes: dict[str, str]) -> Iterator[Block]:
    """The finding codes and what each means."""
    yield Table((Column("code"), Column("meaning")), tuple((cell(c), cell(m)) for c, m in codes.items()))


# -- the tactic catalog ----------------------------------------------------------------------------

#: Below this width the catalog is stacked (one block per tactic) instead of a table.
STACK_BELOW = 100


@dataclass(frozen=True)
class CatalogEntry:
    """One tactic of the catalog as the ``tactics`` command shows it, with its built-in rule count."""

    tactic: Tactic
    rules: int = 0


def tactics_blocks(entries: Sequence[CatalogEntry], width: int) -> Iterator[Block]:
    """The catalog: a table when ``width`` leaves each text column room, else one wrapped block per tactic."""
    if not entries:
        yield line("(no tactic matches)")
        return
    if width >= STACK_BELOW:
        columns = (Column("tactic", no_wrap=True), Column("rules", "right", no_wrap=True), Column("move / when"))
        rows = tuple(
            (
                cell(e.tactic.id),
                cell(str(e.rules)),
                cell(
                    (e.tactic.move, "bold"),
                    ("\nfits: ", "cyan"),
                    e.tactic.fits,
                    ("\nnever when: ", "yellow"),
                    e.tactic.never or "-",
                    ("\nsource: " + "; ".join(e.tactic.documents), "dim"),
                ),
            )
            for e in entries
        )
        yield Table(columns, rows)
        return
    for e in entries:
        yield line((e.tactic.id, "bold"), (f"  ({plural(e.rules, 'built-in rule')})", "dim"))
        for label, text, style in (
            ("move", e.tactic.move, ""),
            ("fits", e.tactic.fits, ""),
            ("never when", e.tactic.never or "-", ""),
            ("source", "; ".join(e.tactic.documents), "dim"),
        ):
            for wrapped in _wrap(f"{label}:".ljust(12) + text, width, indent=14):
                yield line(("  " + wrapped, style))
        yield line("")


def _wrap(text: str, width: int, indent: int) -> list[str]:
    """``text`` wrapped to ``width`` (at least 40) with its continuation lines indented, for stacked entries."""
    import textwrap

    return textwrap.wrap(
        text, width=max(width, 40) - 2, subsequent_indent=" " * (indent - 2), break_long_words=False
    ) or [""]
