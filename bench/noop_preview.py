"""No-op `pulumi preview`: wall time and the PVE requests it makes, for the dev stack and a generated big one.

Each stack is deployed first (`pulumi up` against its own fresh lab), then previewed with nothing
changed while the lab counts requests. Targets: no write request at all in a no-op preview, and
requests growing at most linearly with the number of resources.

Usage: .venv/bin/python -m bench.noop_preview [--big NODES DISKS VMS] [--skip-big]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.gen_stack import generate
from hci_tools.pulumi_project import REPO, PulumiProject, engine_bin, lab_environment
from lab.pytest_plugin import start_lab, stop_lab


def generated_stack(nodes: int, disks: int, vms: int) -> dict[str, Any]:
    return {"config": generate(nodes=nodes, disks=disks, vms=vms)}


def measure(name: str, config: dict[str, Any], lab_args: list[str]) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix=f"bench-preview-{name}-"))
    lab = start_lab(base / "lab", *lab_args)
    try:
        project = PulumiProject.create(base, name, config, engine_bin(), lab_environment(lab.info.state_dir))
        start = time.monotonic()
        project.up()
        up_wall = time.monotonic() - start
        resources = len(json.loads(project.run("stack", "export").stdout)["deployment"]["resources"])
        lab.control("POST", "/lab/requests/reset")
        start = time.monotonic()
        project.preview("--expect-no-changes")
        wall = time.monotonic() - start
        counts = lab.request_counts()
    finally:
        stop_lab(base / "lab")
    writes = {f"{m} {p}": n for (m, p), n in counts.items() if m != "GET"}
    return {
        "name": name,
        "resources": resources,
        "up_wall": up_wall,
        "wall": wall,
        "requests": sum(counts.values()),
        "writes": writes,
        "by_path": counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--big", nargs=3, type=int, default=(12, 4, 100), metavar=("NODES", "DISKS", "VMS"))
    parser.add_argument("--skip-big", action="store_true")
    args = parser.parse_args()
    results = [measure("dev", yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text()), ["--pve-version", "9"])]
    report(results[0])
    if not args.skip_big:
        nodes, disks, vms = args.big
        size = "+".join(["64G"] * disks)
        results.append(
            measure(
                f"big{nodes}x{disks}x{vms}",
                generated_stack(nodes, disks, vms),
                ["--nodes", str(nodes), "--disks", size],
            )
        )
        report(results[1])
    print("target: no write in a no-op preview:", "OK" if all(not r["writes"] for r in results) else "MISSED")
    if len(results) == 2:
        small, big = results
        per_small = small["requests"] / small["resources"]
        per_big = big["requests"] / big["resources"]
        linear = per_big <= max(per_small, 0.01) * 1.5 + 0.5
        print(
            f"requests per resource: {per_small:.2f} (dev) vs {per_big:.2f} (big): "
            f"{'at most linear: OK' if linear else 'grows faster than linear: MISSED'}"
        )


def report(r: dict[str, Any]) -> None:
    print(f"{r['name']}: {r['resources']} resources (cold up {r['up_wall']:.0f} s)")
    print(
        f"  no-op preview: {r['wall']:.1f} s, {r['requests']} PVE requests "
        f"({r['requests'] / r['resources']:.2f} per resource), writes: {r['writes'] or 'none'}",
        flush=True,
    )
    for (method, path), n in sorted(r["by_path"].items(), key=lambda kv: -kv[1])[:8]:
        print(f"    {n:5d}  {method} {path}", flush=True)


if __name__ == "__main__":
    main()
