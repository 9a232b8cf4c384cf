"""Grades ``release_gate.yaml`` and the drill's releases (skill "gates", max 48).

Replay (32 points): the submitted gate is run, as ``lab gate run`` runs it, on the hidden
candidates of :mod:`lab.grading.gate_suite` against the suite's champion on its reference
rows (latency is not timed in a replay: it depends on the machine, not the model). Blocking
is worth something only beside passing, and the reverse:

* ``gates.sound`` (10): share of sound candidates passed x share of defective ones blocked;
* ``gates.<kind>`` (quality 5, slice 8, invariance 6, schema 3): share of that kind blocked
  x share of sound candidates passed.

So the two trivial gates score 0: passing everything (do-nothing) blocks no defect, and
blocking everything passes no sound version. Both baselines are printed beside the figures.

Drill (16 points), from the journal and the alias history:

* ``gates.drill.kept-out`` (8): no defective candidate became champion (half the penalty when
  it was moved off within a scenario day);
* ``gates.drill.shipped`` (4): a sound candidate was promoted;
* ``gates.drill.recorded`` (4): every release the pipeline decided carries a gate verdict
  (``gate.run``: the version, the gate file's digest and the reference data's digest).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.evidence.schema import Evidence
from lab.evidence.submission import RELEASE_GATE, Submission
from lab.grading.items import Item
from lab.grading.release_facts import make_item

GATES = "gates"
REPLAY = (("gates.sound", "Sound candidates pass the gate", 10.0, "sound"),
          ("gates.quality", "A candidate worse for everyone is blocked", 5.0, "quality"),
          ("gates.slice", "Candidates that fail one group are blocked", 8.0, "slice"),
          ("gates.invariance", "A candidate whose decisions follow the region is blocked", 6.0, "invariance"),
          ("gates.schema", "A candidate that cannot read serving's inputs is blocked", 3.0, "schema"))
DRILL = (("gates.drill.kept-out", "No defective candidate reached production", 8.0),
         ("gates.drill.shipped", "The sound candidate shipped", 4.0),
         ("gates.drill.recorded", "Every release decision carries a recorded gate verdict", 4.0))
#: A defective version moved off champion within this many scenario days costs half.
QUICK_RECOVERY_DAYS = 1.0


@dataclass(frozen=True)
class Verdict:
    name: str
    kind: str
    story: str
    passed: bool
    failed: list[str]


def replay(text: str, scenario: Any, cache_dir: Path | None = None) -> list[Verdict]:
    """The submitted gate's verdict on every hidden candidate (a UsageError when it does not load)."""
    from lab.grading.gate_suite import build_suite
    from lab.release.gate import run_gate
    from lab.release.gate_config import load_gate

    cfg = load_gate(text, RELEASE_GATE)
    suite = build_suite(scenario, cache_dir)
    threshold = scenario.model.decision_threshold.value
    extra = [c for c in (cfg.invariance.columns if cfg.invariance else []) if c in suite.reference.columns
             and c not in suite.features]
    out = []
    for c in suite.candidates:
        r = run_gate(cfg, suite.models[c.name], suite.champion, suite.reference, suite.features + extra, threshold,
                     measure_latency=False)
        out.append(Verdict(c.name, c.kind, c.story, r.passed, r.failed))
    return out


def score_replay(verdicts: list[Verdict]) -> list[Item]:
    """The replay's items from the verdicts (pure)."""
    sound = [v for v in verdicts if v.kind == "sound"]
    bad = [v for v in verdicts if v.kind != "sound"]
    pass_rate = sum(v.passed for v in sound) / len(sound)
    block_rate = sum(not v.passed for v in bad) / len(bad)
    baselines = ("Baselines: a gate that passes everything and one that blocks everything both score 0 here "
                 "(each credit needs both passing sound versions and blocking defective ones).")
    items = []
    for id_, title, pts, kind in REPLAY:
        mine = [v for v in verdicts if v.kind == kind]
        lines = "; ".join(f"{v.name}: {'passed' if v.passed else 'blocked by ' + ', '.join(v.failed)}"
                          for v in mine)
        if kind == "sound":
            share = pass_rate * block_rate
            feedback = (f"{sum(v.passed for v in sound)} of {len(sound)} sound candidates passed, and the gate blocked "
                        f"{sum(not v.passed for v in bad)} of {len(bad)} defective ones: {share:.0%} of the points. "
                        + ("" if pass_rate == 1 else "A gate that blocks sound retrains stops every release; check "
                           "its limits against the champion's own figures (`lab gate run` on the champion). ")
                        + baselines)
        else:
            blocked = sum(not v.passed for v in mine) / len(mine)
            share = blocked * pass_rate
            what = "; ".join(v.story for v in mine)
            feedback = (f"Blocked {sum(not v.passed for v in mine)} of {len(mine)} ({what})"
                        + (f", x {pass_rate:.0%} of sound candidates passed" if pass_rate < 1 else "") + ". "
                        + ("" if blocked == 1 else _advice(kind)))
        items.append(make_item(GATES, id_, title, share, pts, feedback.strip(), evidence=lines,
                               verdicts=[v.__dict__ for v in mine], sound_pass_rate=round(pass_rate, 4),
                               defect_block_rate=round(block_rate, 4), baseline_points=0.0))
    return items


def _advice(kind: str) -> str:
    return {
        "quality": "A floor on an overall metric (metrics: roc_auc min, near the champion's) stops a version worse "
                   "for everyone.",
        "slice": "Overall figures hide groups: compare each group with the champion (slices: one per sensitive "
                 "attribute and per input group, with max_drop).",
        "invariance": "Score the same rows with only the region changed (invariance: columns [region], with a "
                      "max_flip_rate above what the champion itself shows).",
        "schema": "Keep the schema check on (schema: true, the default): a version that cannot score the "
                  "scenario's rows must not ship.",
    }[kind]


def _missing_items(why: str) -> list[Item]:
    return [make_item(GATES, id_, title, 0.0, pts, why) for id_, title, pts, _ in REPLAY]


# --------------------------------------------------------------------------- the drill


def _drill_items(ev: Evidence) -> list[Item]:
    versions = ev.scenario.model.versions
    defective = {i for i, v in enumerate(versions, 1) if v.role == "candidate" and v.defect is not None}
    sound = {i for i, v in enumerate(versions, 1) if v.role == "candidate" and v.defect is None}
    releases = [e for e in ev.entries("event.fired") if e["data"].get("type") == "release"]
    moves = [m for m in ev.alias_history if m.alias == "champion" and m.model == ev.model]
    end_day = max((e["day"] for e in ev.journal if e.get("day") is not None), default=0.0)
    if not releases:
        first = min((e.day for e in ev.scenario.timeline.events if e.type == "release"), default=None)
        why = (f"Not observed: no release happened in this run (the first is due on day {first}); "
               "run the drill past the release days before submitting.")
        return [make_item(GATES, id_, title, 0.0, pts, why) for id_, title, pts in DRILL]
    items = []
    # kept out: each defective version that became champion, and for how long
    penalties, lines = [], []
    for k, m in enumerate(moves):
        if m.to not in defective:
            continue
        until = next((n.day for n in moves[k + 1:] if n.to != m.to), None)
        held = (until if until is not None else end_day) - (m.day or 0.0)
        quick = until is not None and held <= QUICK_RECOVERY_DAYS
        penalties.append(0.5 if quick else 1.0)
        lines.append(f"v{m.to} champion on day {m.day or 0.0:.2f} ({m.actor}: {m.reason or 'no reason'}), "
                     + (f"moved off after {held:.2f} days" if until is not None else "still champion at the end"))
    share = 1.0 - min(1.0, sum(penalties) / max(1, len(defective)))
    if not penalties:
        fb = f"None of the defective candidates (v{', v'.join(map(str, sorted(defective)))}) became champion."
    else:
        fb = ("A defective candidate reached production: " + "; ".join(lines) + ". Apply the gate before the first "
              "release day (`lab gate apply`); without one the pipeline promotes on offline evaluation alone.")
    items.append(make_item(GATES, DRILL[0][0], DRILL[0][1], share, DRILL[0][2], fb, evidence="; ".join(lines)))
    # shipped: a sound candidate promoted
    shipped = [m for m in moves if m.to in sound]
    sound_events = [e for e in releases if e["data"].get("version") in sound]
    if shipped:
        fb, share = f"v{shipped[0].to} became champion on day {shipped[0].day or 0.0:.2f}.", 1.0
    elif not sound_events:
        due = [e.day for e in ev.scenario.timeline.events if e.type == "release" and e.version in sound]
        fb, share = f"Not observed: the sound candidate's release (day {min(due, default='?')}) did not happen in this run.", 0.0
    else:
        d = sound_events[0]["data"]
        fb = (f"v{d.get('version')} was not promoted: the pipeline's decision was {d.get('decision')}"
              + (f" (failed: {', '.join(d.get('failed') or [])})" if d.get("failed") else "")
              + (f" ({d.get('why')})" if d.get("why") else "")
              + ". A gate that blocks a sound retrain stops the release train.")
        share = 0.0
    items.append(make_item(GATES, DRILL[1][0], DRILL[1][1], share, DRILL[1][2], fb))
    # recorded: the pipeline's decisions with a gate verdict
    gated = [e for e in releases if e["data"].get("gate_sha256")]
    fb = (f"{len(gated)} of {len(releases)} release decisions ran the gate and recorded its verdict with the gate "
          "file's and the reference data's digests (MLflow tags lab.gate.*, journal gate.run).")
    if len(gated) < len(releases):
        fb += " The others went out, or were held, without a gate verdict: " + ", ".join(
            f"v{e['data'].get('version')} ({e['data'].get('decision')})" for e in releases if e not in gated) + "."
    items.append(make_item(GATES, DRILL[2][0], DRILL[2][1], len(gated) / len(releases), DRILL[2][2], fb))
    return items


def grade_gates(ev: Evidence, sub: Submission | None, cache_dir: Path | None = None) -> list[Item]:
    """The replay's items, then the drill's."""
    from lab.errors import UsageError
    from lab.grading.gate_suite import supported

    text = sub.text(RELEASE_GATE) if sub else None
    if not supported(ev.scenario):
        items = _missing_items(f"This scenario's generator ({ev.scenario.generator.name}) has no hidden gate suite.")
    elif text is None:
        problems = "; ".join(str(p) for p in sub.problems_for(RELEASE_GATE)) if sub else ""
        items = _missing_items(f"{RELEASE_GATE} is missing from the submission{': ' + problems if problems else ''}; "
                               "`lab init-submission DIR` writes a template.")
    else:
        try:
            items = score_replay(replay(text, ev.scenario, cache_dir))
        except UsageError as exc:
            items = _missing_items(f"{RELEASE_GATE} does not load: {exc}")
    return items + _drill_items(ev)


__all__ = ["DRILL", "REPLAY", "Verdict", "grade_gates", "replay", "score_replay"]
