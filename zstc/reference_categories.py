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

# The same solution's published Chinese example: its labels and its request, verbatim (including
# the ASCII commas and "fb" inside the Chinese text), as a user following it would send them.
REFERENCE_CATEGORIES_ZH: tuple[str, ...] = (
    "健康",
    "幽默",
    "个人成长",
    "慈善",
    "休闲",
    "职业",
    "金融",
    "教育",
    "时间管理",
)
REFERENCE_TEXT_ZH = "#新年决心 :: 多读书,早餐前不浏览fb/查看邮件,坚持做体能训练/瑜伽缓解背部疼痛!"
# A hypothesis template in the labels' language ("This example is {}.").
CHINESE_TEMPLATE = "这个例子是{}。"
