"""A local Hugging Face hub over real HTTP, as strict as the real one where the copy depends on it.

It answers the two requests the weights copy makes (lambda/model_weights_copy/hub_files.py):
`GET /api/models/<id>/revision/<revision>` (with `blobs=true` the file entries carry `size`,
`blobId` and, for LFS files, `lfs.sha256`, as huggingface_hub's ModelInfo parses them; without
it they carry only `rfilename`, like the real hub), and `GET /<id>/resolve/<commit>/<file>`.
Stricter than the real hub: files are served only at a full commit hash, never at a branch, so
a copy that mixed a moving branch into its downloads fails here.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

LFS_SUFFIXES = (".safetensors", ".bin", ".h5", ".msgpack", ".ot")


def git_blob_sha1(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


@dataclass
class FakeRepo:
    # commit -> {file name: content}
    commits: dict[str, dict[str, bytes]]
    # branch -> commit
    branches: dict[str, str]


@dataclass
class FakeHubState:
    repos: dict[str, FakeRepo] = field(default_factory=dict)
    # path -> how many times it was requested
    requests: Counter[str] = field(default_factory=Counter)
    # file name -> how many more times to serve it with a flipped byte
    corrupt: Counter[str] = field(default_factory=Counter)
    # file name -> how many more times to answer 503
    unavailable: Counter[str] = field(default_factory=Counter)

    def downloads(self, name: str) -> int:
        return sum(
            n
            for path, n in self.requests.items()
            if path.endswith(f"/{name}") and "/resolve/" in path
        )


def _listing(repo_id: str, commit: str, files: dict[str, bytes], *, blobs: bool) -> dict:
    siblings = []
    for name, content in sorted(files.items()):
        entry: dict = {"rfilename": name}
        if blobs:
            entry["size"] = len(content)
            entry["blobId"] = git_blob_sha1(content)
            if name.endswith(LFS_SUFFIXES):
                # For an LFS file the blobId is the pointer file's, not the content's.
                entry["blobId"] = git_blob_sha1(b"version https://git-lfs.github.com/spec/v1\n")
                entry["lfs"] = {
                    "sha256": hashlib.sha256(content).hexdigest(),
                    "size": len(content),
                    "pointerSize": 134,
                }
        siblings.append(entry)
    return {"id": repo_id, "modelId": repo_id, "sha": commit, "siblings": siblings}


def serve(state: FakeHubState) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            path = unquote(url.path)
            state.requests[path] += 1
            api = re.fullmatch(r"/api/models/(.+)/revision/([^/]+)", path)
            if api:
                repo = state.repos.get(api.group(1))
                revision = api.group(2)
                commit = repo and (
                    repo.branches.get(revision) or (revision if revision in repo.commits else None)
                )
                if repo is None or commit is None:
                    self._send(404, b'{"error": "Repository or revision not found"}')
                    return
                blobs = parse_qs(url.query).get("blobs") == ["true"]
                body = _listing(api.group(1), commit, repo.commits[commit], blobs=blobs)
                self._send(200, json.dumps(body).encode())
                return
            resolve = re.fullmatch(r"/(.+)/resolve/([0-9a-f]{40})/(.+)", path)
            if resolve:
                repo = state.repos.get(resolve.group(1))
                files = repo.commits.get(resolve.group(2)) if repo else None
                name = resolve.group(3)
                if files is None or name not in files:
                    self._send(404, b"Entry not found", "text/plain")
                    return
                if state.unavailable[name] > 0:
                    state.unavailable[name] -= 1
                    self._send(503, b"Service Unavailable", "text/plain")
                    return
                content = files[name]
                if state.corrupt[name] > 0:
                    state.corrupt[name] -= 1
                    content = bytes([content[0] ^ 0xFF]) + content[1:]
                self._send(200, content, "application/octet-stream")
                return
            self._send(404, b"Not found", "text/plain")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
