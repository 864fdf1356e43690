"""The ``negotiation-rules`` command: demo, advise, explain, tactics, schema (readable tables or --json)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .advice import Advice
from .advisor import advise
from .catalog import CATALOG, catalog_markdown
from .errors import NegotiationRulesError
from .examples import EXAMPLES
from .explain import explain
from .ruleset import builtin_ruleset
from .state import NegotiationState, parse_state

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A user mistake on the command line (bad file, bad option): one line, exit 2."""


def _console(stream: Any = None) -> Console:
    return Console(file=stream or sys.stdout, soft_wrap=False, width=120 if not sys.stdout.isatty() else None)


def _read_state(source: str) -> NegotiationState:
    if source == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read state file {source}: {getattr(exc, 'strerror', None) or exc}") from None
    return parse_state(text)


def print_advice(advice: Advice, console: Console, title: str = "") -> None:
    """A ranked table of the advice, then what was set aside and why."""
    table = Table(title=title or None, show_lines=True, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("score", justify="right")
    table.add_column("tactic")
    table.add_column("move / why now")
    for i, rec in enumerate(advice.recommendations, 1):
        body = f"[bold]{rec.move}[/bold]\n{rec.rationale}"
        if rec.cautions:
            body += "\n[yellow]caution:[/yellow] " + " ".join(rec.cautions)
        body += "\n[dim]source: " + "; ".join(f"{s.document} - {s.section}" for s in rec.sources) + "[/dim]"
        table.add_row(str(i), f"{rec.score:.3f}", rec.tactic, body)
    if advice.recommendations:
        console.print(table)
    else:
        console.print(
            f"{title}\n  (no recommendation fits this state)" if title else "(no recommendation fits this state)"
        )
    for aside in advice.set_aside:
        console.print(f"  [dim]set aside:[/dim] {aside.tactic} ({aside.by}: {aside.rule_id}) - {aside.reason}")


def _dump(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def cmd_demo(args: argparse.Namespace) -> int:
    names = args.example or list(EXAMPLES)
    for name in names:
        if name not in EXAMPLES:
            raise UsageError(f"no example '{name}'; choose from: {', '.join(EXAMPLES)}")
    if args.json:
        _dump({n: advise(EXAMPLES[n][1], top=args.top).model_dump(mode="json") for n in names})
        return EXIT_OK
    console = _console()
    for name in names:
        description, state = EXAMPLES[name]
        print_advice(advise(state, top=args.top), console, title=f"{name}: {description}")
        console.print()
    return EXIT_OK


def cmd_advise(args: argparse.Namespace) -> int:
    advice = advise(_read_state(args.state), ruleset=args.ruleset, playbook=args.playbook, top=args.top)
    if args.json:
        sys.stdout.write(advice.model_dump_json(indent=2) + "\n")
    else:
        print_advice(advice, _console())
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    expl = explain(_read_state(args.state), args.tactic, ruleset=args.ruleset, playbook=args.playbook)
    if args.json:
        sys.stdout.write(expl.model_dump_json(indent=2) + "\n")
    else:
        sys.stdout.write(str(expl) + "\n")
    return EXIT_OK


def cmd_tactics(args: argparse.Namespace) -> int:
    tactics = [t for t in CATALOG.values() if not args.family or t.family == args.family]
    if args.markdown:
        rules = builtin_ruleset()
        sys.stdout.write(catalog_markdown({t: [r.id for r in rules.rules_for(t)] for t in rules.tactics}))
        return EXIT_OK
    if args.json:
        _dump([t.__dict__ | {"documents": list(t.documents)} for t in tactics])
        return EXIT_OK
    table = Table(show_lines=True)
    for col in ("tactic", "move", "when it fits", "never when", "source"):
        table.add_column(col)
    for t in tactics:
        table.add_row(t.id, t.move, t.fits, t.never or "-", "\n".join(t.documents))
    _console().print(table)
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from .advice import Advice as AdviceModel

    schemas = {"state": NegotiationState.model_json_schema(), "advice": AdviceModel.model_json_schema()}
    _dump(schemas[args.which] if args.which else schemas)
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="negotiation-rules",
        description="Ranked, explained negotiation advice from declarative rules.",
        epilog="example:\n  negotiation-rules demo\n  negotiation-rules advise state.json --top 5",
        formatter_class=fmt,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, func: Callable[[argparse.Namespace], int], help_: str, example: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_, epilog=f"example:\n  {example}", formatter_class=fmt)
        p.add_argument("--json", action="store_true", help="machine-readable JSON output")
        p.set_defaults(func=func)
        return p

    def rules_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--ruleset", metavar="PATH", help="rule file or folder (default: the built-in rulesets)")
        p.add_argument("--playbook", metavar="PATH", help="playbook YAML file")

    p = command("demo", cmd_demo, "advice for built-in example states", "negotiation-rules demo imaginary_authority")
    p.add_argument("example", nargs="*", help=f"example names (default: all): {', '.join(EXAMPLES)}")
    p.add_argument("--top", type=int, default=None, metavar="N", help="keep the N best")

    p = command(
        "advise",
        cmd_advise,
        "ranked advice for a state (JSON file, or - for stdin)",
        "negotiation-rules advise state.json --top 5",
    )
    p.add_argument("state", help="JSON state file, or - for stdin")
    p.add_argument("--top", type=int, default=None, metavar="N", help="keep the N best")
    rules_options(p)

    p = command(
        "explain",
        cmd_explain,
        "why a tactic was or was not recommended",
        "negotiation-rules explain state.json authority.provoke",
    )
    p.add_argument("state", help="JSON state file, or - for stdin")
    p.add_argument("tactic", help="tactic id or rule id")
    rules_options(p)

    p = command(
        "tactics", cmd_tactics, "the tactic catalog with its sources", "negotiation-rules tactics --family pressure"
    )
    p.add_argument("--family", choices=sorted({t.family for t in CATALOG.values()}))
    p.add_argument("--markdown", action="store_true", help="the catalog page of the docs, with the built-in rules")

    p = command("schema", cmd_schema, "JSON Schema of the state and of the advice", "negotiation-rules schema state")
    p.add_argument("which", nargs="?", choices=["state", "advice"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; user errors print one line on stderr and return 2, never a traceback."""
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "top", None) is not None and args.top < 0:
        parser.error("--top must be >= 0")
    try:
        return int(args.func(args))
    except (NegotiationRulesError, UsageError) as exc:
        sys.stderr.write(f"negotiation-rules: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:  # pragma: no cover
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
