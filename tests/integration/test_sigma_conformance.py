"""Conformance on public Sigma material, read in place from ``shared/realdata``.

* the 145 SigmaHQ web / proxy rules: most convert, every converted rule runs against
  ``waf_events``, and every one that does not convert says precisely why;
* the Sigma correlation specification: every valid example (the specification's own and
  its schema tests) parses and compiles to a window query of the right kind;
* rules in the legacy ``| count() by`` aggregation syntax are reported, not crashed on.

Run with ``-s`` to see the numbers.
"""

import json
import re
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from sigma.collection import SigmaCollection

from soc_platform.cli.rules import _sample_events
from soc_platform.correlation.compiler import CompiledRule, compile_collection
from soc_platform.correlation.ruleset import RuleSet, load_rule_set
from soc_platform.correlation.sigma.backend import PostgresBackend
from soc_platform.flow.rules import KEEP_ALL, convert_report
from soc_platform.hot.store import HotStore

REALDATA = (Path(__file__).parents[2] / ".." / "shared" / "realdata").resolve()
SIGMA_WEB = REALDATA / "sigma_web"
CORRELATION = REALDATA / "sigma_correlation"
LEGACY = CORRELATION / "legacy_aggregation_sigma_repo"
SCHEMA = CORRELATION / "sigma-correlation-rules-schema.json"

#: a failure message that is only an exception's class name says nothing
BARE_CLASS = re.compile(r"^[A-Za-z_.]*(Error|Exception)$")


def _show(text: str) -> None:
    """Numbers for the reader (``pytest -s``)."""
    sys.stdout.write(text + "\n")


def _need(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared real-data set is not checked out here")


# -- SigmaHQ web rules ----------------------------------------------------------------------


def _index() -> dict[str, dict[str, Any]]:
    return {r["title"]: r for r in json.loads((SIGMA_WEB / "INDEX.json").read_text())}


def test_sigmahq_web_rules_convert_and_run(pg_dsn: str) -> None:
    _need(SIGMA_WEB / "INDEX.json")
    index = _index()
    hot = HotStore(pg_dsn, policy=KEEP_ALL)
    hot.setup()
    report = convert_report(SIGMA_WEB, hot, _sample_events)

    failures = [p for p in report.problems if p.stage != "run"]
    _show(
        f"\nSigmaHQ web rules: {report.files} files, {report.loaded} loaded, "
        f"{report.converted} converted ({100 * report.converted_share:.1f}%), "
        f"{report.ran} ran against waf_events"
    )
    for p in report.problems:
        _show(f"  - [{p.rule}] {p.stage}: {p.message.split(' (fields: ')[0]}")

    assert report.files == len(index) == 145
    assert report.loaded == 145
    assert report.converted_share >= 0.9
    # every converted rule raises incidents on its own, so each one's predicate was run
    assert report.ran == report.converted
    assert [p for p in report.problems if p.stage == "run"] == []
    assert len(failures) == report.loaded - report.converted

    for p in failures:
        assert p.rule, p
        assert p.stage in ("load", "convert"), p
        assert p.message.strip(), p
        assert not BARE_CLASS.match(p.message.strip()), p
        named = re.search(r"field '([^']+)'(?::| \(WAF events)", p.message)
        if named:  # a field the WAF events lack: the rule uses it, and the reason says why
            assert named.group(1) in index[p.rule]["detection_fields"], p
            assert re.search(r"no such field|can never match|means to exclude", p.message), p
        else:  # otherwise the message names the feature (log source, modifier, syntax)
            assert re.search(r"log source|modifier|syntax|not supported|field", p.message), p

    # a field WAF events lack makes its branch false; the rest of the rule converts
    refused = {p.rule for p in failures}
    for title in (
        "Log4j RCE CVE-2021-44228 in Fields",  # 1 of selection*: one on the Referer
        "HackTool - CobaltStrike Malleable Profile Patterns - Proxy",  # one needs a Cookie
        "ProxyLogon Reset Virtual Directories Based On IIS Log",  # selection or keywords
    ):
        assert title in index, title
        assert title not in refused, title


# -- the correlation specification ------------------------------------------------------------

#: HAVING (or flag) each correlation type must compile to
KIND_SQL = {
    "event_count": "count(*)",
    "value_count": "count(DISTINCT val)",
    "temporal": "bool_or(",
    "temporal_ordered": "bool_or(",
    "value_sum": "sum(val)",
    "value_avg": "avg(val)",
    "value_percentile": "percentile_cont(",
    "value_median": "percentile_cont(0.5)",
}
OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "=", "neq": "<>"}

#: the specification makes the id optional and a UUID only recommended (the schema's
#: ``format: uuid`` is an annotation in draft 2020-12); pySigma 2 insists on a UUID, so an
#: example using a placeholder id is compiled without it
PYSIGMA_NEEDS_UUID = "identifier must be an UUID"


def _examples() -> list[Path]:
    return sorted(CORRELATION.glob("spec_doc_example_*.yml")) + sorted(
        (CORRELATION / "spec_tests").glob("*.yml")
    )


def _valid_example_ids() -> list[str]:
    """The valid examples (the others are checked by
    test_the_specification_examples_that_are_not_valid)."""
    return [f"{p.parent.name}/{p.name}" for p in _examples() if _is_valid(p)] or ["absent"]


def _example(name: str) -> Path:
    _need(CORRELATION)
    return CORRELATION / name.removeprefix("sigma_correlation/")


def _docs(path: Path) -> list[dict[str, Any]]:
    # YAML dates are strings in the JSON the schema describes
    return [
        json.loads(json.dumps(d, default=str)) for d in yaml.safe_load_all(path.read_text()) if d
    ]


def _spec_violations(doc: dict[str, Any]) -> list[str]:
    """Why a correlation document is not valid by the specification (title mandatory, type,
    rules and timespan required, condition required except for temporal types) and by
    its JSON schema when jsonschema is installed."""
    out: list[str] = []
    corr = doc.get("correlation") or {}
    if not doc.get("title"):
        out.append("title is mandatory")
    out.extend(
        f"correlation.{key} is mandatory"
        for key in ("type", "rules", "timespan")
        if key not in corr
    )
    if corr.get("type") not in ("temporal", "temporal_ordered") and "condition" not in corr:
        out.append("correlation.condition is mandatory")
    try:
        import jsonschema  # type: ignore[import-untyped]
    except ImportError:  # the schema part is optional
        return out
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    out.extend(e.message for e in validator.iter_errors(doc))
    return out


def _is_valid(path: Path) -> bool:
    return all(not _spec_violations(d) for d in _docs(path) if "correlation" in d)


def _with_base_rules(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The example's documents plus a minimal web rule for each reference it does not
    define; rules it defines for other log sources are moved to the web log source (the
    structure is what is compiled here, not Windows events)."""
    defined = {str(d.get(k)) for d in docs for k in ("id", "name") if d.get(k)}
    out: list[dict[str, Any]] = []
    bases: list[dict[str, Any]] = []
    for doc in docs:
        doc = dict(doc)
        if "correlation" not in doc:
            doc["logsource"] = {"category": "webserver"}
        out.append(doc)
        for ref in (doc.get("correlation") or {}).get("rules") or []:
            if ref in defined:
                continue
            defined.add(ref)
            try:
                uuid.UUID(ref)
                key = "id"
            except ValueError:
                key = "name"
            bases.append(
                {
                    "title": f"base rule {ref}",
                    key: ref,
                    "logsource": {"category": "webserver"},
                    "detection": {
                        "selection": {"EventID": 4625 + len(bases)},
                        "condition": "selection",
                    },
                }
            )
    return out + bases


def _compile_example(path: Path) -> tuple[RuleSet, list[dict[str, Any]]]:
    docs = _docs(path)
    parsed = SigmaCollection.from_yaml(
        path.read_text(), collect_errors=True, resolve_references=False
    )
    errors = [str(e) for r in parsed.rules for e in r.errors] + [str(e) for e in parsed.errors]
    if errors:
        assert all(PYSIGMA_NEEDS_UUID in e for e in errors), errors
        for doc in docs:
            doc.pop("id", None)
    text = yaml.safe_dump_all(_with_base_rules(docs), sort_keys=False)
    # one document stream: the references resolve within it
    return load_rule_set(path, texts=[(str(path), text)], strict_fields=False), docs


def _outer_doc(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The correlation no other correlation of the file references."""
    referenced = {r for d in docs for r in (d.get("correlation") or {}).get("rules") or []}
    (doc,) = [
        d for d in docs if "correlation" in d and not {d.get("id"), d.get("name")} & referenced
    ]
    return doc


def _outer(rule_set: RuleSet) -> CompiledRule:
    (rule,) = [r for r in rule_set.rules if r.kind != "detection"]
    return rule


@pytest.mark.parametrize("name", _valid_example_ids())
def test_valid_correlation_example_compiles(name: str) -> None:
    path = _example(name)
    rule_set, docs = _compile_example(path)
    assert rule_set.problems == [], [str(p) for p in rule_set.problems]
    spec = _outer_doc(docs)["correlation"]
    rule = _outer(rule_set)
    kind = spec["type"]

    assert rule.kind == kind
    assert KIND_SQL[kind] in rule.having
    assert rule.group_fields == tuple(spec["group-by"])
    assert len(rule.refs) == len(spec["rules"])
    if kind == "temporal_ordered":  # two rules: in SQL; more: on event times in Python
        in_sql = "< max(event_time) FILTER (WHERE m1)" in rule.having
        assert rule.ordered is not in_sql
        assert in_sql is (len(spec["rules"]) == 2)
    else:
        assert not rule.ordered
    condition = spec.get("condition")
    if isinstance(condition, dict):
        (op,) = [k for k in condition if k in OPS]
        assert rule.having.endswith(f" {OPS[op]} {condition[op]}")
        if "field" in condition:
            assert f'"{condition["field"]}"' in rule.value
    else:  # temporal: every referenced rule must be present
        presence = [
            f"bool_or(m{i})" if r.min_count <= 1 else f"count(*) FILTER (WHERE m{i}) >= "
            for i, r in enumerate(rule.refs)
        ]
        assert all(p in rule.having for p in presence), rule.having
    for query in (rule.query(), rule.query(totals=True)):
        assert not re.search(r"\{[a-z_]+\}", query)
        assert "%(lo)s" in query and "%(span_groups)s" in query
    assert rule.having in rule.query().replace("%%", "%")


def test_the_specification_examples_that_are_not_valid() -> None:
    """The fragments the specification shows without a title (03, 04) are not valid rules,
    and pySigma says so; every other example is."""
    _need(CORRELATION)
    invalid = {p.name for p in _examples() if not _is_valid(p)}
    _show(f"\ncorrelation examples: {len(_examples())}, not valid: {sorted(invalid)}")
    assert invalid == {"spec_doc_example_03.yml", "spec_doc_example_04.yml"}
    for name in sorted(invalid):
        text = (CORRELATION / name).read_text()
        parsed = SigmaCollection.from_yaml(text, collect_errors=True, resolve_references=False)
        assert {str(e) for r in parsed.rules for e in r.errors} == {"Sigma rule must have a title"}
        # the loader reports the file (here: its references do not resolve either)
        rule_set = load_rule_set(CORRELATION / name)
        assert rule_set.rules == [] and rule_set.problems


def test_alias_example_groups_by_each_rules_field() -> None:
    path = _example("spec_doc_example_08.yml")
    rule_set, _ = _compile_example(path)
    assert rule_set.problems == []
    rule = _outer(rule_set)
    assert rule.kind == "temporal"
    assert rule.group_fields == ("internal_ip", "remote_ip")
    # per alias: a CASE choosing the field of the rule the event matched
    assert rule.group_key.count("CASE WHEN") == 2
    # source.ip is ECS for the client IP column; destination.ip, which WAF events lack,
    # is a column of that name here (strict_fields off: compiled for inspection)
    for column in ('e."destination.ip"', "host(e.client_ip)"):
        assert rule.group_key.count(column) == 2


def test_nested_event_count_in_the_complete_example() -> None:
    rule_set, _ = _compile_example(_example("spec_doc_example_09.yml"))
    assert rule_set.problems == []
    rule = _outer(rule_set)
    assert rule.title == "Correlation - Multiple Failed Logins Followed by Successful Login"
    assert [r.min_count for r in rule.refs] == [10, 1]
    # ten failures, the tenth before the (last) successful login
    assert rule.having.endswith(
        "(array_agg(event_time ORDER BY event_time) FILTER (WHERE m0))[10] "
        "< max(event_time) FILTER (WHERE m1)"
    )
    assert rule.level == "high"


# -- legacy aggregations ------------------------------------------------------------------------


def test_legacy_aggregation_rules_are_reported_not_crashed_on() -> None:
    _need(LEGACY)
    rule_set = load_rule_set(LEGACY)
    _show(f"\nlegacy aggregation rules: {rule_set.files} files, {rule_set.loaded} loaded")
    for p in rule_set.problems:
        _show(f"  - [{p.rule}] {p.stage}: {p.message}")
    assert rule_set.files == rule_set.loaded == 8
    assert rule_set.converted == 0
    assert rule_set.rules == []
    assert len(rule_set.problems) == 8
    for p in rule_set.problems:
        assert p.rule and p.stage == "convert"
        # the web one reaches the condition; the others stop at their (non-web) log source
        assert "pipe syntax" in p.message or "log source is not web traffic" in p.message, p
    (web,) = [p for p in rule_set.problems if "Resp Codes" in p.rule]
    assert "pipe syntax" in web.message and "correlation" in web.message


def test_legacy_aggregation_is_named_whatever_the_log_source() -> None:
    """Without the WAF pipeline (no log-source check) each of them fails on its
    ``| count()`` condition, with pySigma's pointer to correlation rules."""
    _need(LEGACY)
    collection = SigmaCollection.load_ruleset([LEGACY])
    compiled = compile_collection(
        collection, PostgresBackend(collect_errors=True, strict_fields=False)
    )
    assert compiled.rules == []
    assert len(compiled.errors) == 8
    for _, message in compiled.errors:
        assert "pipe syntax" in message and "correlations" in message, message
