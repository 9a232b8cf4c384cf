"""The console's views of the drill: each team's progress, the leaderboard and the debrief.

The debrief reveals the answer key (``lab.scenario.answer_key``) only once the drill has
ended. Each team's key follows from the scenario, the seed and the days its own journal
says the events fired (an injected event fires in each lab on that lab's scenario day),
so every team is measured against the truth of its own run.
"""

from __future__ import annotations

from typing import Any

from lab.drill import progress
from lab.drill.store import Conflict, Store
from lab.scenario import answer_key
from lab.scenario.schema import Scenario


def hint_points(store: Store, team: str) -> float:
    return float(sum(h["cost"] for h in store.hints_taken(team)))


def relevant(store: Store, team: str) -> list[dict[str, Any]]:
    """The team's entries that progress and the debrief read (not every traffic and window entry)."""
    return store.journal(team, progress.READ_KINDS)


def team_view(store: Store, team: str) -> dict[str, Any]:
    """What ``GET /api/teams`` says of one team."""
    p = progress.progress(relevant(store, team), store.last_day(team))
    rep = store.report(team)
    return {"name": team, **p.as_json(), "lab_state": p.state, "hints_used": len(store.hints_taken(team)),
            "hint_points": hint_points(store, team), "score": rep["score"] if rep else None,
            "max_score": rep["max_score"] if rep else None, "check": rep["check"] if rep else None,
            "last_seen": store.last_seen(team)}


def leaderboard(store: Store) -> list[dict[str, Any]]:
    rows = []
    for team in store.teams():
        rep = store.report(team)
        hp = hint_points(store, team)
        score = float(rep["score"]) if rep else 0.0
        rows.append({"name": team, "score": rep["score"] if rep else None, "max_score": rep["max_score"] if rep else None,
                     "hint_points": hp, "total": round(score - hp, 2), "check": rep["check"] if rep else None,
                     "submitted_at": rep["submitted_at"] if rep else None})
    return sorted(rows, key=lambda r: (-r["total"], r["name"]))


def timeline_row(team: str, entries: list[dict[str, Any]], day: float | None = None) -> dict[str, Any]:
    """A team's row of the SVG timeline."""
    p = progress.progress(entries, day)
    alerts = [float(e["day"]) for e in entries if e.get("kind") == "monitor.alert" and isinstance(e.get("day"), (int, float))]
    return {"name": team, "alerts": alerts, "actions": p.actions, "fired": p.fired, "day": p.day}


def key_for(scenario: Scenario, seed: int, fired: dict[str, float]) -> answer_key.AnswerKey:
    """The answer key of one team's run: events moved to the days they fired in its lab."""
    names = {e.name for e in scenario.timeline.events}
    return answer_key.build(scenario, seed, {k: v for k, v in fired.items() if k in names})


def truth_marks(key: answer_key.AnswerKey) -> list[dict[str, Any]]:
    marks = [{"label": f"{d.event} ({d.type} drift)", "day": d.onset_day} for d in key.drifts]
    if key.bad_release:
        marks.append({"label": f"{key.bad_release.event} (v{key.bad_release.version})", "day": key.bad_release.day})
    return marks


def debrief(store: Store, scenario: Scenario) -> dict[str, Any]:
    """Every team against the answer key; refused (409) until the drill has ended."""
    drill = store.drill()
    if drill.state != "ended":
        raise Conflict(f"the debrief opens when the drill ends (drill {drill.name} is {drill.state})")
    base = key_for(scenario, drill.seed, {})
    teams = []
    for team in store.teams():
        entries = relevant(store, team)
        row = timeline_row(team, entries, store.last_day(team))
        key = key_for(scenario, drill.seed, row["fired"])
        onsets = [d.onset_day for d in key.drifts]
        if key.bad_release is not None:
            onsets.append(key.bad_release.day)
        onset = min(onsets) if onsets else None
        responses = (progress.RELEASE_RESPONSES if key.bad_release is not None and onset == key.bad_release.day
                     else progress.RESPONSES)
        ttd, tta = progress.times(entries, onset, responses)
        rep = store.report(team)
        teams.append({"name": team, "incident_day": onset, "time_to_detect_days": ttd, "time_to_act_days": tta,
                      "actions": row["actions"], "alerts": row["alerts"], "fired": row["fired"], "day": row["day"],
                      "truth": truth_marks(key), "answer_key": key.model_dump(mode="json"),
                      "hints": store.hints_taken(team), "report": rep})
    return {"drill": drill.name, "scenario": drill.scenario, "seed": drill.seed,
            "answer_key": base.model_dump(mode="json"), "truth": truth_marks(base), "teams": teams,
            "leaderboard": leaderboard(store)}
