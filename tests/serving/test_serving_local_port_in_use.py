"""A port in use is named as the option the user gives, --port, not as a Python function."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from zstc.cli import main
from zstc.local.endpoint import find_free_port


def test_local_serve_on_a_busy_port_names_the_port_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An unpacked model.tar.gz layout is served as it is; the port is refused before it loads.
    model_dir = tmp_path / "model"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "code" / "inference.py").write_text("")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        # A port below 32767, which multi-model-server (and so --port) accepts.
        port = find_free_port()
        busy.bind(("127.0.0.1", port))
        busy.listen(1)
        code = main(["local", "serve", "--model", str(model_dir), "--port", str(port),
                     "--work-dir", str(tmp_path / "work")])  # fmt: skip

    err = capsys.readouterr().err
    assert code == 1
    assert f"--port {port}: the port is already in use" in err and "with --port" in err
    assert "find_free_port" not in err and "zstc.local.endpoint" not in err
