"""The Hugging Face hub side of the weights copy: which commit, which files, what hashes.

One request, `GET {endpoint}/api/models/{model_id}/revision/{revision}?blobs=true`, answers all
three. It is the request huggingface_hub's `HfApi.model_info(..., files_metadata=True)` sends
(huggingface_hub 0.36.2, hf_api.py): the answer's `sha` is the commit the revision points to,
and each entry of `siblings` has `rfilename`, `size`, `blobId` (the git blob SHA-1) and, for
files stored with Git LFS (the weights), `lfs.sha256` of the file's content. Files are then read
from `{endpoint}/{model_id}/resolve/{commit}/{filename}` (huggingface_hub constants.py,
HUGGINGFACE_CO_URL_TEMPLATE), always at the resolved commit, so every file comes from one
commit even if the branch moves during the copy.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

COMMIT_HASH = re.compile(r"^[0-9a-f]{40}$")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
USER_AGENT = "zstc-model-weights-copy"
# A metadata request waits this long (seconds) for the hub; file reads get the same per read.
HTTP_TIMEOUT_SECONDS = 60

# urllib.request.urlopen's signature, injectable so tests can count and break requests.
Opener = Callable[..., Any]


class HubError(Exception):
    """The hub refused or does not have what was asked for: waiting will not help."""


class HubUnavailable(Exception):
    """The hub could not be reached or answered 5xx/429: trying again later may help."""


@dataclass(frozen=True)
class HubFile:
    """One repository file at the resolved commit, with the hash its content must have."""

    name: str
    size: int
    # LFS files (weights): SHA-256 of the content. Other files: the git blob SHA-1.
    sha256: str | None
    git_blob_sha1: str | None

    @property
    def expected_digest(self) -> str:
        """A single string naming the hash algorithm and value, stored with the copied object."""
        if self.sha256 is not None:
            return f"sha256:{self.sha256}"
        return f"gitsha1:{self.git_blob_sha1}"


class ContentHasher:
    """Computes the digest a HubFile expects, over bytes fed in pieces."""

    def __init__(self, hub_file: HubFile) -> None:
        self.hub_file = hub_file
        if hub_file.sha256 is not None:
            self._hash = hashlib.sha256()
            self._prefix = "sha256"
        else:
            # git hash-object: SHA-1 over "blob <size>\0" followed by the content.
            self._hash = hashlib.sha1(f"blob {hub_file.size}\0".encode(), usedforsecurity=False)
            self._prefix = "gitsha1"
        self.length = 0

    def update(self, data: bytes) -> None:
        self._hash.update(data)
        self.length += len(data)

    @property
    def digest(self) -> str:
        return f"{self._prefix}:{self._hash.hexdigest()}"

    def problem(self) -> str | None:
        """Why the content read does not match the hub's record, or None when it does."""
        if self.length != self.hub_file.size:
            return (
                f"{self.hub_file.name}: read {self.length} bytes, the hub lists "
                f"{self.hub_file.size}"
            )
        if self.digest != self.hub_file.expected_digest:
            return (
                f"{self.hub_file.name}: content hash {self.digest} does not match the hub's "
                f"{self.hub_file.expected_digest}"
            )
        return None


@dataclass(frozen=True)
class Snapshot:
    model_id: str
    requested_revision: str
    commit: str
    files: tuple[HubFile, ...]


def _request(url: str, *, opener: Opener, token: str | None) -> Any:
    headers = {"User-Agent": USER_AGENT}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, headers=headers)
    try:
        return opener(request, timeout=HTTP_TIMEOUT_SECONDS)
    except urllib.error.HTTPError as error:
        if error.code == 429 or error.code >= 500:
            raise HubUnavailable(f"{url}: HTTP {error.code} {error.reason}") from error
        if error.code in (401, 403):
            raise HubError(
                f"{url}: HTTP {error.code}: the repository is private or gated; zstc copies "
                "public models only"
            ) from error
        if error.code == 404:
            raise HubError(
                f"{url}: HTTP 404: no such model, revision or file on the hub"
            ) from error
        raise HubError(f"{url}: HTTP {error.code} {error.reason}") from error
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        raise HubUnavailable(f"{url}: {error}") from error


def _hub_file(sibling: dict[str, Any], *, url: str) -> HubFile:
    name = sibling.get("rfilename")
    size = sibling.get("size")
    lfs = sibling.get("lfs") or {}
    sha256 = lfs.get("sha256")
    blob_id = sibling.get("blobId")
    if not isinstance(name, str) or not isinstance(size, int):
        raise HubError(f"{url}: a file entry lacks rfilename or size: {sibling!r}")
    if sha256 is not None and not SHA256_HEX.fullmatch(str(sha256)):
        raise HubError(f"{url}: {name}: lfs.sha256 {sha256!r} is not a SHA-256")
    if sha256 is None and not (isinstance(blob_id, str) and COMMIT_HASH.fullmatch(blob_id)):
        # Without a hash there is nothing to check the copy against: refuse, never guess.
        raise HubError(f"{url}: {name}: the hub lists neither lfs.sha256 nor a blobId")
    return HubFile(name=name, size=size, sha256=sha256, git_blob_sha1=None if sha256 else blob_id)


def resolve_snapshot(
    *, endpoint: str, model_id: str, revision: str, opener: Opener, token: str | None = None
) -> Snapshot:
    """The commit `revision` points to now, and every file of the repository at that commit."""
    url = (
        f"{endpoint.rstrip('/')}/api/models/{model_id}/revision/"
        f"{urllib.parse.quote(revision, safe='')}?blobs=true"
    )
    with _request(url, opener=opener, token=token) as response:
        info = json.loads(response.read())
    commit = info.get("sha")
    if not isinstance(commit, str) or not COMMIT_HASH.fullmatch(commit):
        raise HubError(f"{url}: the answer names no 40-character commit (sha: {commit!r})")
    if COMMIT_HASH.fullmatch(revision) and commit != revision:
        raise HubError(f"{url}: asked for commit {revision}, the hub answered {commit}")
    files = tuple(_hub_file(sibling, url=url) for sibling in info.get("siblings") or ())
    return Snapshot(model_id=model_id, requested_revision=revision, commit=commit, files=files)


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def select_files(
    files: Sequence[HubFile],
    *,
    config_patterns: Sequence[str],
    weights_alternatives: Sequence[Sequence[str]],
) -> list[HubFile]:
    """The config and tokenizer files, plus the first weights format the repository has.

    The patterns come from the stack (zstc/models/hub_snapshot.py, the same selection model.tar.gz
    packaging uses), so the rule exists once.
    """
    chosen = [f for f in files if _matches(f.name, config_patterns)]
    for alternative in weights_alternatives:
        weights = [f for f in files if _matches(f.name, alternative)]
        if weights:
            chosen += weights
            break
    else:
        raise HubError(
            "the repository has no weights in a format zstc loads (model.safetensors or "
            "pytorch_model.bin)"
        )
    if not any(f.name == "config.json" for f in chosen):
        raise HubError("the repository has no config.json: it is not a transformers model")
    return sorted(chosen, key=lambda f: f.name)


def open_file(
    *, endpoint: str, model_id: str, commit: str, name: str, opener: Opener, token: str | None
) -> BinaryIO:
    """A readable response with the file's bytes at the commit."""
    url = f"{endpoint.rstrip('/')}/{model_id}/resolve/{commit}/{urllib.parse.quote(name, safe='/')}"
    response: BinaryIO = _request(url, opener=opener, token=token)
    return response
