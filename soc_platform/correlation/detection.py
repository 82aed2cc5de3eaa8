"""The detection setup of a deployment: its rule set, detection config and asset map.

Rule problems (a rule that does not parse or convert) never stop detection: they are kept in
``RuleSet.problems`` and surface as an asset check. A broken *configuration* file (detection
config, asset map) does stop it, with the file and the path of every problem: running with
half a configuration would silently change what is detected.
"""

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from soc_platform.correlation.assets_map import AssetCriticality, parse_asset_criticality
from soc_platform.correlation.config import DetectionConfig, parse_detection_config
from soc_platform.correlation.incidents import Context
from soc_platform.correlation.ruleset import RuleSet, load_rule_set
from soc_platform.errors import ConfigurationError


@dataclass(frozen=True)
class Detection:
    rules: RuleSet
    context: Context

    def only(self, *names: str) -> "Detection":
        """The same setup with only some rules (rule tests, retro-hunts of one rule)."""
        return Detection(self.rules.only(names), self.context)


def builtin_rules_dir() -> Path:
    """The rule pack shipped with soc-platform: ``rules/`` of the checkout, or of the wheel
    (packaged as ``soc_platform/_rules``)."""
    here = Path(__file__).resolve().parents[1]  # soc_platform/
    for candidate in (here / "_rules", here.parent / "rules"):
        if candidate.is_dir():
            return candidate
    raise ConfigurationError(
        "the built-in rule pack is missing (neither soc_platform/_rules nor rules/ exists): "
        "set SOC_RULES_DIR to a directory of Sigma rules"
    )


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigurationError(f"{what} {path}: {e.strerror or e}") from e


def load_config(path: Path | None) -> DetectionConfig:
    if path is None:
        return DetectionConfig(rules={})
    return parse_detection_config(_read(path, "detection config"), str(path))


def load_assets(path: Path | None) -> AssetCriticality:
    if path is None:
        return AssetCriticality()
    return parse_asset_criticality(_read(path, "asset criticality map"), str(path))


def load_detection(
    rules_dir: Path | None = None,
    config_path: Path | None = None,
    assets_path: Path | None = None,
) -> Detection:
    """Load the rule set (default: the built-in pack) with its configuration."""
    config = load_config(config_path)
    rules = load_rule_set(rules_dir or builtin_rules_dir(), config)
    return Detection(rules, Context(config, load_assets(assets_path)))


@cache
def default_detection() -> Detection:
    """The built-in rule pack with default configuration (loaded once per process)."""
    return load_detection()
