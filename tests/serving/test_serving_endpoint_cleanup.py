"""No local server process outlives its Java front end, or a lost race for its port.

Real processes throughout: the MMS launcher, its Java front end and the Python worker. They are
found by what their own environment carries (LOG_LOCATION, private to each LocalEndpoint), not
by zstc's bookkeeping, so a process that escaped the supervisor's process group would be seen.
Why MMS leaves its worker behind: awslabs/multi-model-server v1.1.11, ModelServer.java starts the
workers (initModelStore) before it binds the ports, and exits on a bind failure.
"""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from server_processes import server_processes

from zstc.local import endpoint as local_endpoint
from zstc.local.endpoint import LocalEndpoint, LocalEndpointError, find_free_port, port_is_free
from zstc.models.artifact import prepare_model_dir

# The old code waited this long for the winner of the race to let go of the port, then
# reported that instead of the failed start.
OLD_PORT_RELEASE_WAIT_S = 30.0


@pytest.fixture(scope="module")
def model_dir(tiny_nli_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepare_model_dir(tmp_path_factory.mktemp("model"), weights_dir=tiny_nli_model_dir)


def wait_until(condition: Callable[[], bool], *, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_a_front_end_that_dies_takes_its_worker_with_it(model_dir: Path) -> None:
    endpoint = LocalEndpoint(model_dir, port=find_free_port(), source="./tiny-nli")
    endpoint.start()
    assert endpoint.log_dir is not None
    log_dir = endpoint.log_dir
    try:
        processes = server_processes(log_dir)
        java = [p for p in processes if Path(p.cmdline()[0]).name == "java"]
        workers = [p for p in processes if "model_service_worker" in " ".join(p.cmdline())]
        assert len(java) == 1 and workers, [p.cmdline()[:2] for p in processes]

        java[0].kill()

        # Nobody called stop(): the worker goes because its front end went.
        assert wait_until(lambda: not server_processes(log_dir), timeout_s=30), [
            p.cmdline()[:2] for p in server_processes(log_dir)
        ]
        assert not endpoint.running
        assert port_is_free(endpoint.port)
        assert str(endpoint.server_log) in endpoint.exit_reason()
    finally:
        endpoint.stop()
    # The server died: its temporary log is kept for the user.
    assert (log_dir / "server.log").is_file()
    shutil.rmtree(log_dir)


def test_the_loser_of_a_race_for_a_port_fails_fast_says_so_and_leaves_nothing(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = find_free_port()
    check_port = local_endpoint.port_is_free

    def checked_before_the_winner_bound(candidate: int, *, host: str = "127.0.0.1") -> bool:
        # Both servers passed the free-port check before either had bound the port.
        return True if candidate == port else check_port(candidate, host=host)

    monkeypatch.setattr(local_endpoint, "port_is_free", checked_before_the_winner_bound)
    loser = LocalEndpoint(model_dir, port=port)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as winner:
        winner.bind(("127.0.0.1", port))
        winner.listen()
        started = time.monotonic()
        with pytest.raises(LocalEndpointError) as raised:
            loser.start()
        elapsed_s = time.monotonic() - started

    message = str(raised.value)
    assert message.startswith(f"--port {port}: the port is already in use on 127.0.0.1")
    assert elapsed_s < OLD_PORT_RELEASE_WAIT_S
    # The failed start keeps its temporary log and says where it is.
    assert loser.log_dir is not None and str(loser.server_log) in message
    assert "Failed to bind to address" in loser.server_log.read_text()
    # Its Java front end started a worker before it failed to bind; both are gone.
    assert server_processes(loser.log_dir) == []
    shutil.rmtree(loser.log_dir)
