"""The README's Architecture section and the tree agree: every folder it names exists, and
every Python package of the library, the assets and the sensors is named."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def named_folders() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(
        r"<!-- architecture:start -->\n```\n(.*?)```\n<!-- architecture:end -->", text, re.S
    )
    assert match, "README.md has no architecture tree between its markers"
    folders = [line.split()[0] for line in match.group(1).splitlines() if line.strip()]
    assert all(f.endswith("/") for f in folders), folders
    return [f.rstrip("/") for f in folders]


def packages() -> set[str]:
    found = set()
    for top in ("soc_platform", "assets", "sensors"):
        for init in (ROOT / top).rglob("__init__.py"):
            if "__pycache__" not in init.parts:
                found.add(init.parent.relative_to(ROOT).as_posix())
    return found


def test_every_folder_the_readme_names_exists() -> None:
    missing = [f for f in named_folders() if not (ROOT / f).is_dir()]
    assert missing == []


def test_every_package_is_named_in_the_readme() -> None:
    assert sorted(packages() - set(named_folders())) == []


def test_each_folder_is_named_once() -> None:
    folders = named_folders()
    assert len(folders) == len(set(folders))
