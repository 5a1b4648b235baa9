"""Finds a local model server's processes by the log dir their environment names.

Shared by the tests that check no supervisor, launcher, Java front end or worker outlives a stop.
"""

from __future__ import annotations

from pathlib import Path

import psutil


def server_processes(log_dir: Path) -> list[psutil.Process]:
    """Every live process (zombies are dead) whose environment names this server's log dir."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            if process.environ().get("LOG_LOCATION") == str(log_dir):
                found.append(process)
        except psutil.Error:
            continue
    return found
