"""Our language host (engine/pulumi-language-python) as the engine closes it: SIGINT to its process
group, then up to 5 s before a SIGKILL (pulumi sdk/go/common/resource/plugin/plugin.go)."""

from __future__ import annotations

import signal
import subprocess

import pytest

from hci_tools.pulumi_project import engine_bin

pytestmark = pytest.mark.e2e


def test_sigint_ends_the_language_host_started_with_sigint_ignored() -> None:
    """A background job of a non-interactive shell (`pulumi up &` in a CI script) starts its children
    with SIGINT ignored, and Go keeps it so unless the program asks for it: every `pulumi preview` and
    `up` then waited 5 s for the host the engine starts for About(), and killed it."""
    proc = subprocess.Popen(
        [str(engine_bin() / "pulumi-language-python")],  # no engine address: no health check
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, as the engine starts plugins
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert proc.stdout is not None
        int(proc.stdout.readline().strip())  # serving: the port
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=4)  # within the engine's 5 s
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
