"""Error hierarchy: one root, specific subclasses that say what to do."""


class SocPlatformError(Exception):
    """Root of every error soc-platform raises on purpose."""


class ConfigurationError(SocPlatformError):
    """A setting is missing, malformed or points at something unusable."""


class DependencyError(SocPlatformError):
    """An optional dependency or external binary is missing."""


class HotStoreError(SocPlatformError):
    """The hot store (PostgreSQL / TimescaleDB) cannot be reached or used."""


class RuleQueryError(HotStoreError):
    """PostgreSQL refused the SQL compiled from a rule."""


class LakeError(SocPlatformError):
    """The Iceberg lake cannot be reached or written."""


class SearchBackendError(SocPlatformError):
    """The search backend rejected a request or cannot be reached."""


class RuleError(SocPlatformError):
    """A detection rule is invalid."""


class ParseError(SocPlatformError):
    """One input line could not be turned into a canonical event."""

    def __init__(self, reason: str, detail: str, source: str = "", offset: int = -1) -> None:
        super().__init__(f"{source}@{offset}: {reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.source = source
        self.offset = offset


class RunFailedError(SocPlatformError):
    """A Dagster run the command line executed failed; the message says what was stored.
    Exit status 1 (2 is for usage and configuration errors). ``details``: every failed
    step's error with its traceback (shown with SOC_DEBUG=1)."""

    exit_status = 1

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


class LifecycleError(SocPlatformError):
    """An incident change that cannot be made: unknown incident, status or disposition,
    or a transition the lifecycle forbids."""
