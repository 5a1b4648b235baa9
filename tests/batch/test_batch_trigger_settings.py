"""The trigger's environment: every setting the stack passes is read and checked."""

from __future__ import annotations

import pytest
from batch_events import KEY_ARN, TRIGGER_ENVIRONMENT
from trigger_settings import SettingsError, load_settings


def test_the_stack_environment_becomes_the_settings() -> None:
    settings = load_settings({**TRIGGER_ENVIRONMENT, "VOLUME_KMS_KEY_ENABLED": "true"})

    assert settings.job_name_prefix == "zstc-"
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
