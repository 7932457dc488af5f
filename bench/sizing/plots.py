"""A PNG per sizing measurement (matplotlib, no display) and the markdown table of the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ENDPOINTS = ("get", "list", "post", "jwks", "refresh", "me")


def _save(figure: Any, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def plot_bound(results: dict[str, Any], path: Path) -> None:
    bound = results["bound"]
    figure, axes = plt.subplots(figsize=(5, 3.5))
    rates = [bound["engine"]["tasks_per_s"], bound["pgbench"]["tasks_per_s"]]
    axes.bar(["taskplane engine", "pgbench bound"], rates, color=["tab:blue", "tab:gray"])
    axes.set_ylabel("tasks/s")
    axes.set_title(f"engine / bound = {bound['engine_over_bound']:.2f} (target 0.25)")
    _save(figure, path)


def plot_api(results: dict[str, Any], path: Path) -> None:
    api = results["api"]
    figure, axes = plt.subplots(1, len(ENDPOINTS), figsize=(21, 3.8))
    for ax, endpoint in zip(axes, ENDPOINTS, strict=True):
        data = api["endpoints"][endpoint]
        clients = [int(c) for c in data]
        for side, label in (("api", "service"), ("ceiling", "bare FastAPI")):
            ax.plot(
                clients, [data[str(c)][side]["requests_per_s"] for c in clients], "o-", label=label
            )
        ax.set_xscale("log")
        ax.set_xticks(clients, [str(c) for c in clients])
        ax.set_xlabel("concurrent connections")
        ax.set_title(f"{endpoint}: ratio at 16 = {data['16']['api_over_ceiling']:.2f}")
    axes[0].set_ylabel("requests/s")
    axes[0].legend()
    _save(figure, path)


def plot_growth(results: dict[str, Any], path: Path) -> None:
    growth = results["growth"]
    figure, axes = plt.subplots(figsize=(6, 3.8))
    sizes = growth["sizes"]
    for name in ("queue_stats", "list_page"):
        for stat, style in (("median_ms", "o-"), ("p99_ms", "x--")):
            values = [growth["latency"][str(s)][name][stat] for s in sizes]
            axes.plot(sizes, values, style, label=f"{name} {stat.removesuffix('_ms')}")
    axes.set_xscale("log")
    axes.set_xlabel("rows in tasks.tasks")
    axes.set_ylabel("latency (ms)")
    axes.set_ylim(bottom=0)
    axes.legend()
    _save(figure, path)


def plot_footprint(results: dict[str, Any], path: Path) -> None:
    memory = results["footprint"]
    names = list(memory)
    figure, axes = plt.subplots(figsize=(8, 3.8))
    positions = range(len(names))
    axes.bar(
        [p - 0.2 for p in positions], [memory[n]["idle_mib"] for n in names], 0.4, label="idle"
    )
    axes.bar(
        [p + 0.2 for p in positions],
        [memory[n]["load_mib"] for n in names],
        0.4,
        label="under load",
    )
    axes.set_xticks(list(positions), names, rotation=20)
    axes.set_ylabel("RSS (MiB)")
    axes.legend()
    _save(figure, path)


def _non_2xx(side: dict[str, Any]) -> str:
    """``0``, or the count per status code (``503×7``): shedding reads differently from errors."""
    statuses = sorted(side.get("statuses", {}).items())
    codes = [f"{code}×{n}" for code, n in statuses if not code.startswith("2")]
    return ", ".join(codes) or str(side["non_2xx"])


PLOTS = {"bound": plot_bound, "api": plot_api, "growth": plot_growth, "footprint": plot_footprint}


def write_all(results: dict[str, Any], directory: Path, prefix: str) -> list[Path]:
    paths = []
    for name, draw in PLOTS.items():
        path = directory / f"{prefix}-{name}.png"
        draw(results, path)
        paths.append(path)
    return paths


def table(results: dict[str, Any], source: str) -> str:
    """The run's numbers as markdown."""
    machine, bound = results["machine"], results["bound"]
    load = ", ".join(f"{x:.1f}" for x in machine["load_average_at_start"])
    lines = [
        "# Sizing results",
        "",
        f"`{source}`, {machine['date']}, {machine['cpu_count']} CPUs,"
        f" load average {load} at the start.",
        "",
        f"Bound: engine {bound['engine']['tasks_per_s']:,.0f} tasks/s, pgbench"
        f" {bound['pgbench']['tasks_per_s']:,.0f} tasks/s ({bound['pgbench']['clients']} clients):"
        f" engine/bound **{bound['engine_over_bound']:.2f}** (target 0.25).",
        "",
        "| endpoint | clients | service req/s | p50 / p99 ms"
        " | ceiling req/s | p50 / p99 ms | ratio | CPU ms/request service / ceiling"
        " | CPU ratio | service non-2xx |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for endpoint, per_clients in results["api"]["endpoints"].items():
        for clients, data in per_clients.items():
            api, ceiling = data["api"], data["ceiling"]
            lines.append(
                f"| {endpoint} | {clients} | {api['requests_per_s']:,.0f} |"
                f" {api['p50_ms']:.1f} / {api['p99_ms']:.1f} | {ceiling['requests_per_s']:,.0f} |"
                f" {ceiling['p50_ms']:.1f} / {ceiling['p99_ms']:.1f}"
                f" | {data['api_over_ceiling']:.2f}"
                f" | {api['cpu_ms_per_request']:.2f} / {ceiling['cpu_ms_per_request']:.2f}"
                f" | {data['cpu_ceiling_over_api']:.2f} | {_non_2xx(api)} |"
            )
    growth = results["growth"]
    lines += [
        "",
        "| rows | queue stats median / p99 ms | list page median / p99 ms |",
        "| --- | --- | --- |",
    ]
    for size in growth["sizes"]:
        at = growth["latency"][str(size)]
        lines.append(
            f"| {size:,} | {at['queue_stats']['median_ms']:.1f}"
            f" / {at['queue_stats']['p99_ms']:.1f} |"
            f" {at['list_page']['median_ms']:.1f} / {at['list_page']['p99_ms']:.1f} |"
        )
    ratios = growth["large_over_small"]
    lines += [
        "",
        f"Largest / smallest median: queue stats {ratios['queue_stats']:.2f},"
        f" list page {ratios['list_page']:.2f} (target ≤ 1.2).",
        "",
        "| process | idle RSS MiB | under load MiB |",
        "| --- | --- | --- |",
    ]
    for name, memory in results["footprint"].items():
        lines.append(f"| {name} | {memory['idle_mib']:.0f} | {memory['load_mib']:.0f} |")
    return "\n".join(lines) + "\n"
