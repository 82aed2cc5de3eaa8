"""The processing pipeline that fits Sigma web rules to soc-platform's WAF events.

Four steps, in pySigma's way:

1. rules whose log source is not web traffic fail with the reason (a Windows or a
   firewall rule cannot run over WAF events);
2. field names that are neither the web taxonomy nor a WAF column fail with the field (a
   typo, or a field of another log source);
3. fields of the web taxonomy the WAF events do not carry (``cs-referer``...) are marked
   absent (renamed ``absent:<field>``): the backend gives a test on such a field the value
   Sigma gives it over events without that field (false; true for ``null`` and
   ``|exists: false``), simplifies the condition, and refuses the rule with the reason where
   that would change what it means (see :mod:`.backend`);
4. the Sigma web-server taxonomy (``cs-uri-query``, ``c-ip``, ``sc-status``...) and the
   Elastic Common Schema names (``source.ip``, ``url.path``, ``source.as.number``...) are
   mapped onto the logical columns of :mod:`.columns`, which the backend turns into SQL.
"""

from dataclasses import dataclass

from sigma.exceptions import SigmaTransformationError
from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    FieldMappingTransformation,
    RuleFailureTransformation,
)
from sigma.processing.transformations.base import DetectionItemTransformation
from sigma.rule import SigmaDetectionItem
from sigma.types import SigmaFieldReference

from soc_platform.correlation.sigma.columns import (
    ABSENT_PREFIX,
    ECS,
    TAXONOMY,
    UNAVAILABLE,
    known_fields,
)

#: Log sources whose events the hot table holds.
WEB_LOGSOURCES: tuple[dict[str, str], ...] = (
    {"category": "webserver"},
    {"category": "proxy"},
    {"product": "waf"},
    {"product": "apache"},
    {"product": "nginx"},
    {"service": "apache"},
    {"service": "nginx"},
)


def _fields(item: SigmaDetectionItem) -> list[str]:
    """The field a detection item tests and the fields its values refer to (|fieldref)."""
    names = [item.field] if item.field is not None else []
    names += [v.field for v in item.value if isinstance(v, SigmaFieldReference)]
    return names


@dataclass
class UnknownFieldFailure(DetectionItemTransformation):
    """Fail on a field name that is neither the web taxonomy nor a WAF column."""

    def apply_detection_item(self, detection_item: SigmaDetectionItem) -> None:
        for name in _fields(detection_item):
            if name in known_fields() or name in UNAVAILABLE or name.startswith(ABSENT_PREFIX):
                continue
            raise SigmaTransformationError(
                f"field '{name}': no such field in WAF events "
                f"(fields: {', '.join(sorted(known_fields()))})",
                source=detection_item.source,
            )


@dataclass
class AbsentFieldTransformation(DetectionItemTransformation):
    """Mark a test on a web field the WAF events do not carry: ``absent:<field>``."""

    def apply_detection_item(self, detection_item: SigmaDetectionItem) -> None:
        names = [n for n in _fields(detection_item) if n in UNAVAILABLE]
        if names:
            # a comparison with an absent field (|fieldref) is as false as a test on one
            detection_item.field = ABSENT_PREFIX + names[0]
            self.processing_item_applied(detection_item)


def _mapping() -> dict[str | None, str | list[str]]:
    mapping: dict[str | None, str | list[str]] = {}
    mapping.update(TAXONOMY)
    mapping.update(ECS)
    return mapping


def waf_pipeline() -> ProcessingPipeline:
    """The pipeline for WAF / web-server rules over ``waf_events``."""
    return ProcessingPipeline(
        name="soc-platform WAF events",
        priority=20,
        items=[
            ProcessingItem(
                identifier="soc_web_logsource",
                transformation=RuleFailureTransformation(
                    "log source is not web traffic: the hot table holds WAF and web-server "
                    "events (category webserver or proxy, product waf, apache or nginx)"
                ),
                # conditions are bound to one pipeline: fresh ones for each
                rule_conditions=[LogsourceCondition(**ls) for ls in WEB_LOGSOURCES],
                rule_condition_linking=any,
                rule_condition_negation=True,
            ),
            ProcessingItem(identifier="soc_known_fields", transformation=UnknownFieldFailure()),
            ProcessingItem(
                identifier="soc_absent_fields", transformation=AbsentFieldTransformation()
            ),
            ProcessingItem(
                identifier="soc_web_taxonomy",
                transformation=FieldMappingTransformation(_mapping()),
            ),
        ],
    )
