"""Dynamic severity: an incident's score from its rule level and what actually happened.

The score starts from the rule's Sigma level and moves with four factors. Every factor is
reported in ``Score.reasons`` so an analyst can see why an incident ranks where it does.

=========================  ==============================================================
factor                     contribution
=========================  ==============================================================
rule level (base)          informational 10, low 25, medium 45, high 65, critical 85
volume                     ``+round(6 * log2(events / threshold))``, 0 at or below the
                           threshold, capped at +15 (about 5.7x the threshold)
distinct targets           +5 from 5 targets, +10 from 20 (a target is host + path)
WAF outcome                +15 if any event was not blocked (the attack reached the
                           application), -10 if every event was blocked
target criticality         low -10, medium 0, high +10, critical +15, unknown 0
=========================  ==============================================================

The sum is clamped to 0..100 and mapped back to a level: 85 and over critical, 65 high,
40 medium, 20 low, below that informational.

Every factor is non-decreasing in its input, so more events, more targets, fewer blocked
events or a more critical target never lower the score.
"""

import math
from dataclasses import dataclass

from soc_platform.errors import ConfigurationError, RuleError

LEVELS = ("informational", "low", "medium", "high", "critical")
"""Sigma rule levels, least severe first."""

CRITICALITIES = ("low", "medium", "high", "critical")
"""Asset criticalities, least critical first."""

_BASE = {"informational": 10, "low": 25, "medium": 45, "high": 65, "critical": 85}
_CRITICALITY = {"low": -10, "medium": 0, "high": 10, "critical": 15}
_VOLUME_FACTOR = 6
_VOLUME_CAP = 15
_TARGET_STEPS = ((20, 10), (5, 5))  # (at least this many targets, bonus), largest first
_NOT_BLOCKED = 15
_ALL_BLOCKED = -10
_LEVEL_FLOORS = ((85, "critical"), (65, "high"), (40, "medium"), (20, "low"))


@dataclass(frozen=True)
class ScoreInput:
    """What is known about one incident when it is scored.

    Raises:
        RuleError: ``level`` is not a Sigma level, ``threshold`` is below 1, or the counts
            are inconsistent (negative, or more blocked events than events).
        ConfigurationError: ``criticality`` is not one of ``CRITICALITIES``.
    """

    level: str
    event_count: int
    threshold: int
    target_count: int
    blocked_count: int
    criticality: str | None = None
    # what the threshold counts when it is not events (value_count: distinct values);
    # None: the events
    measure: int | None = None

    def __post_init__(self) -> None:
        if self.level not in _BASE:
            raise RuleError(
                f"score input: level must be one of {', '.join(LEVELS)}, got {self.level!r}"
            )
        if self.threshold < 1:
            raise RuleError(f"score input: threshold must be at least 1, got {self.threshold}")
        for name in ("event_count", "target_count", "blocked_count", "measure"):
            count = getattr(self, name)
            if count is not None and count < 0:
                raise RuleError(f"score input: {name} must not be negative, got {count}")
        if self.blocked_count > self.event_count:
            raise RuleError(
                f"score input: blocked_count ({self.blocked_count}) exceeds "
                f"event_count ({self.event_count})"
            )
        if self.criticality is not None and self.criticality not in _CRITICALITY:
            raise ConfigurationError(
                f"score input: criticality must be one of {', '.join(CRITICALITIES)} or None, "
                f"got {self.criticality!r}"
            )


@dataclass(frozen=True)
class Score:
    """A 0..100 score, its level and one human-readable reason per factor."""

    value: int
    level: str
    reasons: tuple[str, ...]


def level_of(value: int) -> str:
    """The level a score value falls in (see the module docstring for the floors)."""
    for floor, level in _LEVEL_FLOORS:
        if value >= floor:
            return level
    return "informational"


def score(inp: ScoreInput) -> Score:
    """Score one incident; see the module docstring for the table."""
    parts = [
        _base(inp),
        _volume(inp),
        _targets(inp),
        _waf(inp),
        _criticality(inp),
    ]
    total = sum(points for points, _ in parts)
    reasons = [reason for _, reason in parts]
    value = min(100, max(0, total))
    if value != total:
        reasons.append(f"total {total} clamped to {value}")
    return Score(value=value, level=level_of(value), reasons=tuple(reasons))


def _base(inp: ScoreInput) -> tuple[int, str]:
    points = _BASE[inp.level]
    return points, f"rule level {inp.level}: base {points}"


def _volume(inp: ScoreInput) -> tuple[int, str]:
    ratio = (inp.event_count if inp.measure is None else inp.measure) / inp.threshold
    points = 0
    if ratio > 1:
        points = min(_VOLUME_CAP, round(_VOLUME_FACTOR * math.log2(ratio)))
    capped = " (capped)" if points == _VOLUME_CAP else ""
    return points, f"volume {ratio:.1f}x threshold: {points:+d}{capped}"


def _targets(inp: ScoreInput) -> tuple[int, str]:
    points = next((bonus for least, bonus in _TARGET_STEPS if inp.target_count >= least), 0)
    noun = "target" if inp.target_count == 1 else "targets"
    return points, f"{inp.target_count} distinct {noun}: {points:+d}"


def _waf(inp: ScoreInput) -> tuple[int, str]:
    through = inp.event_count - inp.blocked_count
    noun = "request" if inp.event_count == 1 else "requests"
    if through > 0:
        return _NOT_BLOCKED, (
            f"{through} of {inp.event_count} {noun} not blocked by the WAF: {_NOT_BLOCKED:+d}"
        )
    # zero events count as "all blocked" too, so adding an event never lowers the score
    if inp.event_count == 0:
        return _ALL_BLOCKED, f"no request got through the WAF: {_ALL_BLOCKED:+d}"
    return _ALL_BLOCKED, f"all {inp.event_count} {noun} blocked by the WAF: {_ALL_BLOCKED:+d}"


def _criticality(inp: ScoreInput) -> tuple[int, str]:
    if inp.criticality is None:
        return 0, "target criticality unknown: +0"
    points = _CRITICALITY[inp.criticality]
    return points, f"target criticality {inp.criticality}: {points:+d}"
