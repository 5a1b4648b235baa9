"""The trigger's environment: every setting the stack passes is read and checked."""

from __future__ import annotations

import pytest
from batch_events import JOB_NAME_PREFIX, KEY_ARN, TOPIC_ARN, TRIGGER_ENVIRONMENT
from trigger_settings import SettingsError, load_settings


def test_the_stack_environment_becomes_the_settings() -> None:
    settings = load_settings({**TRIGGER_ENVIRONMENT, "VOLUME_KMS_KEY_ENABLED": "true"})

    assert settings.job_name_prefix == JOB_NAME_PREFIX
    assert settings.notification_topic_arn == TOPIC_ARN
    assert settings.limits.max_object_bytes == int(TRIGGER_ENVIRONMENT["MAX_OBJECT_BYTES"])
    assert settings.limits.max_dataset_parts == int(TRIGGER_ENVIRONMENT["MAX_DATASET_PARTS"])
    assert settings.limits.max_dataset_bytes == int(TRIGGER_ENVIRONMENT["MAX_DATASET_BYTES"])
    assert settings.budget.record_ms == 1000 * int(TRIGGER_ENVIRONMENT["RECORD_BUDGET_SECONDS"])
    assert settings.layout.manifests_prefix == "manifests/"
    assert settings.transform.dataset_instance_count == 3
    assert settings.transform.output_kms_key_id == KEY_ARN
    assert settings.transform.volume_kms_key_id == KEY_ARN
    assert load_settings(TRIGGER_ENVIRONMENT).transform.volume_kms_key_id is None


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MODEL_NAME", "", "MODEL_NAME: missing or empty"),
        ("DATASET_INSTANCE_COUNT", "0", "DATASET_INSTANCE_COUNT: '0' is not allowed"),
        ("MAX_PAYLOAD_MB", "six", "MAX_PAYLOAD_MB: 'six' is not allowed"),
        ("BATCH_STRATEGY", "Lines", "BATCH_STRATEGY: 'Lines' is not allowed"),
        ("INPUT_PREFIX", "input", "INPUT_PREFIX: 'input' is not allowed"),
        ("VOLUME_KMS_KEY_ENABLED", "yes", "VOLUME_KMS_KEY_ENABLED: 'yes' is not allowed"),
        ("NOTIFICATION_TOPIC_ARN", " ", "NOTIFICATION_TOPIC_ARN: missing or empty"),
        ("MAX_OBJECT_BYTES", "10GB", "MAX_OBJECT_BYTES: '10GB' is not allowed"),
        ("MAX_DATASET_PARTS", "0", "MAX_DATASET_PARTS: '0' is not allowed"),
        ("MAX_DATASET_BYTES", "-1", "MAX_DATASET_BYTES: '-1' is not allowed"),
        ("RECORD_BUDGET_SECONDS", "", "RECORD_BUDGET_SECONDS: missing or empty"),
        ("MAX_DATASET_LISTED_VERSIONS", "1e6", "MAX_DATASET_LISTED_VERSIONS: '1e6' is not"),
        # CreateTransformJob refuses more (botocore's sagemaker model: InvocationsTimeoutInSeconds
        # max 3600); the trigger says so before it starts jobs that would all be refused.
        (
            "INVOCATIONS_TIMEOUT_SECONDS",
            "3601",
            "INVOCATIONS_TIMEOUT_SECONDS: 3601 is not allowed; .* 1 to 3600",
        ),
    ],
)
def test_a_bad_setting_names_the_variable_and_the_value(
    name: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({**TRIGGER_ENVIRONMENT, name: value})
