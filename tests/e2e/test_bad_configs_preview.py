"""The corpus of malformed stack configs (tests/bad_stack_configs.py) through the real `pulumi preview`.

One project and one stack; each case is a config file of its own (`--config-file`), previewed two
at a time. The providers' endpoint is a listener that counts connections and answers none: every
preview must fail before any request, naming the key path, with no traceback.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from hci_tools.pulumi_project import REPO, PulumiProject, engine_bin
from tests.bad_stack_configs import CASES, BadConfig

pytestmark = pytest.mark.e2e

PROJECT = "proxmox-hci"
NETWORK = "10.77.0.0/24"
WORKERS = 2  # the machine's cores


class ConnectionCounter:
    """A TCP listener on loopback that counts every connection and closes it at once."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.count = 0
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            self.count += 1
            conn.close()

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self._sock.close()


@dataclass(frozen=True)
class Outcome:
    returncode: int
    output: str
    seconds: float


@dataclass
class Corpus:
    outcomes: dict[str, Outcome]
    connections: int
    seconds: float


def config_file(project: PulumiProject, case: BadConfig, directory: Path, index: int) -> Path:
    stack = project.read_config()
    raw = {key.split(":", 1)[1]: value for key, value in stack["config"].items() if key.startswith(f"{PROJECT}:")}
    config = {f"{PROJECT}:{key}": value for key, value in case.apply(raw).items()}
    path = directory / f"case-{index:03d}.yaml"
    path.write_text(yaml.safe_dump({"encryptionsalt": stack.get("encryptionsalt"), "config": config}, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    counter = ConnectionCounter()
    env = {
        "PROXMOX_VE_ENDPOINT": f"https://127.0.0.1:{counter.port}/",
        "PROXMOX_VE_API_TOKEN": "root@pam!corpus=00000000-0000-0000-0000-000000000000",
        "PROXMOX_VE_USERNAME": "root@pam",
        "PROXMOX_VE_PASSWORD": "not-a-password",
        "PROXMOX_HCI_PUBLIC_NETWORK": NETWORK,
    }
    base = tmp_path_factory.mktemp("corpus")
    config = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())
    project = PulumiProject.create(base, "corpus", config, engine_bin(), env)
    files = [config_file(project, case, base, i) for i, case in enumerate(CASES)]

    def preview(path: Path) -> Outcome:
        start = time.monotonic()
        out = project.preview("--config-file", str(path), check=False)
        return Outcome(out.returncode, out.stdout + out.stderr, time.monotonic() - start)

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(preview, files))
    seconds = time.monotonic() - start
    time.sleep(0.5)  # let a late connection, if any, be counted
    counter.close()
    yield Corpus({case.name: result for case, result in zip(CASES, results, strict=True)}, counter.count, seconds)


def test_no_preview_of_a_bad_config_opened_a_connection(corpus: Corpus) -> None:
    assert corpus.connections == 0
    each = sorted(outcome.seconds for outcome in corpus.outcomes.values())
    print(
        f"\n{len(each)} bad configs previewed in {corpus.seconds:.0f} s, {WORKERS} at a time "
        f"(each {each[len(each) // 2]:.1f} s median, {each[-1]:.1f} s at most)"
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_preview_fails_naming_the_key_path_without_a_traceback(corpus: Corpus, case: BadConfig) -> None:
    outcome = corpus.outcomes[case.name]
    assert outcome.returncode != 0, outcome.output[-3000:]
    assert "Traceback" not in outcome.output, outcome.output[-3000:]
    # Pulumi's own check quotes the key as Pulumi.yaml declares it: "configuration key 'monitors'".
    key = case.path if not case.pulumi else f"'{case.path}'"
    assert key in outcome.output, outcome.output[-3000:]
    assert case.says in outcome.output, outcome.output[-3000:]
