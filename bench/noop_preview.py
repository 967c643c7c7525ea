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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from bench.gen_stack import generate
from hci_tools.pulumi_project import REPO, PulumiProject, engine_bin, lab_environment
from lab.pytest_plugin import start_lab, stop_lab


def generated_stack(nodes: int, disks: int, vms: int) -> dict[str, Any]:
    return {"config": generate(nodes=nodes, disks=disks, vms=vms)}


PHASES = ("preview", "refresh")


def measure(name: str, config: dict[str, Any], lab_args: list[str]) -> dict[str, Any]:
    """Cold up, then each no-op phase with the lab's request counters reset before it."""
    base = Path(tempfile.mkdtemp(prefix=f"bench-preview-{name}-"))
    lab = start_lab(base / "lab", *lab_args)
    try:
        project = PulumiProject.create(base, name, config, engine_bin(), lab_environment(lab.info.state_dir))
        start = time.monotonic()
        project.up()
        up_wall = time.monotonic() - start
        resources = len(json.loads(project.run("stack", "export").stdout)["deployment"]["resources"])
        commands = {
            "preview": lambda: project.preview("--expect-no-changes"),
            "refresh": lambda: project.run("refresh", "--yes", "--skip-preview"),
        }
        phases = {phase: measure_phase(lab, commands[phase]) for phase in PHASES}
    finally:
        stop_lab(base / "lab")
    return {"name": name, "resources": resources, "up_wall": up_wall, **phases}


def measure_phase(lab: Any, run: Callable[[], Any]) -> dict[str, Any]:
    """One no-op command: its wall time and the PVE requests it made."""
    lab.control("POST", "/lab/requests/reset")
    start = time.monotonic()
    run()
    wall = time.monotonic() - start
    counts = lab.request_counts()
    return {"wall": wall, "requests": sum(counts.values()), "writes": writes_of(counts), "by_path": counts}


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
    no_writes = all(not r[phase]["writes"] for r in results for phase in PHASES)
    print("target: no write in a no-op preview or refresh:", "OK" if no_writes else "MISSED")
    refresh_ok = all(r["refresh"]["requests"] <= 2 * r["resources"] for r in results)
    print("target: refresh at most 2 requests per resource:", "OK" if refresh_ok else "MISSED")
    if len(results) >= 2:
        small, big = results[0], results[-1]
        for phase in PHASES:
            per_small, per_big = (r[phase]["requests"] / r["resources"] for r in (small, big))
            linear = per_big <= max(per_small, 0.01) * 1.5 + 0.5
            print(
                f"{phase} requests per resource: {per_small:.2f} ({small['name']}) vs {per_big:.2f} ({big['name']}): "
                f"{'at most linear: OK' if linear else 'grows faster than linear: MISSED'}"
            )
        for phase in PHASES:
            per = ", ".join(f"{r[phase]['wall'] / r['resources'] * 1000:.0f} ms ({r['name']})" for r in results)
            print(f"{phase} wall per resource: {per}")


def report(r: dict[str, Any]) -> None:
    print(f"{r['name']}: {r['resources']} resources (cold up {r['up_wall']:.0f} s)")
    for phase in PHASES:
        figures = r[phase]
        print(
            f"  no-op {phase}: {figures['wall']:.1f} s, {figures['requests']} PVE requests "
            f"({figures['requests'] / r['resources']:.2f} per resource), writes: {figures['writes'] or 'none'}",
            flush=True,
        )
        for (method, path), n in sorted(figures["by_path"].items(), key=lambda kv: -kv[1])[:8]:
            print(f"    {n:5d}  {method} {path}", flush=True)


if __name__ == "__main__":
    main()
