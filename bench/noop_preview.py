"""No-op `pulumi preview` and `pulumi refresh`: wall time and the PVE requests each makes, per stack size.

Each stack is deployed first (`pulumi up` against its own fresh lab), then previewed with nothing
changed, then refreshed (`refresh --yes --skip-preview`: the refresh itself, once), while the lab
counts requests. Targets: no write request at all in either; requests growing at most linearly with
the number of resources; a refresh of at most 2 requests per resource.

Usage: .venv/bin/python -m bench.noop_preview [--big NODES DISKS VMS] [--skip-big]
       .venv/bin/python -m bench.noop_preview --sizes 3x1x10,12x1x40,24x1x80   (generated stacks only)
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
        lab.control("POST", "/lab/requests/reset")
        start = time.monotonic()
        project.run("refresh", "--yes", "--skip-preview")
        refresh_wall = time.monotonic() - start
        refresh_counts = lab.request_counts()
    finally:
        stop_lab(base / "lab")
    return {
        "name": name,
        "resources": resources,
        "up_wall": up_wall,
        "wall": wall,
        "requests": sum(counts.values()),
        "writes": writes_of(counts),
        "by_path": counts,
        "refresh_wall": refresh_wall,
        "refresh_requests": sum(refresh_counts.values()),
        "refresh_writes": writes_of(refresh_counts),
        "refresh_by_path": refresh_counts,
    }


def writes_of(counts: dict[tuple[str, str], int]) -> dict[str, int]:
    """Requests that could change something (a ticket login changes nothing on the cluster)."""
    return {f"{m} {p}": n for (m, p), n in counts.items() if m != "GET" and p != "/access/ticket"}


def parse_size(text: str) -> tuple[int, int, int]:
    try:
        nodes, disks, vms = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"--sizes: {text!r} is not NODESxDISKSxVMS, e.g. 12x1x40") from None
    return nodes, disks, vms


def measure_generated(nodes: int, disks: int, vms: int) -> dict[str, Any]:
    size = "+".join(["64G"] * disks)
    return measure(
        f"{nodes}x{disks}x{vms}", generated_stack(nodes, disks, vms), ["--nodes", str(nodes), "--disks", size]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--big", nargs=3, type=int, default=(12, 4, 100), metavar=("NODES", "DISKS", "VMS"))
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--sizes", help="generated stacks only, NODESxDISKSxVMS,... (smallest first)")
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    if args.sizes:
        for text in args.sizes.split(","):
            results.append(measure_generated(*parse_size(text)))
            report(results[-1])
    else:
        results.append(measure("dev", yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text()), ["--pve-version", "9"]))
        report(results[0])
        if not args.skip_big:
            results.append(measure_generated(*args.big))
            report(results[1])
    no_writes = all(not r["writes"] and not r["refresh_writes"] for r in results)
    print("target: no write in a no-op preview or refresh:", "OK" if no_writes else "MISSED")
    refresh_ok = all(r["refresh_requests"] <= 2 * r["resources"] for r in results)
    print("target: refresh at most 2 requests per resource:", "OK" if refresh_ok else "MISSED")
    if len(results) >= 2:
        small, big = results[0], results[-1]
        for label, key in (("preview", "requests"), ("refresh", "refresh_requests")):
            per_small, per_big = small[key] / small["resources"], big[key] / big["resources"]
            linear = per_big <= max(per_small, 0.01) * 1.5 + 0.5
            print(
                f"{label} requests per resource: {per_small:.2f} ({small['name']}) vs {per_big:.2f} ({big['name']}): "
                f"{'at most linear: OK' if linear else 'grows faster than linear: MISSED'}"
            )
        for label, key in (("preview", "wall"), ("refresh", "refresh_wall")):
            per = ", ".join(f"{r[key] / r['resources'] * 1000:.0f} ms ({r['name']})" for r in results)
            print(f"{label} wall per resource: {per}")


def report(r: dict[str, Any]) -> None:
    print(f"{r['name']}: {r['resources']} resources (cold up {r['up_wall']:.0f} s)")
    print(
        f"  no-op preview: {r['wall']:.1f} s, {r['requests']} PVE requests "
        f"({r['requests'] / r['resources']:.2f} per resource), writes: {r['writes'] or 'none'}",
        flush=True,
    )
    for (method, path), n in sorted(r["by_path"].items(), key=lambda kv: -kv[1])[:8]:
        print(f"    {n:5d}  {method} {path}", flush=True)
    print(
        f"  no-op refresh: {r['refresh_wall']:.1f} s, {r['refresh_requests']} PVE requests "
        f"({r['refresh_requests'] / r['resources']:.2f} per resource), writes: {r['refresh_writes'] or 'none'}",
        flush=True,
    )
    for (method, path), n in sorted(r["refresh_by_path"].items(), key=lambda kv: -kv[1])[:8]:
        print(f"    {n:5d}  {method} {path}", flush=True)


if __name__ == "__main__":
    main()
