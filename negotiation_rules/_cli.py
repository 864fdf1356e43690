"""The ``negotiation-rules`` command: demo, advise, explain, what-if, lint, tactics, schema, serve, score.

Every command prints readable output for people (rich tables) and JSON with ``--json``; a state
is a JSON file or ``-`` for stdin. Exit codes: 0 ok, 1 findings (``lint``), 2 a usage or input
error (one line on stderr, never a traceback), 141 when the reader closed the pipe.

``main(argv, stdout=, stderr=, stdin=)`` writes only to the streams it is given, so the tests
run it in-process. What is printed, and in which words, is decided in ``_render`` (shared with
the results' ``__str__`` and the testing kit); this module only parses, calls and hands over.
A command's tools (lint, what-if, explain, the server) are imported when that command runs, so
``negotiation-rules demo`` starts as fast as ``import negotiation_rules``.

To add a command: write ``cmd_<name>(args) -> int`` and a ``configure`` function, and register
both in ``COMMANDS``; ``add_state_argument`` and ``add_rules_options`` give the shared options.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

from ._advisor import advise
from ._errors import NegotiationRulesError, UsageError, did_you_mean
from ._evaluator import ENGINES
from ._examples import EXAMPLES
from ._render import (
    Block,
    CatalogEntry,
    advice_blocks,
    codes_blocks,
    explanation_blocks,
    findings_blocks,
    relative,
    tactics_blocks,
    to_console,
    what_if_blocks,
)
from ._schemas import schemas
from ._score import DESCRIPTION as SCORE_HELP
from ._score import EXAMPLES as SCORE_EXAMPLES
from ._score import add_score_options, cmd_score
from ._server_cli import add_serve_options
from ._state import MAX_INPUT_BYTES, NegotiationState, parse_state

if TYPE_CHECKING:
    from _typeshed import SupportsWrite
    from rich.console import Console

    from ._lint import Finding

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
#: The shell's status for a command whose reader closed the pipe (128 + SIGPIPE).
EXIT_BROKEN_PIPE = 141
PROG = "negotiation-rules"
#: Width of the output when it is not a terminal and ``COLUMNS`` is not set (stable lines for scripts and docs).
PIPE_WIDTH = 120
#: How ``lint -`` names the rule text it read from stdin.
STDIN_NAME = "<stdin>"


@dataclass
class Streams:
    """Where a command reads and writes: the process's streams, or those a caller (a test) gave ``main``."""

    stdout: IO[str]
    stderr: IO[str]
    stdin: IO[str]

    def console(self) -> Console:
        """A rich console on stdout: the terminal's width, ``COLUMNS`` if set, else ``PIPE_WIDTH`` when piped."""
        from rich.console import Console

        class _Console(Console):
            def on_broken_pipe(self) -> None:
                """A closed pipe (``... | head``) ends the command through ``main``."""
                raise BrokenPipeError

        return _Console(file=self.stdout, soft_wrap=False, width=self.width())

    def width(self) -> int | None:
        """``COLUMNS`` when it is a positive number; None (rich asks the terminal) on a terminal; else PIPE_WIDTH."""
        columns = os.environ.get("COLUMNS", "")
        if columns.isdigit() and int(columns) > 0:
            return int(columns)
        return None if _isatty(self.stdout) else PIPE_WIDTH

    def show(self, blocks: Iterable[Block]) -> None:
        """Rendered blocks on stdout."""
        to_console(blocks, self.console())

    def dump(self, data: Any) -> None:
        """JSON on stdout, indented, non-ASCII kept."""
        self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _isatty(stream: IO[str]) -> bool:
    """Whether ``stream`` is a terminal (False for anything that cannot say)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _streams(args: argparse.Namespace) -> Streams:
    """The streams ``main`` attached to the parsed arguments."""
    streams: Streams = args.streams
    return streams


def _read_state(source: str, stdin: IO[str]) -> NegotiationState:
    """The state from a JSON file, or from stdin for ``-``: at most ``MAX_INPUT_BYTES`` are read."""
    return parse_state(_read_text(source, stdin, "state"))


def _read_text(source: str, stdin: IO[str], what: str) -> str:
    """Text from a file, or from stdin for ``-``; at most ``MAX_INPUT_BYTES``, else a UsageError."""
    where = "from stdin" if source == "-" else f"file {source if len(source) <= 200 else source[:200] + '...'}"
    try:
        if source == "-":
            stream = getattr(stdin, "buffer", None)
            data: bytes | str = (
                stream.read(MAX_INPUT_BYTES + 1) if stream is not None else stdin.read(MAX_INPUT_BYTES + 1)
            )
        else:
            with Path(source).open("rb") as fh:
                data = fh.read(MAX_INPUT_BYTES + 1)
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(
            f"cannot read {what} {where}: {getattr(exc, 'strerror', None) or type(exc).__name__}"
        ) from None
    if len(data) > MAX_INPUT_BYTES:
        raise UsageError(f"{what} {where} is larger than {MAX_INPUT_BYTES} bytes")
    return text


# -- advise and demo ---------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    """Advice for the built-in example states."""
    io = _streams(args)
    names = args.example or list(EXAMPLES)
    for name in names:
        if name not in EXAMPLES:
            raise UsageError(f"no example '{name}'; choose from: {', '.join(EXAMPLES)}{did_you_mean(name, EXAMPLES)}")
    options = {"ruleset": args.ruleset, "playbook": args.playbook, "questions": args.questions}
    results = {name: advise(EXAMPLES[name][1], top=args.top, **options) for name in names}
    if args.json:
        io.dump({name: advice.model_dump(mode="json") for name, advice in results.items()})
        return EXIT_OK
    console = io.console()
    for name, advice in results.items():
        hidden = _hidden(EXAMPLES[name][1], args, advice.recommendations)
        to_console(advice_blocks(advice, title=f"{name}: {EXAMPLES[name][0]}", hidden=hidden, top=args.top), console)
        console.print()
    return EXIT_OK


def _hidden(state: NegotiationState, args: argparse.Namespace, shown: Sequence[object]) -> int:
    """How many recommendations fit but ``--top`` cut, when it cut them all (0 otherwise: nothing to explain)."""
    if args.top != 0 or shown:
        return 0
    engine = getattr(args, "engine", "durable")
    return len(advise(state, ruleset=args.ruleset, playbook=args.playbook, questions=0, engine=engine).recommendations)


def cmd_advise(args: argparse.Namespace) -> int:
    """The ranked advice for one state."""
    io = _streams(args)
    state = _read_state(args.state, io.stdin)
    advice = advise(
        state,
        ruleset=args.ruleset,
        playbook=args.playbook,
        top=args.top,
        questions=args.questions,
        engine=args.engine,
    )
    if args.json:
        io.stdout.write(advice.model_dump_json(indent=2) + "\n")
    else:
        io.show(advice_blocks(advice, hidden=_hidden(state, args, advice.recommendations), top=args.top))
    return EXIT_OK


# -- explain and what-if -----------------------------------------------------------------------


def cmd_explain(args: argparse.Namespace) -> int:
    """Why a tactic was, or was not, recommended."""
    from ._explain import explain

    io = _streams(args)
    expl = explain(_read_state(args.state, io.stdin), args.tactic, ruleset=args.ruleset, playbook=args.playbook)
    if args.json:
        io.stdout.write(expl.model_dump_json(indent=2) + "\n")
    else:
        io.show(explanation_blocks(expl, where=relative))
    return EXIT_OK


def cmd_what_if(args: argparse.Namespace) -> int:
    """The smallest changes to the state that get a tactic recommended (or ranked first)."""
    from ._whatif import what_if

    io = _streams(args)
    answer = what_if(
        _read_state(args.state, io.stdin),
        args.tactic,
        goal=args.goal,
        ruleset=args.ruleset,
        playbook=args.playbook,
        max_changes=args.max_changes,
    )
    if args.json:
        io.stdout.write(answer.model_dump_json(indent=2, by_alias=True) + "\n")
    else:
        io.show(what_if_blocks(answer))
    return EXIT_OK


# -- lint --------------------------------------------------------------------------------------


def cmd_lint(args: argparse.Namespace) -> int:
    """Lint rule files (default: the built-in rulesets; ``-``: rule text on stdin); exit 1 on errors or warnings."""
    from ._lint import CODES

    io = _streams(args)
    if args.codes:
        if args.json:
            io.dump(CODES)
        else:
            io.show(codes_blocks(CODES))
        return EXIT_OK
    for path in args.paths:
        if path not in ("builtin", "-") and not Path(path).exists():  # "builtin": the built-in rules
            raise UsageError(f"no such file or folder: {path}")
    if args.paths.count("-") > 1:
        raise UsageError("'-' (rule text on stdin) can be given once")
    findings = list(_lint_findings(args.paths, True if args.builtin else None, io.stdin))
    failing = any(f.severity in ("error", "warning") for f in findings)
    if args.json:
        io.dump(
            {
                "ok": not failing,
                "counts": {s: sum(1 for f in findings if f.severity == s) for s in ("error", "warning", "info")},
                "findings": [f.model_dump(mode="json") for f in findings],
            }
        )
    else:
        what = ", ".join(STDIN_NAME if p == "-" else p for p in args.paths) or "built-in rulesets"
        io.show(findings_blocks(findings, what, where=relative))
    return EXIT_FINDINGS if failing else EXIT_OK


def _lint_findings(paths: Sequence[str], builtin: bool | None, stdin: IO[str]) -> Iterator[Finding]:
    """``lint`` over the paths; ``-`` is rule text read from stdin, linted as a file and named ``<stdin>``."""
    from ._lint import lint

    if not paths:
        yield from lint(None)
        return
    if "-" not in paths:
        yield from lint(list(paths), builtin=builtin)
        return
    import tempfile  # with shutil and the compression modules: only lint of stdin needs it

    text = _read_text("-", stdin, "rules")
    with tempfile.TemporaryDirectory(prefix="negotiation-rules-lint-") as folder:
        file = Path(folder) / "stdin.yaml"
        file.write_text(text, encoding="utf-8")
        real = [str(file) if p == "-" else p for p in paths]
        for finding in lint(real, builtin=builtin):
            yield finding.model_copy(
                update={
                    "file": finding.file.replace(str(file), STDIN_NAME),
                    "message": finding.message.replace(str(file), STDIN_NAME),
                }
            )


# -- tactics and schema ------------------------------------------------------------------------


def cmd_tactics(args: argparse.Namespace) -> int:
    """The tactic catalog with its sources (and the built-in rules of each), all or one family or id prefix."""
    from ._catalog import CATALOG, catalog_markdown
    from ._ruleset import builtin_ruleset

    io = _streams(args)
    rules = builtin_ruleset()
    if args.markdown:
        io.stdout.write(catalog_markdown({t: [r.id for r in rules.rules_for(t)] for t in rules.tactics}))
        return EXIT_OK
    tactics = [t for t in CATALOG.values() if (not args.family or t.family == args.family) and _selected(t.id, args)]
    if args.json:
        io.dump([t.__dict__ | {"documents": list(t.documents)} for t in tactics])
        return EXIT_OK
    console = io.console()
    entries = [CatalogEntry(t, len(rules.rules_for(t.id))) for t in tactics]
    to_console(tactics_blocks(entries, console.width), console)
    return EXIT_OK


def _selected(tactic_id: str, args: argparse.Namespace) -> bool:
    """Whether ``tactic_id`` is in the family named as ``tactics WHICH``, or starts with it."""
    which: str | None = args.which
    return not which or tactic_id.split(".", 1)[0] == which or tactic_id.startswith(which)


def _check_which(args: argparse.Namespace) -> None:
    """``tactics WHICH`` must name a family or the start of an id; otherwise a UsageError with a did-you-mean."""
    from ._catalog import CATALOG, FAMILIES

    which: str | None = args.which
    if not which or any(_selected(t, args) for t in CATALOG):
        return
    hint = did_you_mean(which, [*FAMILIES, *CATALOG])
    raise UsageError(f"no tactic family or tactic id '{which}'; families: {', '.join(FAMILIES)}{hint}")


def cmd_schema(args: argparse.Namespace) -> int:
    """JSON Schema of the state, the advice, and the other JSON outputs."""
    io = _streams(args)
    all_schemas = schemas()
    data = all_schemas[args.which] if args.which else all_schemas
    if args.json:
        io.dump(data)
    else:
        io.console().print_json(json.dumps(data, ensure_ascii=False))
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """The HTTP service and the playground (optional extra ``server``)."""
    from ._server_cli import MissingExtra, run_serve

    try:
        with _process_streams(_streams(args)):
            return run_serve(args)
    except MissingExtra as exc:
        raise UsageError(str(exc)) from None


def cmd_score_in_streams(args: argparse.Namespace) -> int:
    """``score`` (in ``_score``), its summary and progress written to this run's streams."""
    with _process_streams(_streams(args)):
        return cmd_score(args)


@contextlib.contextmanager
def _process_streams(io: Streams) -> Iterator[None]:
    """sys.stdout/stderr pointed at the run's streams, for the commands that print through sys (serve, score)."""
    if io.stdout is sys.stdout and io.stderr is sys.stderr:
        yield
        return
    with contextlib.redirect_stdout(io.stdout), contextlib.redirect_stderr(io.stderr):
        yield


# -- the parser --------------------------------------------------------------------------------

_FMT = argparse.RawDescriptionHelpFormatter


class _Parser(argparse.ArgumentParser):
    """argparse, but its help, usage and errors go to the run's streams, and an error returns instead of exiting."""

    streams: Streams | None = None

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        """Help and version to stdout, usage errors to stderr: the run's streams, not the process's."""
        if not message:
            return
        io = self.streams
        target = file if io is None else io.stderr if file is sys.stderr else io.stdout
        (target or sys.stderr).write(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        """Write ``message`` to the run's stderr and leave through SystemExit (``main`` returns its status)."""
        if message:
            self._print_message(message, sys.stderr)
        raise SystemExit(status)


class _Version(argparse.Action):
    """``--version``: argparse's own action, but the version is read only when asked for (the metadata is slow)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> NoReturn:
        from . import __version__

        parser._print_message(f"{PROG} {__version__}\n", sys.stdout)
        parser.exit()


def _non_negative(text: str) -> int:
    """An argparse type: a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def add_state_argument(p: argparse.ArgumentParser) -> None:
    """The STATE positional: a JSON file, or - for stdin."""
    p.add_argument("state", metavar="STATE", help="JSON state file, or - for stdin")


def add_top_option(p: argparse.ArgumentParser) -> None:
    """``--top N``: keep the N best."""
    p.add_argument("--top", type=_non_negative, default=None, metavar="N", help="keep the N best")


def add_questions_option(p: argparse.ArgumentParser) -> None:
    """``--questions N``: how many questions to ask (default 3)."""
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


def configure_demo(p: argparse.ArgumentParser) -> None:
    """``demo [EXAMPLE ...]`` with ``--top``, ``--questions`` and the rules options."""
    p.add_argument("example", nargs="*", help=f"example names (default: all): {', '.join(EXAMPLES)}")
    add_top_option(p)
    add_questions_option(p)
    add_rules_options(p)


def configure_advise(p: argparse.ArgumentParser) -> None:
    """``advise STATE`` with ``--top``, ``--questions``, the rules options and ``--engine``."""
    add_state_argument(p)
    add_top_option(p)
    add_questions_option(p)
    add_rules_options(p)
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default="durable",
        help="durable (durable-rules, the default) or compiled (the rules compiled to Python: the same advice, faster)",
    )


def configure_explain(p: argparse.ArgumentParser) -> None:
    """``explain STATE TACTIC`` with the rules options."""
    add_state_argument(p)
    p.add_argument("tactic", metavar="TACTIC", help="tactic id or rule id")
    add_rules_options(p)


def configure_what_if(p: argparse.ArgumentParser) -> None:
    """``what-if STATE TACTIC`` with ``--goal``, ``--max-changes`` and the rules options (imports the search)."""
    from ._whatif import GOALS, MAX_CHANGES

    def max_changes(text: str) -> int:
        """An argparse type: a whole number in 0..MAX_CHANGES."""
        value = _non_negative(text)
        if value > MAX_CHANGES:
            raise argparse.ArgumentTypeError(f"at most {MAX_CHANGES}, got {value}")
        return value

    add_state_argument(p)
    p.add_argument("tactic", metavar="TACTIC", help="tactic id (or a rule id, meaning its tactic)")
    p.add_argument("--goal", choices=GOALS, default="recommended", help="recommended (default) or ranked first")
    p.add_argument(
        "--max-changes",
        type=max_changes,
        default=3,
        metavar="N",
        help=f"look for at most N changes at once (0..{MAX_CHANGES}, default 3)",
    )
    add_rules_options(p)


def configure_lint(p: argparse.ArgumentParser) -> None:
    """``lint [PATH ...]`` (``-``: stdin) with ``--builtin`` and ``--codes``."""
    p.add_argument(
        "paths", nargs="*", metavar="PATH", help="rule files or folders, loaded together; - reads rule text from stdin"
    )
    p.add_argument(
        "--builtin",
        action="store_true",
        help="hold the files to the built-in standard (every catalog tactic covered, no tactic outside it)",
    )
    p.add_argument("--codes", action="store_true", help="list the finding codes and what they mean")


def configure_tactics(p: argparse.ArgumentParser) -> None:
    """``tactics [WHICH]``: a family or an id prefix; ``--family``, ``--markdown``."""
    from ._catalog import FAMILIES

    p.add_argument("which", nargs="?", metavar="WHICH", help=f"a family ({', '.join(FAMILIES)}) or the start of an id")
    p.add_argument("--family", choices=sorted(FAMILIES))
    p.add_argument("--markdown", action="store_true", help="the catalog page of the docs, with the built-in rules")


def configure_schema(p: argparse.ArgumentParser) -> None:
    """``schema [WHICH]``."""
    p.add_argument("which", nargs="?", choices=["state", "advice", "explanation", "what-if", "finding"])


def configure_score(p: argparse.ArgumentParser) -> None:
    """``score``'s options (in ``_score``) and the rules options."""
    add_score_options(p)
    add_rules_options(p)


@dataclass(frozen=True)
class Command:
    """A sub-command: what it does (help), examples for its ``--help``, its options and its function."""

    help: str
    examples: tuple[str, ...]
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    check: Callable[[argparse.Namespace], None] | None = None
    #: Whether the interpreter's last garbage collection must run after it (see ``_process_heap``): True for
    #: the commands that run a server or a cluster, whose objects may wait for it to be closed.
    collect_at_exit: bool = False


COMMANDS: dict[str, Command] = {
    "demo": Command(
        "advice for the built-in example states",
        ("demo imaginary_authority --top 3", "demo --json"),
        configure_demo,
        cmd_demo,
    ),
    "advise": Command(
        "ranked advice for a state (JSON file, or - for stdin)",
        ("advise state.json --top 5", "advise - --json < state.json"),
        configure_advise,
        cmd_advise,
    ),
    "explain": Command(
        "why a tactic was or was not recommended: every condition with its actual value",
        ("explain state.json authority.provoke", "explain - authority.provoke.experienced --json < state.json"),
        configure_explain,
        cmd_explain,
    ),
    "what-if": Command(
        "the smallest changes to a state that get a tactic recommended (or ranked first)",
        (
            "what-if state.json pressure.strong_posture",
            "what-if state.json authority.provoke --goal first --max-changes 2",
        ),
        configure_what_if,
        cmd_what_if,
    ),
    "lint": Command(
        "find mistakes in rule files (default: the built-in rulesets); exit 1 on errors or warnings",
        ("lint my_rules/", "lint rulesets/situations.yaml my_rules/ --json", "lint - < my_rules/house.yaml"),
        configure_lint,
        cmd_lint,
    ),
    "tactics": Command(
        "the tactic catalog with its sources",
        ("tactics authority", "tactics pressure.ultimatum", "tactics --json"),
        configure_tactics,
        cmd_tactics,
        _check_which,
    ),
    "schema": Command(
        "JSON Schema of the state, the advice and the other JSON outputs, for tools in other languages",
        ("schema state", "schema advice --json"),
        configure_schema,
        cmd_schema,
    ),
    "serve": Command(
        "HTTP service (JSON API with OpenAPI) and the playground page; needs the extra: "
        'pip install "negotiation-rules[server]"',
        ("serve --port 8000",),
        add_serve_options,
        cmd_serve,
        collect_at_exit=True,
    ),
    # needs the extra 'dask'
    "score": Command(SCORE_HELP, SCORE_EXAMPLES, configure_score, cmd_score_in_streams, collect_at_exit=True),
}


def build_parser(only: str | None = None, streams: Streams | None = None) -> argparse.ArgumentParser:
    """The parser with every sub-command; with ``only``, only that command gets its options.

    The other commands' tools (what-if's search, for its ``--goal`` choices) then stay unimported.
    """
    parser = _Parser(
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
    parser.streams = streams
    parser.add_argument("--version", action=_Version, help="show program's version number and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        epilog = "example:\n" + "\n".join(f"  {PROG} {e}" for e in command.examples)
        p: _Parser = sub.add_parser(
            name, help=command.help, description=command.help, epilog=epilog, formatter_class=_FMT
        )
        p.streams = streams
        p.add_argument("--json", action="store_true", help="machine-readable JSON output")
        p.set_defaults(func=command.run, check=command.check)
        if only is None or only == name:
            command.configure(p)
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The sub-command named in ``argv`` (the first word that is not an option), if it is one."""
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in COMMANDS else None


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    stdin: IO[str] | None = None,
) -> int:
    """Run one command and return its exit status; user errors print one line on stderr and return 2, never a traceback.

    ``stdout``, ``stderr`` and ``stdin`` default to the process's (then made to replace what
    they cannot encode); given streams are used as they are.
    """
    if argv is None and stdout is None and stderr is None and stdin is None:
        command = COMMANDS.get(_command_in(sys.argv[1:]) or "")
        with _process_heap(collect_at_exit=command is not None and command.collect_at_exit):
            return _main(argv, stdout, stderr, stdin)
    return _main(argv, stdout, stderr, stdin)


@contextlib.contextmanager
def _process_heap(collect_at_exit: bool) -> Iterator[None]:
    """``main`` as the process's own command (the script, ``python -m``): its heap frozen for the garbage collector.

    What the imports made is frozen first, so the collections during the command skip it; and,
    unless the command ran a server or a cluster, everything is frozen when it is done, so the
    interpreter's shutdown does not collect, object by object, a heap the operating system takes
    back anyway (about 30 ms of ``demo``'s exit). Exit handlers still run and the output is
    already written; only objects in reference cycles are left to the operating system. A
    caller that passes ``argv`` or streams (the tests) keeps its collector as it was.
    """
    gc.freeze()
    try:
        yield
    finally:
        if not collect_at_exit:
            gc.freeze()


def _main(argv: Sequence[str] | None, stdout: IO[str] | None, stderr: IO[str] | None, stdin: IO[str] | None) -> int:
    """``main``'s work."""
    if stdout is None and stderr is None:
        for stream in (sys.stdout, sys.stderr):  # a terminal or pipe that cannot encode a move must not crash us
            with contextlib.suppress(AttributeError, ValueError):
                stream.reconfigure(errors="replace")  # type: ignore[union-attr]
    io = Streams(stdout or sys.stdout, stderr or sys.stderr, stdin or sys.stdin)
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser(_command_in(argv), io).parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    args.streams = io
    try:
        if args.check is not None:
            args.check(args)
        return int(args.func(args))
    except (NegotiationRulesError, UsageError) as exc:
        _error_line(io.stderr, str(exc))
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `negotiation-rules demo | head`: the reader left; say nothing more
        with contextlib.suppress(AttributeError, ValueError, OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, io.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:  # pragma: no cover
        return 130
    except Exception as exc:  # anything else is still one line and exit 2, never a traceback
        _error_line(io.stderr, f"{type(exc).__name__}: {exc}")
        return EXIT_USAGE


def _error_line(stderr: IO[str], message: str) -> None:
    """One line on stderr, however long or multi-line the message."""
    text = " ".join(message.split())
    if len(text) > 1_000:
        text = text[:1_000] + " ..."
    with contextlib.suppress(OSError):
        stderr.write(f"{PROG}: error: {text}\n")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
