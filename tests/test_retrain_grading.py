"""The retraining grader on planted drills of retrain-after-shock (no servers): the evidence is
written as the lab writes it (traffic log, labels, journal, alias history), the retrained
versions' rows digested by the same code `lab retrain` runs. An expert's drill scores full
marks; each mistake loses what it should, with its reason; the naive window ranks below the
expert's, and a drill that never retrained gets no outcome points."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path

import pytest

from lab.core.home import Home
from lab.evidence.schema import AliasMove, Evidence, Manifest, RegistrySnapshot
from lab.grading.retrain_grader import PLAN, grade_retraining, visible_day
from lab.grading.retrain_outcome import rows_by, served_batches
from lab.grading.retraining_doc import DOC_PLAN, DocFacts, grade_retraining_doc
from lab.evidence.submission import RETRAINING
from lab.release.retrain import labelled_rows
from lab.scenario import answer_key
from lab.scenario.data import day_frame
from lab.scenario.generators import generator_class
from lab.scenario.retraining import data_digest
from lab.scenario.schema import load_scenario, resolve
from lab.serving.validate import rows_to_frame

SEED = 5
PER_REQUEST = 50  # rows per synthetic request: 24 requests a day of 1,200 rows
T0 = 1_767_225_600.0
SPEED = 60.0

GOOD_DOC = """# Retraining procedure: resume-screener

## Triggers
We retrain when ROC AUC on labelled rows falls below 0.72 over the last three days of arrived labels.
Data drift and prediction drift alerts prompt us to look at the labelled rows; they do not retrain by themselves.

## Frequency
Besides the triggers, a scheduled retrain runs monthly, so the model never ages past a few weeks.

## Data window
We train on the last 7 days of labelled rows, starting at the change, because rows from before it teach the old rule.
Labels arrive 3 days after the application, so the newest three days have no labels yet.

## Guardrails
Every retrained version must pass the release gate (regression tests on reference data) and then run in shadow for a day.

## Approval
The head of talent acquisition's ML lead approves the promotion, on the gate report and the shadow figures.

## Rollback
If ROC AUC on labelled rows drops below the previous champion's within two days, we run `lab rollback` to the previous version.
"""


@pytest.fixture(scope="module")
def world():
    return build_world()


def build_world():
    """The scenario at SEED, its answer key, features, a traffic log of every row and the labels."""
    sc, _ = resolve(load_scenario("retrain-after-shock"), SEED)
    key = answer_key.build(load_scenario("retrain-after-shock"), SEED)
    features = generator_class(sc.generator.name).feature_names()
    traffic, labels = [], []
    for day in range(sc.timeline.days):
        frame = day_frame(sc, SEED, day)
        per_day = len(frame) // PER_REQUEST
        for k in range(per_day):
            rid = f"t{day:02d}-{k:02d}"
            traffic.append({"id": rid, "time": T0 + (day + k / per_day) * SPEED, "day": day + k / per_day, "row_day": day,
                            "row_start": k * PER_REQUEST, "n_rows": PER_REQUEST, "status": 200})
            labels.append({"request_id": rid, "day": day,
                           "labels": [int(v) for v in frame["label"].iloc[k * PER_REQUEST:(k + 1) * PER_REQUEST]],
                           "arrived_day": day + sc.timeline.label_delay_days})
    return sc, key, features, traffic, labels


def _time(day: float) -> str:
    return datetime.fromtimestamp(T0 + day * SPEED, timezone.utc).isoformat()


def make_evidence(world, *, retrains=(), gate=(), shadow=(), canary=(), promotions=(), serving=()):
    """retrains: (day, version, from, to, strategy); gate: (day, version, verdict); shadow: (version, answered, day);
    canary: (day, version); promotions: (day, version, via)."""
    sc, key, features, traffic, labels = world
    journal, moves = [], [AliasMove(seq=0, time=_time(0), day=0.0, model=sc.model.name, alias="champion", to=1,
                                    actor="lab", via="timeline event deploy")]

    def entry(day: float, kind: str, data: dict) -> None:
        journal.append({"seq": len(journal), "time": _time(day), "day": day, "kind": kind, "actor": "user", "data": data,
                        "prev": "", "hash": ""})

    ev0 = _evidence(world, [], moves, [])
    batches = served_batches(ev0)
    for day, version, lo, hi, strategy in retrains:
        rows = rows_by(ev0, batches, day, lo, hi)
        entry(day, "retrain", {"version": version, "from_day": lo, "to_day": hi, "strategy": strategy,
                               "labels_by_day": day, "rows": len(rows), "data_sha256": data_digest(rows, features),
                               "last_row_day": float(rows["day"].max())})
    for day, version, verdict in gate:
        entry(day, "gate.run", {"version": version, "verdict": verdict, "failed": [] if verdict == "passed" else
                                ["slice age_band"], "gate_sha256": "ab" * 32})
    requests = list(serving)
    for version, answered, day in shadow:
        moves.append(AliasMove(seq=len(moves), time=_time(day), day=day, model=sc.model.name, alias="shadow", to=version,
                               actor="user", via="lab shadow start"))
        requests += [{"id": f"s{version}-{i}", "time": T0 + (day + 0.01 * (i + 1)) * SPEED, "status": 200,
                      "shadow_version": version, "shadow_status": "ok"} for i in range(answered)]
    for day, version in canary:
        entry(day, "canary.completed", {"version": version})
    for day, version, via in promotions:
        moves.append(AliasMove(seq=len(moves), time=_time(day), day=day, model=sc.model.name, alias="champion",
                               from_=1, to=version, actor="user", via=via))
    return _evidence(world, journal, moves, requests)


def _evidence(world, journal, moves, requests) -> Evidence:
    sc, key, _, traffic, labels = world
    manifest = Manifest(schema_version=3, lab_version="test", scenario=sc.id, seed=SEED, created=_time(0), files={},
                        journal_verified=True)
    return Evidence(path=Path("."), manifest=manifest, scenario=sc, answer_key=key, journal=journal,
                    registry=RegistrySnapshot(source="none", model=sc.model.name), alias_history=moves,
                    serving_requests=requests, traffic_requests=traffic, labels=labels, monitoring=None)


class Sub:
    def __init__(self, text: str | None) -> None:
        self._text = text

    def text(self, name: str) -> str | None:
        return self._text if name == RETRAINING else None


def onset(world) -> float:
    return next(d.onset_day for d in world[1].drifts if d.type == "concept")


def expert(world, **changes):
    t = onset(world)
    now = t + 3 + 4  # four days of the new world's labels
    plan = dict(retrains=[(now, 2, math.ceil(t), now, "window")], gate=[(now, 2, "passed")],
                shadow=[(2, 300, now + 0.2)], promotions=[(now + 1.5, 2, "lab promote")])
    plan.update(changes)
    return make_evidence(world, **plan)


def graded(ev, doc: str | None = GOOD_DOC) -> dict:
    return {i.id: i for i in grade_retraining(ev, Sub(doc))}


def test_the_expert_drill_scores_full_marks(world):
    items = graded(expert(world))
    assert {i: round(x.points, 2) for i, x in items.items() if not x.passed} == {}
    assert sum(x.max_points for x in items.values()) == sum(p for *_, p in PLAN + DOC_PLAN) == 48
    assert items["retraining.outcome"].details["digest_matches"]
    o = items["retraining.outcome"].details
    assert o["user_auc"] > o["stale_auc"] + 0.03  # the change is real and the retrain fixes it


def test_a_window_reaching_back_before_the_change_scores_less(world):
    t = onset(world)
    now = t + 7
    naive = graded(expert(world, retrains=[(now, 2, 0, now, "window")]))["retraining.outcome"]
    best = graded(expert(world))["retraining.outcome"]
    assert 0 < naive.points < best.points
    assert "before the change" in naive.feedback
    weighted = graded(expert(world, retrains=[(now, 2, 0, now, "weighted")]))["retraining.outcome"]
    assert naive.points <= weighted.points <= best.points


def test_no_retrain_no_outcome_and_no_guardrail_points(world):
    items = graded(make_evidence(world))
    for k in ("retraining.outcome", "retraining.timing", "retraining.gated", "retraining.live-checked"):
        assert items[k].points == 0, k
    assert "v1" in items["retraining.outcome"].feedback
    # the document promised guardrails the drill never showed
    assert not items["retraining.doc.guardrails"].passed


def test_a_retrain_before_the_change_showed_in_labels_earns_no_outcome(world):
    t = onset(world)
    early = t + 1  # labels of the changed world have not arrived
    ev = expert(world, retrains=[(early, 2, 0, early, "window")], gate=[(early, 2, "passed")],
                shadow=[(2, 300, early + 0.2)], promotions=[(early + 1, 2, "lab promote")])
    item = graded(ev)["retraining.outcome"]
    assert item.points == 0 and "could fill a retrain" in item.feedback


def test_late_promotion_loses_timing_in_proportion(world):
    t = onset(world)
    vis = visible_day(expert(world))
    assert vis == pytest.approx(t + world[0].timeline.events[1].width_days / 2 + 3 + 1)
    late = expert(world, promotions=[(min(vis + 10.0, 29.5), 2, "lab promote")])
    item = graded(late)["retraining.timing"]
    assert 0 < item.points < item.max_points


def test_an_early_retrain_then_a_better_one_keeps_the_timing_of_the_first(world):
    t = onset(world)
    vis = visible_day(expert(world))
    ev = expert(world, retrains=[(t + 5, 2, math.ceil(t), t + 5, "window"), (t + 12, 3, math.ceil(t), t + 12, "window")],
                gate=[(t + 12, 3, "passed")], shadow=[(3, 300, t + 12.2)],
                promotions=[(t + 5.5, 2, "lab promote"), (min(vis + 10.0, 29.5), 3, "lab promote")])
    items = graded(ev)
    assert items["retraining.timing"].passed and "(v2)" in items["retraining.timing"].feedback
    assert items["retraining.outcome"].details["user_auc"] > items["retraining.outcome"].details["stale_auc"]


def test_promoted_without_gate_or_live_traffic(world):
    ev = expert(world, gate=[], shadow=[])
    items = graded(ev)
    assert items["retraining.gated"].points == 0 and items["retraining.live-checked"].points == 0
    assert "promises" in items["retraining.doc.guardrails"].feedback


def test_promoted_over_a_blocking_gate_and_canary_counts_as_live(world):
    t = onset(world)
    ev = expert(world, gate=[(t + 7, 2, "blocked")], shadow=[], canary=[(t + 8.4, 2)],
                promotions=[(t + 8.5, 2, "lab canary")])
    items = graded(ev)
    assert items["retraining.gated"].points == 0 and "blocked" in items["retraining.gated"].feedback
    assert items["retraining.live-checked"].passed


def test_a_gate_run_after_the_promotion_does_not_count(world):
    t = onset(world)
    items = graded(expert(world, gate=[(t + 9, 2, "passed")]))
    assert items["retraining.gated"].points == 0


def test_the_live_retrain_and_the_grader_read_the_same_rows(world, tmp_path):
    """`lab retrain` reads serving's log (inputs as serving records them); the grader rebuilds the
    rows from the traffic log and the seeded rows: same rows, same digest."""
    sc, _, features, traffic, labels = world
    gen = generator_class(sc.generator.name)
    home = Home(tmp_path)
    (tmp_path / "serving").mkdir()
    home.labels.parent.mkdir(parents=True)
    with open(tmp_path / "serving" / "requests.jsonl", "w") as log:
        for r in traffic[:24 * 15]:
            rows = day_frame(sc, SEED, r["row_day"])[features].iloc[r["row_start"]:r["row_start"] + r["n_rows"]]
            sent = json.loads(json.dumps({"rows": rows.to_dict(orient="records")}))["rows"]  # over the wire
            X = rows_to_frame(sent, gen)
            log.write(json.dumps({"kind": "request", "id": r["id"], "day": r["day"], "status": 200,
                                  "inputs": X.to_dict(orient="list")}) + "\n")
    home.labels.write_text("".join(json.dumps(x) + "\n" for x in labels))
    live = labelled_rows(home, 2, 12, 14.0, features)
    ev = make_evidence(world)
    rebuilt = rows_by(ev, served_batches(ev), 14.0, 2, 12)
    assert len(live) == len(rebuilt) == 1200 * 10
    assert data_digest(live, features) == data_digest(rebuilt, features)


# ---- the document, alone


FACTS = DocFacts(label_delay_days=3.0, window_days=7.0, gated=True, live_checked=True)


def doc_items(text: str | None, facts: DocFacts = FACTS) -> dict:
    return {i.id: i for i in grade_retraining_doc(text, facts)}


def test_the_good_document_scores_full_and_the_template_nothing():
    assert [i.id for i in doc_items(GOOD_DOC).values() if not i.passed] == []
    from lab.core.paths import TEMPLATE_DIR

    template = (TEMPLATE_DIR / RETRAINING).read_text()
    assert sum(i.points for i in doc_items(template).values()) == 0
    assert all(i.feedback == "retraining.md is missing." for i in doc_items(None).values())


def test_a_wrong_label_delay_is_named_and_costs_its_share():
    item = doc_items(GOOD_DOC.replace("Labels arrive 3 days", "Labels arrive 10 days"))["retraining.doc.window"]
    assert not item.passed and "3 days here, not 10" in item.feedback


def test_a_window_unlike_the_drills_retrain_is_named():
    item = doc_items(GOOD_DOC, DocFacts(3.0, window_days=30.0, gated=True, live_checked=True))["retraining.doc.window"]
    assert not item.passed and "30 days of the retrain" in item.feedback


def test_negated_guardrails_and_bare_keywords_earn_nothing():
    text = GOOD_DOC.replace("Every retrained version must pass the release gate (regression tests on reference data) "
                            "and then run in shadow for a day.",
                            "We do not run a release gate and never shadow: speed matters.")
    text = text.replace("on the gate report and the shadow figures", "on the holdout figures")
    assert doc_items(text)["retraining.doc.guardrails"].points == 0
    keywords = text.replace("We do not run a release gate and never shadow: speed matters.",
                            "Guardrails: gate, shadow, canary, approval.")
    assert doc_items(keywords)["retraining.doc.guardrails"].points == 0


def test_approval_without_a_role_is_half():
    text = GOOD_DOC.replace("The head of talent acquisition's ML lead approves the promotion, on the gate report and "
                            "the shadow figures.", "Promotion is approved on the gate report.")
    assert doc_items(text)["retraining.doc.approval"].points == pytest.approx(1.0)
