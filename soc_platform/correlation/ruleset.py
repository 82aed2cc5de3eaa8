"""Loading a rule set: Sigma YAML files -> compiled rules, with every problem kept per rule.

A rule set is a directory of Sigma YAML files (``*.yml``, ``*.yaml``; a ``tests/`` folder of
fixtures is skipped). All files form one collection, so a correlation rule may reference
a detection rule of another file by name or id. Nothing here raises on a bad rule: each
file or rule that cannot be loaded or compiled is reported as a :class:`RuleProblem` with
the stage it failed at and why, and the rest of the set still runs.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule, SigmaRuleBase

from soc_platform.correlation.compiler import CompiledRule, Tuning, compile_collection, rule_name
from soc_platform.correlation.config import ConfigFileError, DetectionConfig
from soc_platform.correlation.sigma.backend import PostgresBackend
from soc_platform.correlation.sigma.pipeline import waf_pipeline

AnyRule = SigmaRule | SigmaCorrelationRule


@dataclass(frozen=True)
class RuleProblem:
    """Why one file or rule does not run."""

    source: str  # file path
    rule: str  # rule name / id / title, empty for a file that did not parse at all
    stage: str  # "load" (YAML / Sigma syntax, references) or "convert" (to SQL)
    message: str

    def __str__(self) -> str:
        where = f"{self.source}" + (f" [{self.rule}]" if self.rule else "")
        return f"{where}: {self.stage}: {self.message}"


@dataclass
class RuleSet:
    """A loaded, compiled rule set."""

    root: str
    rules: list[CompiledRule] = field(default_factory=list)  # the ones that raise incidents
    problems: list[RuleProblem] = field(default_factory=list)
    files: int = 0
    loaded: int = 0  # Sigma rules (detection and correlation) parsed
    converted: int = 0  # of those, compiled to SQL
    disabled: list[str] = field(default_factory=list)
    unknown_overrides: list[str] = field(default_factory=list)  # config names no rule

    def rule(self, name: str) -> CompiledRule:
        for r in self.rules:
            if r.name == name:
                return r
        raise KeyError(name)

    def only(self, names: Iterable[str]) -> "RuleSet":
        """The same set restricted to some rules (retro-hunts, rule tests)."""
        wanted = set(names)
        return RuleSet(
            self.root,
            [r for r in self.rules if r.name in wanted],
            self.problems,
            self.files,
            self.loaded,
            self.converted,
            self.disabled,
            self.unknown_overrides,
        )


def rule_files(root: Path) -> list[Path]:
    """The Sigma files of a rule set: a file, or every YAML file under a directory except
    test fixtures."""
    if root.is_file():
        return [root]
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix in (".yml", ".yaml")
        and p.is_file()
        and "tests" not in p.relative_to(root).parts
    )


def load_rule_set(
    root: Path,
    config: DetectionConfig | None = None,
    texts: Sequence[tuple[str, str]] | None = None,
    *,
    strict_fields: bool = True,
) -> RuleSet:
    """Load and compile a rule set from ``root`` (or from ``texts``: (source, YAML) pairs)."""
    config = config or DetectionConfig(rules={})
    out = RuleSet(str(root))
    if texts is None:
        if not root.exists():
            out.problems.append(RuleProblem(str(root), "", "load", "no such file or directory"))
            return out
        texts = []
        for path in rule_files(root):
            try:
                texts.append((str(path), path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as e:
                out.problems.append(RuleProblem(str(path), "", "load", str(e)))
    out.files = len(texts)

    rules: list[AnyRule] = []
    source_of: dict[int, str] = {}
    for source, text in texts:
        try:
            # references resolve over the whole set below, not within one file
            collection = SigmaCollection.from_yaml(
                text, collect_errors=True, resolve_references=False
            )
        except (SigmaError, ValueError) as e:  # YAML that is not even a document list
            out.problems.append(RuleProblem(source, "", "load", _first_line(e)))
            continue
        for rule in collection.rules:
            source_of[id(rule)] = source
            if rule.errors:
                out.problems.append(
                    RuleProblem(source, _label(rule), "load", "; ".join(map(str, rule.errors)))
                )
            else:
                rules.append(rule)
    out.loaded = len(rules) + sum(1 for p in out.problems if p.rule)

    # rules switched off for this deployment, and references that do not resolve, drop out
    names = {rule_name(r) for r in rules}
    try:
        config.check_rule_names(names)
    except ConfigFileError as e:
        out.unknown_overrides = list(e.problems)
    enabled: list[AnyRule] = []
    for rule in rules:
        if not config.is_enabled(rule_name(rule)):
            out.disabled.append(rule_name(rule))
        else:
            enabled.append(rule)
    collection = SigmaCollection(list(enabled), resolve_references=False)
    resolved: list[AnyRule] = []
    for rule in enabled:
        if isinstance(rule, SigmaCorrelationRule):
            try:
                rule.resolve_rule_references(collection)
            except SigmaError as e:
                out.problems.append(
                    RuleProblem(source_of[id(rule)], _label(rule), "load", _first_line(e))
                )
                continue
        resolved.append(rule)
    ordered = SigmaCollection._referenced_first(resolved)

    backend = PostgresBackend(waf_pipeline(), collect_errors=True, strict_fields=strict_fields)
    backend.init_processing_pipeline("predicate")
    tuning = {
        name: Tuning(o.count, o.timespan, o.hop, o.level, o.suppress_for)
        for name in names
        for o in [config.override(name)]
    }
    compiled = compile_collection(
        ordered, backend, hop=config.hop, tuning=tuning, quiet=_referenced(rules)
    )
    for bad, message in compiled.errors:
        out.problems.append(
            RuleProblem(source_of.get(id(bad), ""), _label(bad), "convert", message)
        )
    out.converted = len(compiled.converted)
    out.rules = compiled.rules
    return out


def _referenced(rules: Sequence[SigmaRuleBase]) -> set[int]:
    """Rules some correlation references without ``generate`` (enabled or not): they raise
    no incidents of their own."""
    by_key: dict[str, SigmaRuleBase] = {}
    for rule in rules:
        for key in (rule.name, str(rule.id) if rule.id else None):
            if key:
                by_key[key] = rule
    out: set[int] = set()
    for rule in rules:
        if isinstance(rule, SigmaCorrelationRule) and not rule.generate:
            for ref in rule.rules or []:
                if ref.reference in by_key:
                    out.add(id(by_key[ref.reference]))
    return out


def _label(rule: SigmaRuleBase) -> str:
    if isinstance(rule, SigmaRule | SigmaCorrelationRule):
        return str(rule.name or rule.title or rule.id or "")
    return ""


def _first_line(e: Exception) -> str:
    return str(e).split(" (while ")[0].strip() or type(e).__name__
