"""The pytest plugin (entry point ``pytest11``): scenario files, the ``advisor`` fixture, ``--rules-coverage``.

Installed with the package, so nothing needs to be enabled:

- every ``*.scenarios.yaml`` file pytest comes across is collected; each case is a test item
  named by its ``name`` (see ``negotiation_rules.testing._scenarios`` for the format). A bad
  file is one collection error listing each problem with file and line; a failing case
  reports what was expected, the ranked advice and the why / why-not, without a traceback.
- ini ``negotiation_rules_rulesets``: the project's rule file or folder (relative to the
  rootdir), the default ruleset of scenario files and of the session fixture ``advisor``
  (``advisor(state, top=3) -> Advice``, ``advisor.ruleset``); unset, the built-in rulesets.
- ``--rules-coverage`` prints at the end how often each rule fired, was set aside or never
  matched, the rules never fired and the share that fired; ``--rules-coverage-fail-under=PCT``
  (implies ``--rules-coverage``) fails the run below that share; ``--rules-coverage-unless``
  counts each rule's ``unless`` too (covered once it set its tactic aside); ``--no-rules-coverage``
  turns both off (handy when the options are in ``addopts`` and you run a single test file).
  The share is over the rule files of ``--rules-coverage-of PATH`` (repeatable, relative to
  the current folder), else ini ``negotiation_rules_coverage`` (paths relative to the
  rootdir), else ``negotiation_rules_rulesets``, else every rule evaluated. Every evaluation
  in the test process counts, however it was made. Under pytest-xdist each worker counts on
  its own and the report covers only the controller: run rule coverage without ``-n``.
- ``--rules-engine compiled`` runs the scenario files and the ``advisor`` fixture on the compiled
  evaluator instead of durable-rules (the default, ``durable``); both give the same advice.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the library is imported when first needed, not when pytest loads its plugins
    from _pytest._code.code import TerminalRepr, TracebackStyle

    from negotiation_rules.testing import Advisor
    from negotiation_rules.testing._coverage import CoverageReport, RuleCoverage
    from negotiation_rules.testing._scenarios import Scenario

SCENARIO_SUFFIX = ".scenarios.yaml"  # the same suffix load_ruleset() skips in a rule folder
RULESETS_INI = "negotiation_rules_rulesets"
COVERAGE_INI = "negotiation_rules_coverage"

_default_key = pytest.StashKey["Path | list[str | Path] | None"]()
_cache_key = pytest.StashKey[dict[Any, Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("negotiation_rules", "negotiation-rules (scenario files, rule coverage)")
    group.addoption(
        "--rules-coverage",
        action="store_true",
        default=False,
        help="print how often each rule fired, was set aside or never matched, at the end of the session",
    )
    group.addoption(
        "--rules-coverage-fail-under",
        type=float,
        default=None,
        metavar="PCT",
        help="fail the run if less than PCT percent of the rules fired (implies --rules-coverage)",
    )
    group.addoption(
        "--rules-coverage-of",
        action="append",
        default=[],
        metavar="PATH",
        help=f"rule file or folder the coverage share is computed over (repeatable, implies --rules-coverage; "
        f"default: ini {COVERAGE_INI}, else {RULESETS_INI}, else every rule evaluated)",
    )
    group.addoption(
        "--rules-coverage-unless",
        action="store_true",
        default=False,
        help="count each rule's `unless` too: it is covered once it set its tactic aside (implies --rules-coverage)",
    )
    group.addoption(
        "--rules-engine",
        choices=("durable", "compiled"),  # negotiation_rules._evaluator.ENGINES, not imported before it is needed
        default="durable",
        help="the engine scenario files and the advisor fixture use: durable (durable-rules, default) or compiled",
    )
    group.addoption(
        "--no-rules-coverage",
        action="store_true",
        default=False,
        help="no rule coverage report and no --rules-coverage-fail-under check, whatever addopts says",
    )
    parser.addini(
        RULESETS_INI,
        "rule files or folders (relative to the rootdir, separated by spaces; 'builtin' is the built-in rules): "
        "the default ruleset of scenario files and of the advisor fixture; unset: the built-in rulesets",
        type="string",
        default="",
    )
    parser.addini(
        COVERAGE_INI,
        "rule files or folders (relative to the rootdir) whose rules the --rules-coverage share is computed over",
        type="linelist",
        default=[],
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scenario: a case of a *.scenarios.yaml file (negotiation-rules)")
    config.stash[_cache_key] = {}
    value = str(config.getini(RULESETS_INI) or "").strip()
    default: Path | list[str | Path] | None = None
    if value:
        from negotiation_rules._packaged import BUILTIN, builtin_ruleset_dir

        paths: list[Path] = []
        for word in value.split():  # several paths load together; "builtin" is the built-in rules
            path = builtin_ruleset_dir() if word == BUILTIN else _under(config.rootpath, word)
            if not path.exists():
                raise pytest.UsageError(f"{RULESETS_INI} = {value!r}: no such file or folder (looked for {path})")
            paths.append(path)
        default = paths[0] if len(paths) == 1 else list(paths)
    config.stash[_default_key] = default
    fail_under = config.getoption("rules_coverage_fail_under")
    count_unless = bool(config.getoption("rules_coverage_unless"))
    scoped = bool(config.getoption("rules_coverage_of"))
    wanted = config.getoption("rules_coverage") or fail_under is not None or count_unless or scoped
    if not wanted or config.getoption("no_rules_coverage"):
        return
    if fail_under is not None and not 0 <= fail_under <= 100:
        raise pytest.UsageError(f"--rules-coverage-fail-under takes a percentage from 0 to 100, got {fail_under:g}")
    scope = _scope(config, default)
    from negotiation_rules.testing._coverage import RuleCoverage

    coverage = RuleCoverage()
    coverage.start()  # before collection: a test module may advise() at import time
    plugin = _CoveragePlugin(config, coverage, scope, fail_under, count_unless)
    config.pluginmanager.register(plugin, "negotiation_rules_coverage")


def _under(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _relative(path: Path, base: Path) -> str:
    """``path`` as pytest shows files: relative to where it runs when inside it."""
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)


def _scope(config: pytest.Config, default: Path | list[str | Path] | None) -> list[Path] | None:
    """The rule files and folders the coverage share is computed over (None: every rule evaluated)."""
    cli: list[str] = config.getoption("rules_coverage_of")
    ini: list[str] = config.getini(COVERAGE_INI)
    if cli:
        paths, source = [_under(config.invocation_params.dir, p) for p in cli], "--rules-coverage-of"
    elif ini:
        paths, source = [_under(config.rootpath, p) for p in ini], COVERAGE_INI
    else:
        if default is None:
            return None
        return [Path(p) for p in default] if isinstance(default, list) else [default]
    for path in paths:
        if not path.exists():
            raise pytest.UsageError(f"{source}: {path}: no such file or folder")
    return paths


# -- scenario files ----------------------------------------------------------------------------


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ScenarioFile | None:
    if file_path.name.endswith(SCENARIO_SUFFIX):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    """A ``*.scenarios.yaml`` file: read and checked completely at collection, one item per case."""

    def collect(self) -> list[ScenarioItem]:
        import dataclasses

        from negotiation_rules.testing._scenarios import load_scenarios

        scenarios = load_scenarios(
            self.path,
            default_ruleset=self.config.stash[_default_key],
            cache=self.config.stash[_cache_key],
            label=_relative(self.path, self.config.invocation_params.dir),
        )
        engine = self.config.getoption("rules_engine")
        scenarios = [dataclasses.replace(s, engine=engine) for s in scenarios]
        return [ScenarioItem.from_parent(self, name=s.name, scenario=s) for s in scenarios]

    def repr_failure(  # type: ignore[override]  # the same signature as pytest's own Collector.repr_failure
        self, excinfo: pytest.ExceptionInfo[BaseException]
    ) -> str | TerminalRepr:
        """A bad scenario file shows its problems (file:line: what), not a traceback into the plugin."""
        from negotiation_rules import ScenarioError

        if isinstance(excinfo.value, ScenarioError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class ScenarioItem(pytest.Item):
    """One case of a scenario file; it passes when the advice for its state meets every expectation."""

    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.add_marker("scenario")

    def runtest(self) -> None:
        self.scenario.run()

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: TracebackStyle | None = None
    ) -> str | TerminalRepr:
        """A missed expectation shows the message of ``check()`` (advice and why-not), not a traceback."""
        if isinstance(excinfo.value, AssertionError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.scenario.line - 1, f"scenario: {self.name}"


@pytest.fixture(scope="session")
def advisor(pytestconfig: pytest.Config) -> Advisor:
    """``advise()`` bound to the project's ruleset (ini ``negotiation_rules_rulesets``, else the built-in one).

    ``advisor(state, top=3)`` returns the Advice; ``advisor.ruleset`` is the Ruleset;
    ``advisor.assert_recommends(state, tactic)`` and the other helpers use that ruleset, and the
    engine of ``--rules-engine``.
    """
    from negotiation_rules.testing import Advisor

    return Advisor(pytestconfig.stash[_default_key], engine=pytestconfig.getoption("rules_engine"))


# -- rule coverage -----------------------------------------------------------------------------


class _CoveragePlugin:
    """Counts every evaluation from configure to unconfigure; reports and checks at the end of the session."""

    def __init__(
        self,
        config: pytest.Config,
        coverage: RuleCoverage,
        scope: list[Path] | None,
        fail_under: float | None,
        count_unless: bool,
    ) -> None:
        self.config = config
        self.count_unless = count_unless
        self.coverage = coverage
        self.scope = scope
        self.fail_under = fail_under
        self.report: CoverageReport | None = None
        self.failed = False

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int | pytest.ExitCode) -> None:
        if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            return  # interrupted, or collection errors: nothing meaningful to measure
        self.report = self.coverage.report(self.scope, count_unless=self.count_unless)
        if self.fail_under is not None and self.report.below(self.fail_under):
            self.failed = True
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.report is None:
            return
        terminalreporter.write_sep("=", "rule coverage")
        for line in self.report.format(relative_to=self.config.rootpath).splitlines():
            terminalreporter.write_line(line)
        if getattr(self.config.option, "numprocesses", None):
            terminalreporter.write_line("note: counted in this process only; pytest-xdist workers are not included")
        if self.failed:
            share = self.report.share
            covered = "covered (rules fired, unless blocked)" if self.count_unless else "of the rules fired"
            what = f"{share:.1f}% {covered}" if share is not None else "no rules were in scope"
            terminalreporter.write_line(
                f"FAIL rule coverage: {what}, under --rules-coverage-fail-under={self.fail_under:g} "
                "(--no-rules-coverage skips the check, e.g. when running part of the suite)",
                red=True,
                bold=True,
            )

    def pytest_unconfigure(self) -> None:
        self.coverage.stop()
