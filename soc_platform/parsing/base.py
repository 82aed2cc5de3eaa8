"""What every log-format parser returns."""

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class ParseResult:
    """Canonical events (lake schema, raw line included) and dead letters of one input."""

    events: pa.Table
    dead_letters: pa.Table
    lines_read: int

    def dead_letter_counts(self) -> dict[str, int]:
        """Dead letters per reason."""
        if self.dead_letters.num_rows == 0:
            return {}
        counts = self.dead_letters["reason"].value_counts().to_pylist()
        return {c["values"]: c["counts"] for c in counts}
