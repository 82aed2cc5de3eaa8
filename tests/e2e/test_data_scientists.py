"""README "Data scientists": its Python blocks run, as written, on the embedded defaults'
lake after `soc-platform generate` and `soc-platform run`, and agree with each other."""

import json
import re
from pathlib import Path

import pytest

from soc_platform import cli

README = Path(__file__).resolve().parents[2] / "README.md"


def section_blocks() -> list[str]:
    text = README.read_text()
    section = text[text.index("## Data scientists") :]
    section = section[: section.index("\n## ", 1)]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_readme_has_the_four_snippets() -> None:
    blocks = section_blocks()
    assert len(blocks) == 4
    assert "to_pandas()" in blocks[0] and "to_duckdb(" in blocks[1]
    assert "iceberg_scan(" in blocks[2] and "soc.dead_letter" in blocks[3]


def test_data_scientist_snippets_run_on_the_embedded_defaults(
    work_dir: Path,
    pg_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(work_dir)
    monkeypatch.setenv("SOC_PG_DSN", pg_dsn)  # the snippets read the lake only
    assert cli.main(["generate", "--out", ".soc-data/landing", "--events", "800"]) == 0
    landing = work_dir / ".soc-data" / "landing"
    (landing / "zz-bad.jsonl").write_text('{"not": "an event"}\nnot json\n')
    assert cli.main(["run"]) == 0
    capsys.readouterr()
    assert cli.main(["lake", "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)["tables"]

    namespace: dict[str, object] = {}
    for block in section_blocks():
        exec(compile(block, "README.md", "exec"), namespace)
    out = capsys.readouterr().out
    events = namespace["events"]
    total = events.scan().to_arrow().num_rows  # type: ignore[attr-defined]
    assert total > 700
    assert info["soc.raw_waf_events"]["records"] == total
    assert info["soc.raw_waf_events"]["metadata_location"] == events.metadata_location  # type: ignore[attr-defined]
    assert f"[({total},)]" in out  # DuckDB's iceberg_scan counts what pyiceberg reads
    assert "invalid_json" in out and "missing_field" in out  # the dead letters, by reason
    df = namespace["df"]
    assert len(df) > 0 and (df["status_code"] >= 400).all()  # type: ignore[index,operator]
