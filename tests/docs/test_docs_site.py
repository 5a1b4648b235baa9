"""The documentation site: every page is in the navigation, and every configuration key is
documented with the exact error a bad value gets.

`make test` also builds the site with `mkdocs build --strict`, which fails on a broken link or
anchor and on a navigation entry without its page; these tests cover what the build lets pass.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.config import CDK_CLI_CONTEXT_KEYS, CONFIG_KEYS, ConfigError, load_config

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DOCS = REPO_ROOT / "docs"
CONFIGURATION_PAGE = DOCS / "configuration.md"
# `| `key` | `default` | allowed | what it does |` in the "Keys" table.
_KEY_ROW = re.compile(r"^\| `(?P<key>[a-z_]+)` \| `(?P<default>[^`]*)` \|")
# `| `-c key=value [-c key=value ...]` | `error` |` in the errors table.
_ERROR_ROW = re.compile(r"^\| `(?P<context>-c [^`]+)` \| `(?P<error>[^`]+)` \|$")


def _nav_pages(entries: list[Any]) -> list[str]:
    pages: list[str] = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages.extend(_nav_pages(value) if isinstance(value, list) else [value])
    return pages


def _mkdocs_nav() -> list[str]:
    # mkdocs.yml uses no YAML tags, so the safe loader reads it as mkdocs does.
    config = yaml.safe_load((REPO_ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    return _nav_pages(config["nav"])


def test_every_page_under_docs_is_in_the_navigation() -> None:
    nav = _mkdocs_nav()
    pages = sorted(str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md"))
    missing = [page for page in pages if page not in nav]
    assert not missing, f"pages under docs/ that mkdocs.yml's nav does not reach: {missing}"
    assert len(nav) == len(set(nav)), "a page is listed twice in mkdocs.yml's nav"


def test_the_site_build_and_the_site_fetch_nothing() -> None:
    """Material's social and privacy plugins download while building, and its default theme
    loads Google Fonts in the reader's browser; only the built-in search plugin is allowed."""
    config = yaml.safe_load((REPO_ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert config["plugins"] == ["search"]
    assert config["theme"]["font"] is False
    assert config["strict"] is True


def _cdk_json_defaults() -> dict[str, Any]:
    context = json.loads((REPO_ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    return {
        key: value
        for key, value in context.items()
        if ":" not in key and not key.startswith("@") and key not in CDK_CLI_CONTEXT_KEYS
    }


def _shown(value: Any) -> str:
    """A cdk.json value as the page writes it: JSON for everything but plain strings."""
    return value if isinstance(value, str) and value else json.dumps(value)


def _page_rows(pattern: re.Pattern[str]) -> list[re.Match[str]]:
    lines = CONFIGURATION_PAGE.read_text(encoding="utf-8").splitlines()
    return [match for line in lines if (match := pattern.match(line))]


def test_every_configuration_key_is_documented_with_its_default() -> None:
    documented = {row["key"]: row["default"] for row in _page_rows(_KEY_ROW)}
    undocumented = sorted(set(CONFIG_KEYS) - set(documented))
    assert not undocumented, (
        f"{CONFIGURATION_PAGE.relative_to(REPO_ROOT)} has no row in its Keys table for "
        f"{undocumented}; add one with the default, the allowed values and what the key does"
    )
    assert not set(documented) - set(CONFIG_KEYS), "a documented key no longer exists"
    defaults = {key: _shown(value) for key, value in _cdk_json_defaults().items()}
    assert documented == defaults


def _context(cell: str) -> dict[str, str]:
    words = shlex.split(cell)
    assert words[::2] == ["-c"] * (len(words) // 2), cell
    return dict(word.split("=", 1) for word in words[1::2])


ERROR_ROWS = _page_rows(_ERROR_ROW)


def test_every_configuration_key_has_a_documented_error() -> None:
    keys_with_an_error = {key for row in ERROR_ROWS for key in _context(row["context"])}
    assert set(CONFIG_KEYS) <= keys_with_an_error, sorted(set(CONFIG_KEYS) - keys_with_an_error)


@pytest.mark.parametrize("row", ERROR_ROWS, ids=[row["context"] for row in ERROR_ROWS])
def test_documented_error_is_the_real_one(row: re.Match[str]) -> None:
    # The values arrive as `-c` strings do, on top of cdk.json's defaults.
    with pytest.raises(ConfigError) as raised:
        load_config({**_cdk_json_defaults(), **_context(row["context"])})
    assert str(raised.value) == row["error"]


MAX_README_LINES = 300
# Markdown links and images: [text](target), with the target's #anchor and "title" left off.
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s#]+)(?:#[^)\s]*)?(?:\s+\"[^\"]*\")?\)")


def test_the_readme_is_a_front_page() -> None:
    lines = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, "move reference material into docs/"


@pytest.mark.parametrize("document", ["README.md", "CONTRIBUTING.md"])
def test_links_outside_the_site_reach_a_file(document: str) -> None:
    """mkdocs checks the links between pages; these two files live outside docs/."""
    text = (REPO_ROOT / document).read_text(encoding="utf-8")
    targets = [target for target in _LINK.findall(text) if "://" not in target]
    assert targets, f"{document} links to no page"
    missing = [target for target in targets if not (REPO_ROOT / target).exists()]
    assert not missing, f"{document}: links to files that do not exist: {missing}"
