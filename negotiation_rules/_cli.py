"""The ``negotiation-rules`` command: demo, advise, explain, what-if, lint, tactics, schema.

Every command prints readable output for people (rich tables) and JSON with ``--json``; a state
is a JSON file or ``-`` for stdin. Exit codes: 0 ok, 1 findings (``lint``), 2 a usage or input
error (one line on stderr, never a traceback), 141 when the reader closed the pipe.

To add a command: write ``cmd_<name>(args) -> int`` and register it in ``build_parser()`` with
``add_command``; ``add_state_argument`` and ``add_rules_options`` give the shared options.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ._advice import Advice, Fact
from ._advisor import advise
from ._catalog import CATALOG, catalog_markdown
from ._compiled import ENGINES
from ._errors import NegotiationRulesError
from ._examples import EXAMPLES
from ._explain import Explanation, explain, show
from ._lint import CODES, Finding, lint
from ._ruleset import builtin_ruleset
from ._score import DESCRIPTION as SCORE_HELP
from ._score import EXAMPLES as SCORE_EXAMPLES
from ._score import add_score_options, cmd_score
from ._server_cli import MissingExtra, add_serve_options, run_serve
from ._state import MAX_INPUT_BYTES, NegotiationState, parse_state
from ._vocabulary import label as plain_words
from ._whatif import GOALS, MAX_CHANGES, WhatIf, what_if

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
#: The shell's status for a command whose reader closed the pipe (128 + SIGPIPE).
EXIT_BROKEN_PIPE = 141
PROG = "negotiation-rules"


class UsageError(Exception):
    """A user mistake on the command line (bad file, bad option): one line, exit 2."""


class _Console(Console):
    """rich's Console, but a closed pipe (``... | head``) ends the command through ``main``."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


def _console() -> Console:
    """Rich output on stdout; a fixed width when piped, so scripts and tests see stable lines."""
    return _Console(file=sys.stdout, soft_wrap=False, width=None if sys.stdout.isatty() else 120)


def _read_state(source: str) -> NegotiationState:
    """The state from a JSON file, or from stdin for ``-``: at most ``MAX_INPUT_BYTES`` are read."""
    where = "from stdin" if source == "-" else f"file {source if len(source) <= 200 else source[:200] + '...'}"
    try:
        if source == "-":
            stream = getattr(sys.stdin, "buffer", None)
            data: bytes | str = (
                stream.read(MAX_INPUT_BYTES + 1) if stream is not None else sys.stdin.read(MAX_INPUT_BYTES + 1)
            )
        else:
            with Path(source).open("rb") as fh:
                data = fh.read(MAX_INPUT_BYTES + 1)
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"cannot read state {where}: {getattr(exc, 'strerror', None) or type(exc).__name__}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise UsageError(f"state {where} is larger than {MAX_INPUT_BYTES} bytes")
    return parse_state(text)


def _say(console: Console, text: Text | str) -> None:
    """One line of running text: never wrapped by rich (the terminal wraps it), so it stays greppable."""
    console.print(text if isinstance(text, Text) else Text(text), soft_wrap=True)


def _dump(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _where(file: str, line: int | None) -> str:
    """``file:line`` with the file relative to the working folder when it is inside it."""
    try:
        shown = str(Path(file).resolve().relative_to(Path.cwd()))
    except (ValueError, OSError):
        shown = file
    return f"{shown}:{line}" if line is not None else shown


# -- advise and demo ---------------------------------------------------------------------------


def print_advice(advice: Advice, console: Console, title: str = "") -> None:
    """A ranked table of the advice, then what was set aside and why."""
    table = Table(title=title or None, show_lines=True, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("score", justify="right")
    table.add_column("tactic", no_wrap=True)
    table.add_column("move / why now")
    for i, rec in enumerate(advice.recommendations, 1):
        body = Text()
        body.append(rec.move, style="bold")
        body.append("\n" + rec.rationale)
        if rec.basis:
            body.append("\nbecause: ", style="cyan")
            body.append(basis_text(rec.basis))
        if rec.cautions:
            body.append("\ncaution: ", style="yellow")
            body.append(" ".join(rec.cautions))
        body.append("\nsource: " + "; ".join(f"{s.document} - {s.section}" for s in rec.sources), style="dim")
        table.add_row(str(i), f"{rec.score:.3f}", rec.tactic, body)
    if advice.recommendations:
        console.print(table)
    else:
        console.print(
            f"{title}\n  (no recommendation fits this state)" if title else "(no recommendation fits this state)",
            markup=False,
        )
    for aside in advice.set_aside:
        line = Text("  set aside: ", style="dim")
        line.append(f"{aside.tactic} ({aside.by}: {aside.rule_id}) - {aside.reason}")
        _say(console, line)
    if advice.questions:
        _say(console, Text("worth asking next:", style="bold"))
    for i, question in enumerate(advice.questions, 1):
        _say(console, Text(f"  {i}. {question.question}  ({question.path}, impact {question.impact:g})"))
        for answer in question.answers:
            _say(console, Text(f"     - {answer.label or answer.value}: {answer.effect}", style="dim"))


def basis_text(basis: Sequence[Fact]) -> str:
    """``phase: bargaining, relationship: long-term, deadlock: stuck (derived)``: a basis in plain words."""
    parts = []
    for fact in basis:
        shown = plain_words(fact.path, fact.value) if isinstance(fact.value, (str, bool)) else str(fact.value)
        parts.append(f"{fact.path}: {shown}" + ("" if fact.stated else " (derived)"))
    return ", ".join(parts)


def cmd_demo(args: argparse.Namespace) -> int:
    """Advice for the built-in example states."""
    names = args.example or list(EXAMPLES)
    for name in names:
        if name not in EXAMPLES:
            raise UsageError(f"no example '{name}'; choose from: {', '.join(EXAMPLES)}")
    results = {
        name: advise(
            EXAMPLES[name][1], ruleset=args.ruleset, playbook=args.playbook, top=args.top, questions=args.questions
        )
        for name in names
    }
    if args.json:
        _dump({name: advice.model_dump(mode="json") for name, advice in results.items()})
        return EXIT_OK
    console = _console()
    for name, advice in results.items():
        print_advice(advice, console, title=f"{name}: {EXAMPLES[name][0]}")
        console.print()
    return EXIT_OK


def cmd_advise(args: argparse.Namespace) -> int:
    """The ranked advice for one state."""
    advice = advise(
        _read_state(args.state),
        ruleset=args.ruleset,
        playbook=args.playbook,
        top=args.top,
        questions=args.questions,
        engine=args.engine,
    )
    if args.json:
        sys.stdout.write(advice.model_dump_json(indent=2) + "\n")
    else:
        print_advice(advice, _console())
    return EXIT_OK


# -- explain and what-if -----------------------------------------------------------------------


def print_explanation(expl: Explanation, console: Console) -> None:
    """The verdict in colour, then each rule's conditions with [x] held / [ ] did not hold."""
    colour = {"recommended": "green", "set_aside": "yellow", "not_matched": "red"}[expl.verdict]
    head = Text(f"{expl.tactic}: ", style="bold")
    head.append(expl.summary, style=colour)
    _say(console, head)
    if expl.score_formula:
        _say(console, Text(f"  score: {expl.score_formula}"))
    for rule in expl.rules:
        status_colour = {"matched": "green", "blocked": "yellow", "waiting": "yellow", "not matched": "red"}[
            rule.status
        ]
        line = Text(f"  rule {rule.rule_id} ", style="bold")
        line.append(f"({_where(rule.file, rule.line)}): ", style="dim")
        line.append(rule.status, style=status_colour)
        if rule.score is not None:
            line.append(f"  score {rule.score}")
        _say(console, line)
        for label, checks, against in (("when", rule.when, False), ("unless", rule.unless, True)):
            if not checks:
                continue
            suffix = f" ({rule.unless_reason})" if label == "unless" else ""
            _say(console, Text(f"    {label}{suffix}:"))
            for c in checks:
                pad = "      " + "  " * c.depth
                row = Text(pad)
                row.append("[x] " if c.held else "[ ] ", style="green" if c.held else "red")
                row.append(c.text)
                if c.path is not None:
                    row.append(f"   (actual: {show(c.actual)})", style="cyan")
                _say(console, row)
                if c.because and c.held is against:
                    for reason in c.because:
                        if not reason.path.startswith("situation."):
                            _say(console, Text(f"{pad}      because {reason.plain()}", style="dim"))


def cmd_explain(args: argparse.Namespace) -> int:
    """Why a tactic was, or was not, recommended."""
    expl = explain(_read_state(args.state), args.tactic, ruleset=args.ruleset, playbook=args.playbook)
    if args.json:
        sys.stdout.write(expl.model_dump_json(indent=2) + "\n")
    else:
        print_explanation(expl, _console())
    return EXIT_OK


def print_what_if(answer: WhatIf, console: Console) -> None:
    """The answer, a table of the minimal changes with their effect on the ranking, and the notes."""
    colour = {"already": "green", "found": "green", "none": "yellow"}[answer.status]
    head = Text(f"{answer.tactic} ({answer.goal}): ", style="bold")
    head.append(answer.summary, style=colour)
    _say(console, head)
    _say(console, Text(f"  now: {answer.before}"))
    if answer.solutions:
        table = Table(show_lines=True)
        table.add_column("#", justify="right")
        table.add_column("change")
        table.add_column("rank", justify="right")
        table.add_column("score", justify="right")
        table.add_column("also changes")
        for i, sol in enumerate(answer.solutions, 1):
            changes = "\n".join(str(c) for c in sol.changes)
            rank = f"{sol.before.rank or '-'} -> {sol.after.rank or '-'}"
            score = f"{sol.before.score or '-'} -> {sol.after.score or '-'}"
            moved = [f"+ {t}" for t in sol.entered if t != answer.tactic] + [f"- {t}" for t in sol.left]
            if not sol.verified:
                moved.insert(0, "NOT verified by advise()")
            table.add_row(str(i), Text(changes), rank, score, Text("\n".join(moved) or "-"))
        console.print(table)
        if answer.found > len(answer.solutions):
            _say(console, Text(f"  ... and {answer.found - len(answer.solutions)} more of the same size"))
    for note in answer.notes:
        _say(console, Text(f"  note: {note}", style="dim"))


def cmd_what_if(args: argparse.Namespace) -> int:
    """The smallest changes to the state that get a tactic recommended (or ranked first)."""
    answer = what_if(
        _read_state(args.state),
        args.tactic,
        goal=args.goal,
        ruleset=args.ruleset,
        playbook=args.playbook,
        max_changes=args.max_changes,
    )
    if args.json:
        sys.stdout.write(answer.model_dump_json(indent=2, by_alias=True) + "\n")
    else:
        print_what_if(answer, _console())
    return EXIT_OK


# -- lint --------------------------------------------------------------------------------------


def print_findings(findings: Sequence[Finding], console: Console, what: str) -> None:
    """One table of findings per file (line, severity, code, rule and message), then the counts."""
    if not findings:
        _say(console, Text(f"{what}: no findings", style="green"))
        return
    colour = {"error": "red", "warning": "yellow", "info": "cyan"}
    by_file: dict[str, list[Finding]] = {}
    for f in findings:
        by_file.setdefault(f.file, []).append(f)
    for file, group in by_file.items():
        table = Table(title=_where(file, None), title_justify="left", show_lines=True)
        table.add_column("line", justify="right", no_wrap=True)
        table.add_column("severity", no_wrap=True)
        table.add_column("code", no_wrap=True)
        table.add_column("rule / message")
        for f in group:
            body = Text(f.rule_id or "-", style="bold")
            body.append("\n" + f.message)
            table.add_row(
                str(f.line) if f.line is not None else "-", Text(f.severity, style=colour[f.severity]), f.code, body
            )
        console.print(table)
    _say(console, Text(f"{what}: {_counts(findings)}"))


def _counts(findings: Sequence[Finding]) -> str:
    parts = []
    for severity in ("error", "warning", "info"):
        n = sum(1 for f in findings if f.severity == severity)
        if n:
            parts.append(f"{n} {severity}{'' if n == 1 else 's'}")
    return ", ".join(parts) or "no findings"


def cmd_lint(args: argparse.Namespace) -> int:
    """Lint rule files (default: the built-in rulesets); exit 1 when there are errors or warnings."""
    if args.codes:
        if args.json:
            _dump(CODES)
        else:
            table = Table()
            table.add_column("code")
            table.add_column("meaning")
            for code, meaning in CODES.items():
                table.add_row(code, Text(meaning))
            _console().print(table)
        return EXIT_OK
    for path in args.paths:
        if path != "builtin" and not Path(path).exists():  # "builtin": the built-in rules, linted with yours
            raise UsageError(f"no such file or folder: {path}")
    builtin = True if args.builtin else None
    findings = lint(args.paths, builtin=builtin) if args.paths else lint(None)
    failing = any(f.severity in ("error", "warning") for f in findings)
    if args.json:
        _dump(
            {
                "ok": not failing,
                "counts": {s: sum(1 for f in findings if f.severity == s) for s in ("error", "warning", "info")},
                "findings": [f.model_dump(mode="json") for f in findings],
            }
        )
    else:
        print_findings(findings, _console(), ", ".join(args.paths) or "built-in rulesets")
    return EXIT_FINDINGS if failing else EXIT_OK


# -- tactics and schema ------------------------------------------------------------------------


def cmd_tactics(args: argparse.Namespace) -> int:
    """The tactic catalog with its sources (and the built-in rules of each)."""
    tactics = [t for t in CATALOG.values() if not args.family or t.family == args.family]
    rules = builtin_ruleset()
    if args.markdown:
        sys.stdout.write(catalog_markdown({t: [r.id for r in rules.rules_for(t)] for t in rules.tactics}))
        return EXIT_OK
    if args.json:
        _dump([t.__dict__ | {"documents": list(t.documents)} for t in tactics])
        return EXIT_OK
    table = Table(show_lines=True)
    table.add_column("tactic", no_wrap=True)
    for col in ("move", "when it fits", "never when"):
        table.add_column(col)
    table.add_column("source", no_wrap=True)
    table.add_column("rules", justify="right")
    for t in tactics:
        table.add_row(
            t.id,
            Text(t.move),
            Text(t.fits),
            Text(t.never or "-"),
            "\n".join(t.documents),
            str(len(rules.rules_for(t.id))),
        )
    _console().print(table)
    return EXIT_OK


def schemas() -> dict[str, dict[str, Any]]:
    """JSON Schemas of the input and of every command's ``--json`` output."""
    from ._explain import Explanation as ExplanationModel
    from ._whatif import WhatIf as WhatIfModel

    return {
        "state": NegotiationState.model_json_schema(),
        "advice": Advice.model_json_schema(),
        "explanation": ExplanationModel.model_json_schema(),
        "what-if": WhatIfModel.model_json_schema(by_alias=True, mode="serialization"),
        "finding": Finding.model_json_schema(),
    }


def cmd_schema(args: argparse.Namespace) -> int:
    """JSON Schema of the state, the advice, and the other JSON outputs."""
    all_schemas = schemas()
    data = all_schemas[args.which] if args.which else all_schemas
    if args.json:
        _dump(data)
    else:
        _console().print_json(json.dumps(data, ensure_ascii=False))
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """The HTTP service and the playground (optional extra ``server``)."""
    try:
        return run_serve(args)
    except MissingExtra as exc:
        raise UsageError(str(exc)) from None


# -- the parser --------------------------------------------------------------------------------

_FMT = argparse.RawDescriptionHelpFormatter


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _max_changes(text: str) -> int:
    value = _non_negative(text)
    if value > MAX_CHANGES:
        raise argparse.ArgumentTypeError(f"at most {MAX_CHANGES}, got {value}")
    return value


def add_command(
    sub: Any, name: str, func: Callable[[argparse.Namespace], int], help_: str, *examples: str
) -> argparse.ArgumentParser:
    """Register a sub-command with ``--json`` and an example in its ``--help``."""
    epilog = "example:\n" + "\n".join(f"  {PROG} {e}" for e in examples)
    p: argparse.ArgumentParser = sub.add_parser(
        name, help=help_, description=help_, epilog=epilog, formatter_class=_FMT
    )
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    p.set_defaults(func=func)
    return p


def add_state_argument(p: argparse.ArgumentParser) -> None:
    """The STATE positional: a JSON file, or - for stdin."""
    p.add_argument("state", metavar="STATE", help="JSON state file, or - for stdin")


def add_questions_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--questions",
        type=_non_negative,
        default=3,
        metavar="N",
        help="ask up to N questions whose answers would change the advice most (default 3, 0: none)",
    )


def add_rules_options(p: argparse.ArgumentParser) -> None:
    """``--ruleset PATH`` and ``--playbook PATH``."""
    p.add_argument(
        "--ruleset",
        metavar="PATH",
        action="append",
        help="rule file or folder (default: the built-in rulesets); repeat to load several together, and name"
        " 'builtin' for the built-in rules: --ruleset builtin --ruleset my_rules/",
    )
    p.add_argument("--playbook", metavar="PATH", help="playbook YAML file")


def build_parser() -> argparse.ArgumentParser:
    """The parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Ranked, explained negotiation advice from declarative rules.",
        epilog=(
            "examples:\n"
            f"  {PROG} demo\n"
            f"  {PROG} advise state.json --top 5\n"
            f"  {PROG} explain state.json authority.provoke\n"
            f"  {PROG} what-if state.json authority.provoke --goal first\n"
            f"  {PROG} lint my_rules/\n\n"
            "exit codes: 0 ok, 1 lint findings, 2 usage or input error"
        ),
        formatter_class=_FMT,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = add_command(
        sub,
        "demo",
        cmd_demo,
        "advice for the built-in example states",
        "demo imaginary_authority --top 3",
        "demo --json",
    )
    p.add_argument("example", nargs="*", help=f"example names (default: all): {', '.join(EXAMPLES)}")
    p.add_argument("--top", type=_non_negative, default=None, metavar="N", help="keep the N best")
    add_questions_option(p)
    add_rules_options(p)

    p = add_command(
        sub,
        "advise",
        cmd_advise,
        "ranked advice for a state (JSON file, or - for stdin)",
        "advise state.json --top 5",
        "advise - --json < state.json",
    )
    add_state_argument(p)
    p.add_argument("--top", type=_non_negative, default=None, metavar="N", help="keep the N best")
    add_questions_option(p)
    add_rules_options(p)
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default="durable",
        help="durable (durable-rules, the default) or compiled (the rules compiled to Python: the same advice, faster)",
    )

    p = add_command(
        sub,
        "explain",
        cmd_explain,
        "why a tactic was or was not recommended: every condition with its actual value",
        "explain state.json authority.provoke",
        "explain - authority.provoke.experienced --json < state.json",
    )
    add_state_argument(p)
    p.add_argument("tactic", metavar="TACTIC", help="tactic id or rule id")
    add_rules_options(p)

    p = add_command(
        sub,
        "what-if",
        cmd_what_if,
        "the smallest changes to a state that get a tactic recommended (or ranked first)",
        "what-if state.json pressure.strong_posture",
        "what-if state.json authority.provoke --goal first --max-changes 2",
    )
    add_state_argument(p)
    p.add_argument("tactic", metavar="TACTIC", help="tactic id (or a rule id, meaning its tactic)")
    p.add_argument("--goal", choices=GOALS, default="recommended", help="recommended (default) or ranked first")
    p.add_argument(
        "--max-changes",
        type=_max_changes,
        default=3,
        metavar="N",
        help=f"look for at most N changes at once (0..{MAX_CHANGES}, default 3)",
    )
    add_rules_options(p)

    p = add_command(
        sub,
        "lint",
        cmd_lint,
        "find mistakes in rule files (default: the built-in rulesets); exit 1 on errors or warnings",
        "lint my_rules/",
        "lint rulesets/situations.yaml my_rules/ --json",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="rule files or folders, loaded together")
    p.add_argument(
        "--builtin",
        action="store_true",
        help="hold the files to the built-in standard (every catalog tactic covered, no tactic outside it)",
    )
    p.add_argument("--codes", action="store_true", help="list the finding codes and what they mean")

    p = add_command(
        sub,
        "tactics",
        cmd_tactics,
        "the tactic catalog with its sources",
        "tactics --family pressure",
        "tactics --json",
    )
    p.add_argument("--family", choices=sorted({t.family for t in CATALOG.values()}))
    p.add_argument("--markdown", action="store_true", help="the catalog page of the docs, with the built-in rules")

    p = add_command(
        sub,
        "schema",
        cmd_schema,
        "JSON Schema of the state, the advice and the other JSON outputs, for tools in other languages",
        "schema state",
        "schema advice --json",
    )
    p.add_argument("which", nargs="?", choices=["state", "advice", "explanation", "what-if", "finding"])

    p = add_command(
        sub,
        "serve",
        cmd_serve,
        "HTTP service (JSON API with OpenAPI) and the playground page; needs the extra: "
        'pip install "negotiation-rules[server]"',
        "serve --port 8000",
    )
    add_serve_options(p)

    p = add_command(sub, "score", cmd_score, SCORE_HELP, *SCORE_EXAMPLES)  # needs the extra 'dask'; see _score.py
    add_score_options(p)
    add_rules_options(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; user errors print one line on stderr and return 2, never a traceback."""
    for stream in (sys.stdout, sys.stderr):  # a terminal or pipe that cannot encode a move must not crash us
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="replace")  # type: ignore[union-attr]
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (NegotiationRulesError, UsageError) as exc:
        _error_line(str(exc))
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `negotiation-rules demo | head`: the reader left; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:  # pragma: no cover
        return 130
    except Exception as exc:  # anything else is still one line and exit 2, never a traceback
        _error_line(f"{type(exc).__name__}: {exc}")
        return EXIT_USAGE


def _error_line(message: str) -> None:
    """One line on stderr, however long or multi-line the message."""
    text = " ".join(message.split())
    if len(text) > 1_000:
        text = text[:1_000] + " ..."
    with contextlib.suppress(OSError):
        sys.stderr.write(f"{PROG}: error: {text}\n")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
