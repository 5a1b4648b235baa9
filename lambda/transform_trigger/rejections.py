"""Tells a person about an upload the trigger refuses, through the batch notification topic.

A refused upload (a malformed record, a file or dataset above the accepted size, a version that
no longer exists) can never succeed, so its message leaves the queue instead of being retried
until the dead-letter queue. Before it leaves, this notice goes to the same SNS topic that
reports finished jobs, so whoever is subscribed hears of it, with what to do.
"""

from __future__ import annotations

from typing import Any

# SNS subjects: ASCII, no line breaks, at most 100 characters
# (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html, Subject).
SUBJECT = "zstc: an upload was rejected, no transform job started"
# The reason and names are already cut short where they come from; this bounds the whole notice
# far below SNS's 256 KB message limit anyway.
_MAX_MESSAGE_CHARACTERS = 4000


def rejection_message(*, shown_object: str, reason: str, message_id: str) -> str:
    lines = [
        "zstc started no batch transform job for this upload, and will not retry it.",
        f"Upload: {shown_object or 'not readable from the notification'}",
        f"Reason: {reason}",
        f"Queue message: {message_id}",
        "Fix the cause, then upload the file (or the dataset's _SUCCESS marker) again.",
    ]
    return "\n".join(lines)[:_MAX_MESSAGE_CHARACTERS]


def publish_rejection(
    *, sns: Any, topic_arn: str, shown_object: str, reason: str, message_id: str
) -> None:
    sns.publish(
        TopicArn=topic_arn,
        Subject=SUBJECT,
        Message=rejection_message(shown_object=shown_object, reason=reason, message_id=message_id),
    )
