"""A real S3-compatible server for Pulumi's DIY backend: Debian's radosgw (Ceph's RADOS Gateway) on
a lab's own Ceph, bound to the lab's loopback address, started and stopped by PID.

The lab writes its ceph.conf and admin keyring in its state directory; the gateway gets its own
key (`ceph auth get-or-create client.rgw.NAME`), an S3 user (`radosgw-admin user create`) and one
bucket, created with a SigV4-signed PUT (what any S3 client sends; no S3 library needed).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

REGION = "us-east-1"  # what Pulumi's S3 client signs with unless told otherwise; radosgw accepts it


@dataclass
class Gateway:
    endpoint: str  # host:port
    access_key: str
    secret_key: str
    bucket: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def backend_url(self) -> str:
        """What `pulumi login` takes for this bucket (Pulumi's DIY backend, gocloud.dev s3blob URL)."""
        return f"s3://{self.bucket}?endpoint={self.endpoint}&s3ForcePathStyle=true&disableSSL=true&region={REGION}"

    def env(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _sign(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def s3_request(gw: Gateway, method: str, path: str, timeout: float = 30) -> requests.Response:
    """One SigV4-signed request with an empty body (AWS Signature Version 4, path-style)."""
    now = datetime.datetime.now(datetime.UTC)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    empty = hashlib.sha256(b"").hexdigest()
    headers = {"host": gw.endpoint, "x-amz-content-sha256": empty, "x-amz-date": amz_date}
    signed = ";".join(sorted(headers))
    canonical = "\n".join([method, path, "", *(f"{k}:{headers[k]}" for k in sorted(headers)), "", signed, empty])
    scope = f"{day}/{REGION}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _sign(_sign(_sign(_sign(f"AWS4{gw.secret_key}".encode(), day), REGION), "s3"), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={gw.access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"
    )
    return requests.request(method, f"http://{gw.endpoint}{path}", headers=headers, timeout=timeout)


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def start_gateway(
    ceph_conf: str, host: str, workdir: Path, name: str = "team", bucket: str = "pulumi-state"
) -> Gateway:
    """radosgw for the cluster of `ceph_conf`, listening on host (a loopback address) only."""
    workdir.mkdir(parents=True, exist_ok=True)
    client = f"client.rgw.{name}"
    keyring = workdir / f"{client}.keyring"
    base = ["-c", ceph_conf]
    subprocess.run(
        ["ceph", *base, "auth", "get-or-create", client, "mon", "allow rw", "osd", "allow rwx", "-o", str(keyring)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    port = _free_port(host)
    log = workdir / "radosgw.log"
    cmd = [
        "radosgw",
        *base,
        "-n",
        client,
        "--keyring",
        str(keyring),
        "-f",
        f"--rgw_frontends=beast endpoint={host}:{port}",
        f"--rgw_data={workdir}",
        f"--admin_socket={workdir}/radosgw.asok",
        f"--log_file={log}",
        f"--pid_file={workdir}/radosgw.pid",
        "--rgw_enable_usage_log=false",
    ]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(workdir / "radosgw.err", "wb"))  # noqa: SIM115
    access, secret = secrets.token_hex(10).upper(), secrets.token_hex(20)
    gw = Gateway(f"{host}:{port}", access, secret, bucket, process, log)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"radosgw exited {process.returncode}: {(workdir / 'radosgw.err').read_text()[-2000:]}"
                )
            try:
                requests.get(f"http://{gw.endpoint}/", timeout=2)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"radosgw did not answer on {gw.endpoint} in 120 s; see {log}") from None
                time.sleep(0.5)
        subprocess.run(
            [
                "radosgw-admin",
                *base,
                "-n",
                client,
                "--keyring",
                str(keyring),
                "user",
                "create",
                "--uid",
                "team",
                "--display-name",
                "proxmox-hci team",
                "--access-key",
                access,
                "--secret",
                secret,
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        created = s3_request(gw, "PUT", f"/{bucket}")
        if created.status_code != 200:
            raise RuntimeError(f"creating bucket {bucket}: {created.status_code} {created.text[:500]}")
    except BaseException:
        gw.stop()
        raise
    return gw


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
