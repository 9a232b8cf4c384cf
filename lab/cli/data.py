"""`lab scenarios` and `lab export-data`: what the lab offers, without any server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from lab.core import checks
from lab.cli._common import HomeOpt, JsonOpt, err_console, out_console, print_json


def register(app: typer.Typer) -> None:
    app.command("scenarios")(scenarios)
    app.command("export-data")(export_data)


def scenarios(json_out: JsonOpt = False, home: HomeOpt = None) -> None:  # noqa: ARG001 (no home needed)
    """List the scenarios you can bring up."""
    # heavy: keep off the start-up path
    from lab.scenario.schema import load_scenario, scenario_ids

    items = []
    for sid in scenario_ids():
        s = load_scenario(sid)
        items.append(
            {
                "id": s.id,
                "title": s.title,
                "domain": s.domain,
                "eu_ai_act_class": s.risk.eu_ai_act_class,
                "risk_basis": s.risk.basis,
                "days": s.timeline.days,
                "graded_tasks": list(s.graded_tasks),
                "brief": s.brief.strip(),
            }
        )
    if json_out:
        print_json({"scenarios": items})
        return
    table = Table(title="Scenarios")
    for col in ("id", "title", "EU AI Act", "days", "graded"):
        table.add_column(col)
    for it in items:
        table.add_row(it["id"], it["title"], it["eu_ai_act_class"], str(it["days"]), ", ".join(it["graded_tasks"]))
    out_console.print(table)


def export_data(
    scenario: Annotated[str, typer.Argument(help="Scenario id or path to a scenario YAML.")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write Parquet files into.")],
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed (default 0).")] = None,
    home: HomeOpt = None,  # noqa: ARG001 (accepted like every command's; no lab home is needed)
) -> None:
    """Write a scenario's reference data and daily traffic, with labels, as Parquet."""
    checks.check_scenario_ref(scenario)  # before any heavy import
    checks.check_seed(seed)
    checks.check_out_dir(out, "--out")

    # heavy: keep off the start-up path
    from lab.scenario.export import export_scenario_data

    written = export_scenario_data(scenario, seed or 0, out)
    for path, rows in written:
        err_console.print(f"wrote {path} ({rows} rows)")
