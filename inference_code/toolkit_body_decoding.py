"""The request body reaches input_fn as bytes, for every content type.

The Hugging Face toolkit decodes application/json and text/csv bodies itself, before input_fn
runs (sagemaker-huggingface-inference-toolkit 2.6.0, handler_service.py,
HuggingFaceHandlerService.handle: `if content_type in content_types.UTF8_TYPES: input_data =
input_data.decode("utf-8")`, with UTF8_TYPES = [JSON, CSV] in content_types.py). A body that is
not UTF-8 then fails there, and the caller gets Python's own text ("'utf-8' codec can't decode
byte 0xe9 in position 26: invalid continuation byte") as the 400 message.

`handle` looks the list up on every request, and the toolkit imports code/inference.py when
the model loads, before the first request. Emptying the list there hands every body to
input_fn undecoded, where request_contract.decode_body answers a bad byte with a fixed message
naming its offset, and gzip or UTF-16 bodies with what to send instead. Nothing else in the
toolkit reads the list once input_fn is ours (decoder_encoder is only used by the default
input_fn).
"""

from __future__ import annotations


def take_over_body_decoding() -> bool:
    """Empties the toolkit's UTF8_TYPES; False when the toolkit is not importable here."""
    try:
        from sagemaker_huggingface_inference_toolkit import content_types
    except ImportError:
        return False
    content_types.UTF8_TYPES.clear()
    return True
