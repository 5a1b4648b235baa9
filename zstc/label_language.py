"""A hint when the labels are clearly not English, the only language of the default model.

The rule, deliberately plain so that it can be predicted and tested: count the letters (Unicode
category L*) of all labels together; when more than half of them belong to a script other than
Latin, the labels are "clearly not English", and the script that holds most of those letters is
named. Digits, punctuation, spaces and emoji are not letters and do not count. Latin-script
languages (French, Spanish, ...) are not detected: a script says nothing about them, and a word
list would guess.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable

# What the hint says of the model when the client cannot know which one the endpoint serves.
DEFAULT_MODEL = "the default model, facebook/bart-large-mnli,"
LATIN = "Latin"
# Unicode character-name prefixes of the scripts named in the hint; any other non-Latin letter
# is named by the first word of its character name (e.g. "ETHIOPIC").
_SCRIPT_PREFIXES = (
    ("CJK UNIFIED IDEOGRAPH", "Han (Chinese characters)"),
    ("CJK COMPATIBILITY IDEOGRAPH", "Han (Chinese characters)"),
    ("HIRAGANA", "Japanese kana"),
    ("KATAKANA", "Japanese kana"),
    ("HALFWIDTH KATAKANA", "Japanese kana"),
    ("HANGUL", "Hangul (Korean)"),
    ("CYRILLIC", "Cyrillic"),
    ("GREEK", "Greek"),
    ("ARABIC", "Arabic"),
    ("HEBREW", "Hebrew"),
    ("DEVANAGARI", "Devanagari"),
    ("THAI", "Thai"),
)
DOCS_PAGE = "docs/multilingual.md"


def letter_script(character: str) -> str | None:
    """The script of one letter, or None for a character that is not a letter."""
    if not unicodedata.category(character).startswith("L"):
        return None
    name = unicodedata.name(character, "")
    if name.startswith(("LATIN", "FULLWIDTH LATIN")):
        return LATIN
    for prefix, script in _SCRIPT_PREFIXES:
        if name.startswith(prefix):
            return script
    return name.split(" ", 1)[0].capitalize() if name else "unknown"


def non_latin_script(labels: Iterable[str]) -> str | None:
    """The main non-Latin script when more than half of the labels' letters are non-Latin."""
    scripts = Counter(
        script
        for label in labels
        for character in label
        if (script := letter_script(character)) is not None
    )
    letters = sum(scripts.values())
    non_latin = {script: count for script, count in scripts.items() if script != LATIN}
    if not letters or sum(non_latin.values()) * 2 <= letters:
        return None
    return max(non_latin, key=lambda script: non_latin[script])


def language_hint(labels: Iterable[str], *, model: str = DEFAULT_MODEL) -> str | None:
    """What to tell the user about these labels, or None when they look English enough."""
    script = non_latin_script(labels)
    if script is None:
        return None
    return (
        f"hint: the labels are written in {script} script, and {model} was trained on English "
        "only: where it serves them, expect poor answers. Serve a multilingual model (NLI: "
        "MoritzLaurer/mDeBERTa-v3-base-mnli-xnli or joeddav/xlm-roberta-large-xnli; embedding: "
        "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2) with a hypothesis "
        f"template in the labels' language, and compare first with `zstc eval`: see {DOCS_PAGE}."
    )
