"""The nine categories of the reference solution's New Year's resolutions example.

The SageMaker JumpStart "Zero-shot text classification with Hugging Face" solution classifies
New Year's resolutions into these; the demo, the benchmark and the tests use the same ones.
"""

from __future__ import annotations

REFERENCE_CATEGORIES: tuple[str, ...] = (
    "Health",
    "Humor",
    "Personal Growth",
    "Philanthropic",
    "Leisure",
    "Career",
    "Finance",
    "Education",
    "Time Management",
)
