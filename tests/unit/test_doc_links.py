"""The documents' in-page links (`[text](#anchor)`) lead to a heading of the same document
(GitHub's anchors: lower case, punctuation dropped, spaces as hyphens, repeats numbered)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ["README.md", "DEVELOPERS.md", "rules/README.md", "benchmarks/README.md"]


def anchors(text: str) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    in_code = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("#"):
            continue
        title = line.lstrip("#").strip()
        title = re.sub(r"`|\*\*?|\[([^\]]*)\]\([^)]*\)", r"\1", title)
        slug = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        found.add(slug if n == 0 else f"{slug}-{n}")
    return found


@pytest.mark.parametrize("doc", [d for d in DOCS if (ROOT / d).is_file()])
def test_in_page_links_lead_to_a_heading(doc: str) -> None:
    text = (ROOT / doc).read_text()
    targets = set(re.findall(r"\]\(#([^)\s]+)\)", text))
    assert sorted(targets - anchors(text)) == []


def test_the_readme_has_in_page_links() -> None:  # the pattern above finds them
    assert len(re.findall(r"\]\(#([^)\s]+)\)", (ROOT / "README.md").read_text())) > 10
