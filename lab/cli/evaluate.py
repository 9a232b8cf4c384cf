"""`lab evaluate`: replay a monitoring.yaml over streams with known drift and score its thresholds.

No server is involved. Heavy modules (Evidently, scikit-learn, matplotlib) are imported
inside the command, so ``lab --help`` stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from lab.core import checks
from lab.cli._common import HomeOpt, JsonOpt, err_console, out_console, print_json
from lab.errors import UsageError

if TYPE_CHECKING:
    from lab.monitoring.evaluate import EvaluationResult


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)


def evaluate(
    config: Annotated[Optional[Path], typer.Argument(help="Your monitoring.yaml.", show_default=False)] = None,
    scenario: Annotated[
        Optional[str], typer.Option("--scenario", help="Scenario id or path to a scenario YAML (required).", show_default=False)
    ] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed for the scenario and the replay streams (default 0).")] = None,
    speed: Annotated[
        Optional[float],
        typer.Option("--speed", help="Seconds per scenario day of the live lab to match (default 60, as `lab up`): "
                                     "the replay runs at requests_per_second x batch_size x speed rows per day."),
    ] = None,
    json_out: JsonOpt = False,
    plot: Annotated[
        Optional[Path], typer.Option("--plot", help="Also write a PNG of every episode's scores and alarms.", show_default=False)
    ] = None,
    home: HomeOpt = None,  # noqa: ARG001 (accepted like every command's; no lab home is needed)
) -> None:
    """Replay CONFIG over drift episodes of every kind and report detection, delay and false alarms."""
    import time

    if config is None:
        raise UsageError("missing CONFIG: the monitoring.yaml to evaluate", hint="lab evaluate monitoring.yaml --scenario ID")
    checks.check_monitoring_yaml(config)  # arguments, paths and YAML keys before any heavy import
    if scenario is None:
        raise UsageError("missing --scenario", hint="e.g. --scenario credit-concept-drift; `lab scenarios` lists them")
    checks.check_scenario_ref(scenario)
    seed = 0 if seed is None else seed
    checks.check_seed(seed)
    checks.check_speed(speed)
    if plot is not None:
        _check_writable(plot)

    # heavy: keep off the start-up path
    from lab.scenario.schema import load_scenario

    sc = load_scenario(scenario)

    # heavy: keep off the start-up path
    from lab.monitoring.evaluate import DEFAULT_SPEED, SuiteSpec, evaluate as run, live_rows_per_day, validate_config

    loaded = validate_config(config, sc, seed)  # every config problem, with lines, before anything runs
    spec = SuiteSpec()
    size = loaded.window.size if loaded.window else 500
    rpd = live_rows_per_day(sc, DEFAULT_SPEED if speed is None else speed)
    episodes = len(spec.data_magnitudes + spec.concept_magnitudes + spec.label_magnitudes) * spec.episodes_per_magnitude
    err_console.print(
        f"replaying {config.name} on {sc.id} (seed {seed}): {episodes} drift episodes and "
        f"{spec.no_drift_streams} no-drift streams, {size}-row windows at the live rate of {rpd} rows per scenario day",
        highlight=False,
    )
    started = time.perf_counter()
    result = run(loaded, sc, seed, suite=spec, rows_per_day=rpd)
    err_console.print(f"done in {time.perf_counter() - started:.1f} s", highlight=False)
    if plot is not None:
        # heavy: keep off the start-up path
        from lab.monitoring.evaluate import plot_evaluation

        plot_evaluation(result, plot)
        err_console.print(f"wrote {plot}", highlight=False)
    observed = None
    if loaded.business is not None or loaded.system is not None:
        # heavy: keep off the start-up path
        from lab.monitoring.observability_replay import replay_observability

        observed = replay_observability(loaded, sc, seed, rows_per_day=rpd)
    if json_out:
        print_json({**result.to_dict(windows=False),
                    **({"observability": observed.summary()} if observed is not None else {})})
        return
    _print_tables(result)
    if observed is not None:
        _print_observability(observed)


def _print_observability(observed: Any) -> None:
    """The business and system sections, replayed (lab.monitoring.observability_replay)."""
    from rich.table import Table

    table = Table(title=f"business and system sections (outcomes arrive {observed.label_delay_days:g} days late)",
                  title_justify="left")
    for col in ("section", "incidents", "alarmed in time", "chance", "mean delay days", "budget days",
                "false pages a week", "quiet windows in alarm"):
        table.add_column(col, justify="left" if col == "section" else "right")
    for res in (observed.business, observed.system):
        s = res.summary()
        if not res.configured:
            table.add_row(res.section, str(s["incidents"]), "not configured", "", "", f"{s['budget_days']:g}", "", "")
            continue
        delay = "" if s["mean_delay_days"] is None else f"{s['mean_delay_days']:.1f}"
        table.add_row(res.section, str(s["incidents"]), f"{s['hit_rate']:.0%}", f"{s['chance']:.0%}", delay,
                      f"{s['budget_days']:.1f}", f"{s['false_pages_per_week']:.2f}", f"{res.false_window_rate:.1%}")
    out_console.print(table)


def _check_writable(path: Path) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UsageError(f"--plot {path}: is a directory; give a file name such as evaluation.png")
    if not parent.is_dir():
        raise UsageError(f"--plot {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"--plot {path}: directory {parent} is not writable")


_SHORT = {"data": "data", "prediction": "pred", "performance": "perf"}


def _num(x: float | None, fmt: str = "{:.2f}", none: str = "-") -> str:
    return none if x is None else fmt.format(x)


def _print_tables(result: "EvaluationResult") -> None:
    from rich.table import Table

    out_console.print(
        f"{result.config} on {result.scenario} (seed {result.seed}): {result.window_size}-row windows at "
        f"{result.rows_per_day} rows/day; labels arrive {result.label_lag_windows} windows late; a hit is an alarm "
        f"within {result.max_delay_windows} windows ({result.max_delay_days:.1f} days) of the onset.",
        highlight=False, markup=False, soft_wrap=True,
    )  # fmt: skip
    detection = Table(title="Detection (chance: random alarms at your false-positive rate)", title_justify="left")
    for col in ("drift", "hits", "rate", "chance", "delay win", "delay days", "hits by magnitude", "signals"):
        detection.add_column(col, justify="left" if col in ("drift", "hits by magnitude", "signals") else "right")
    for key in ("data", "concept", "label"):
        s = result.summaries[key]
        detection.add_row(
            key,
            f"{s.detected}/{s.episodes}",
            _num(s.detection_rate),
            _num(s.chance_detection_rate),
            _num(s.mean_delay_windows, "{:.1f}"),
            _num(s.mean_delay_days, "{:.1f}"),
            " ".join(f"{m.magnitude:g}:{m.detected}/{m.episodes}" for m in s.by_magnitude),
            " ".join(f"{_SHORT[k]} {v}" for k, v in s.signals.items() if v),
        )
    for b in result.baselines:
        detection.add_row(
            b.name.replace("_", "-"), "", _num(b.detection_rate), "",
            _num(b.mean_delay_windows, "{:.1f}"), _num(b.mean_delay_days, "{:.1f}"), "", "",
        )  # fmt: skip
    alarms = Table(title="False alarms on no-drift windows (before an onset, or in a no-drift stream)", title_justify="left")
    for col in ("windows", "count", "alarms", "FP rate", "per 1k rows", "MTBFA win", "MTBFA days"):
        alarms.add_column(col, justify="left" if col == "windows" else "right")
    names = {"data": "data, pre-onset", "concept": "concept, pre-onset", "label": "label, pre-onset",
             "none": "no-drift streams", "all": "all"}  # fmt: skip
    for key in ("data", "concept", "label", "none", "all"):
        s = result.summaries[key]
        alarms.add_row(
            names[key],
            str(s.no_drift_windows),
            str(s.false_alarms),
            _num(s.false_positive_rate, "{:.3f}"),
            _num(s.false_alarms_per_1k_rows, "{:.3f}"),
            _num(s.mtbfa_windows, "{:.1f}", "none"),
            _num(s.mtbfa_days, "{:.1f}", "none"),
        )
    for b in result.baselines:
        alarms.add_row(
            b.name.replace("_", "-"), "", "", _num(b.false_positive_rate, "{:.3f}"),
            _num(b.false_alarms_per_1k_rows, "{:.3f}"), _num(b.mtbfa_windows, "{:.1f}", "none"),
            _num(b.mtbfa_days, "{:.1f}", "none"),
        )  # fmt: skip
    out_console.print(detection)
    out_console.print(alarms)
    out_console.print(_monitored_line(result.monitored), highlight=False, markup=False, soft_wrap=True)
    out_console.print("Diagnostics:", highlight=False, markup=False)
    for line in result.diagnostics:
        out_console.print(f"  - {line}", highlight=False, markup=False, soft_wrap=True)


def _monitored_line(mon: dict[str, Any]) -> str:
    methods: dict[str, list[str]] = {}
    for name, p in mon["columns"].items():
        methods.setdefault(f"{p['method']} {p['threshold']:g}", []).append(name)
    cols = "; ".join(f"{k}: {', '.join(v)}" for k, v in methods.items())
    pred = mon["prediction"]
    pred_s = f"{pred['method']} {pred['threshold']:g}" + (" (Evidently default)" if pred["source"] == "evidently_default" else "") if pred else "off"
    perf = mon["performance"]
    if perf is None:
        perf_s = "off"
    else:
        parts = [perf["metric"]]
        if perf["min"] is not None:
            parts.append(f"min {perf['min']:g}")
        if perf["max_drop"] is not None:
            parts.append(f"max_drop {perf['max_drop']:g} below reference {perf['reference_value']:.3f}")
        perf_s = ", ".join(parts)
    return (
        f"Monitored: columns [{cols}], dataset drift at share {mon['dataset_drift_share']:g}; "
        f"prediction drift: {pred_s}; performance: {perf_s}."
    )
