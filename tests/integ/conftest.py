"""The checker Lambda's modules sit at its asset root, as Lambda imports them."""

from __future__ import annotations

import sys
from pathlib import Path

CHECKER_DIR = Path(__file__).resolve().parent.parent.parent / "integ" / "checker"
if str(CHECKER_DIR) not in sys.path:
    sys.path.insert(0, str(CHECKER_DIR))
