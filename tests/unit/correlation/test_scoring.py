"""Dynamic severity scoring (soc_platform.correlation.scoring)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soc_platform.correlation.scoring import (
    CRITICALITIES,
    LEVELS,
    Score,
    ScoreInput,
    level_of,
    score,
)
from soc_platform.errors import ConfigurationError, RuleError, SocPlatformError

PROPS = settings(max_examples=300, deadline=None, database=None)
CRITICALITY = st.one_of(st.none(), st.sampled_from(CRITICALITIES))
# None scores like "medium" (0); ranked so that "more critical" is a total order
CRIT_RANK = {"low": 0, None: 1, "medium": 1, "high": 2, "critical": 3}


@st.composite
def inputs(draw: st.DrawFn) -> ScoreInput:
    events = draw(st.integers(0, 100_000))
    return ScoreInput(
        level=draw(st.sampled_from(LEVELS)),
        event_count=events,
        threshold=draw(st.integers(1, 1_000)),
        target_count=draw(st.integers(0, 500)),
        blocked_count=draw(st.integers(0, events)),
        criticality=draw(CRITICALITY),
    )


def si(**changes: object) -> ScoreInput:
    base: dict[str, object] = {
        "level": "high",
        "event_count": 10,
        "threshold": 10,
        "target_count": 1,
        "blocked_count": 10,
        "criticality": None,
    }
    base.update(changes)
    return ScoreInput(**base)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Examples
# --------------------------------------------------------------------------------------


def test_a_rule_at_its_threshold_all_blocked_scores_base_minus_the_waf() -> None:
    assert score(si()) == Score(
        value=55,
        level="medium",
        reasons=(
            "rule level high: base 65",
            "volume 1.0x threshold: +0",
            "1 distinct target: +0",
            "all 10 requests blocked by the WAF: -10",
            "target criticality unknown: +0",
        ),
    )


def test_every_factor_is_explained() -> None:
    result = score(si(event_count=40, blocked_count=37, target_count=12, criticality="critical"))
    assert result.reasons == (
        "rule level high: base 65",
        "volume 4.0x threshold: +12",
        "12 distinct targets: +5",
        "3 of 40 requests not blocked by the WAF: +15",
        "target criticality critical: +15",
        "total 112 clamped to 100",
    )
    assert (result.value, result.level) == (100, "critical")


@pytest.mark.parametrize(
    ("level", "base"),
    [("informational", 10), ("low", 25), ("medium", 45), ("high", 65), ("critical", 85)],
)
def test_base_by_level(level: str, base: int) -> None:
    # one event got through (+15), criticality low (-10), otherwise neutral: base + 5
    result = score(si(level=level, blocked_count=9, criticality="low"))
    assert result.reasons[0] == f"rule level {level}: base {base}"
    assert result.value == base + 5


@pytest.mark.parametrize(
    ("events", "points"),
    [(5, 0), (10, 0), (20, 6), (40, 12), (56, 15), (57, 15), (10_000, 15)],
)
def test_volume_grows_with_log_of_ratio_and_is_capped(events: int, points: int) -> None:
    result = score(si(event_count=events, blocked_count=events))
    assert result.value == 55 + points
    assert result.reasons[1].endswith(f"{points:+d}" + (" (capped)" if points == 15 else ""))


@pytest.mark.parametrize(("targets", "points"), [(0, 0), (4, 0), (5, 5), (19, 5), (20, 10)])
def test_target_steps(targets: int, points: int) -> None:
    assert score(si(target_count=targets)).value == 55 + points


@pytest.mark.parametrize(
    ("criticality", "points"),
    [(None, 0), ("low", -10), ("medium", 0), ("high", 10), ("critical", 15)],
)
def test_criticality_adjustment(criticality: str | None, points: int) -> None:
    assert score(si(criticality=criticality)).value == 55 + points


def test_one_request_through_the_waf_adds_fifteen_instead_of_minus_ten() -> None:
    result = score(si(blocked_count=9))
    assert result.value == 80
    assert "1 of 10 requests not blocked by the WAF: +15" in result.reasons


def test_no_events_count_as_all_blocked() -> None:
    result = score(si(event_count=0, blocked_count=0))
    assert "no request got through the WAF: -10" in result.reasons


def test_clamped_at_zero() -> None:
    result = score(si(level="informational", event_count=0, blocked_count=0, criticality="low"))
    assert (result.value, result.level) == (0, "informational")
    assert result.reasons[-1] == "total -10 clamped to 0"


@pytest.mark.parametrize(
    ("value", "level"),
    [
        (0, "informational"),
        (19, "informational"),
        (20, "low"),
        (39, "low"),
        (40, "medium"),
        (64, "medium"),
        (65, "high"),
        (84, "high"),
        (85, "critical"),
        (100, "critical"),
    ],
)
def test_level_of_floors(value: int, level: str) -> None:
    assert level_of(value) == level


@pytest.mark.parametrize(
    ("changes", "error", "fragment"),
    [
        ({"level": "severe"}, RuleError, "level must be one of"),
        ({"level": "High"}, RuleError, "got 'High'"),
        ({"threshold": 0}, RuleError, "threshold must be at least 1"),
        ({"event_count": -1, "blocked_count": 0}, RuleError, "event_count must not be negative"),
        ({"target_count": -1}, RuleError, "target_count must not be negative"),
        ({"blocked_count": -1}, RuleError, "blocked_count must not be negative"),
        ({"blocked_count": 11}, RuleError, "blocked_count (11) exceeds event_count (10)"),
        ({"criticality": "extreme"}, ConfigurationError, "criticality must be one of"),
        ({"criticality": "informational"}, ConfigurationError, "got 'informational'"),
    ],
)
def test_invalid_input_is_rejected(
    changes: dict[str, object], error: type[SocPlatformError], fragment: str
) -> None:
    with pytest.raises(error) as info:
        si(**changes)
    assert fragment in str(info.value)


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------


@PROPS
@given(inputs())
def test_score_is_bounded_and_its_level_matches_its_value(inp: ScoreInput) -> None:
    result = score(inp)
    assert 0 <= result.value <= 100
    assert result.level == level_of(result.value)
    assert result.level in LEVELS
    assert len(result.reasons) in (5, 6)


@PROPS
@given(inputs(), st.integers(1, 10_000), st.booleans())
def test_more_events_never_lower_the_score(inp: ScoreInput, more: int, blocked: bool) -> None:
    # the extra events may all be blocked or all get through: neither lowers the score
    bigger = ScoreInput(
        level=inp.level,
        event_count=inp.event_count + more,
        threshold=inp.threshold,
        target_count=inp.target_count,
        blocked_count=inp.blocked_count + (more if blocked else 0),
        criticality=inp.criticality,
    )
    assert score(bigger).value >= score(inp).value


@PROPS
@given(inputs(), st.integers(1, 500))
def test_more_targets_never_lower_the_score(inp: ScoreInput, more: int) -> None:
    wider = ScoreInput(
        level=inp.level,
        event_count=inp.event_count,
        threshold=inp.threshold,
        target_count=inp.target_count + more,
        blocked_count=inp.blocked_count,
        criticality=inp.criticality,
    )
    assert score(wider).value >= score(inp).value


@PROPS
@given(inputs(), st.integers(1, 100_000))
def test_fewer_blocked_never_lower_the_score(inp: ScoreInput, fewer: int) -> None:
    leakier = ScoreInput(
        level=inp.level,
        event_count=inp.event_count,
        threshold=inp.threshold,
        target_count=inp.target_count,
        blocked_count=max(0, inp.blocked_count - fewer),
        criticality=inp.criticality,
    )
    assert score(leakier).value >= score(inp).value


@PROPS
@given(inputs(), CRITICALITY)
def test_higher_criticality_never_lowers_the_score(inp: ScoreInput, other: str | None) -> None:
    changed = ScoreInput(
        level=inp.level,
        event_count=inp.event_count,
        threshold=inp.threshold,
        target_count=inp.target_count,
        blocked_count=inp.blocked_count,
        criticality=other,
    )
    if CRIT_RANK[other] >= CRIT_RANK[inp.criticality]:
        assert score(changed).value >= score(inp).value


@PROPS
@given(inputs(), st.sampled_from(LEVELS))
def test_higher_rule_level_never_lowers_the_score(inp: ScoreInput, other: str) -> None:
    changed = ScoreInput(
        level=other,
        event_count=inp.event_count,
        threshold=inp.threshold,
        target_count=inp.target_count,
        blocked_count=inp.blocked_count,
        criticality=inp.criticality,
    )
    if LEVELS.index(other) >= LEVELS.index(inp.level):
        assert score(changed).value >= score(inp).value


@PROPS
@given(st.integers(-1_000, 1_000), st.integers(0, 1_000))
def test_level_of_is_monotone(value: int, step: int) -> None:
    assert LEVELS.index(level_of(value + step)) >= LEVELS.index(level_of(value))
