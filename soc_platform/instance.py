"""Kept for dagster.yaml files written before the launcher moved (``run_launcher: module:
soc_platform.instance``): the launcher is :mod:`soc_platform.flow.instance`."""

from soc_platform.flow.instance import SocRunLauncher

__all__ = ["SocRunLauncher"]
