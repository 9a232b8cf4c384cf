"""The grading report and its five renderings: terminal table, JSON, HTML, Gradescope, JUnit.

A :class:`Report` holds every item with its raw points, and per skill a score scaled to
the skill's weight (100 split evenly over the skills that apply), so ``total`` is out
of 100. Every rendering is a pure function of the report; only ``graded_at`` differs
between two gradings of the same evidence and submission, so the JSON of a re-grade is
byte-identical apart from that one field.

JSON (``schema_version`` 1)::

    {"schema_version": 1, "total": 71.4, "max_total": 100,
     "skills": {"shadow": {"score": 15.2, "max": 20.0}, ...},
     "items": [{"id", "skill", "title", "points", "max_points", "weighted_points", "weighted_max",
                "passed", "feedback", "evidence", "citation", "details"}, ...],
     "law_as_at": "2026-11-30", "rubric_version": 3, "scenario": "hiring-data-drift", "seed": 7,
     "graded_at": "...", "lab_version": "0.1.0", "problems": [...], "submission": {...}, "evidence": {...}}
"""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.grading.items import SKILLS, Item

SCHEMA_VERSION = 1
MAX_TOTAL = 100.0
SKILL_TITLES = {"shadow": "Shadow deployment", "rollback": "Rollback", "gates": "Release gate", "canary": "Canary release",
                "retraining": "Retraining", "observability": "Business and system observability", "drift_thresholds": "Drift thresholds",
                "model_card": "Model card", "pmm_runbook": "Post-market monitoring runbook",
                "datasheet": "Datasheet for the training data"}


@dataclass(frozen=True)
class SkillScore:
    skill: str
    score: float  # scaled to ``weight``
    max: float  # == weight
    points: float  # raw, clamped at 0
    max_points: float  # raw
    applicable: bool = True
    note: str = ""


@dataclass(frozen=True)
class Report:
    scenario: str
    seed: int
    total: float
    skills: dict[str, SkillScore]
    items: list[Item]
    law_as_at: str
    rubric_version: int
    graded_at: str
    lab_version: str
    problems: list[dict[str, Any]] = field(default_factory=list)
    submission: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def weight_of(self, item: Item) -> float:
        s = self.skills.get(item.skill)
        if s is None or not s.applicable or s.max_points <= 0:
            return 0.0
        return s.max / s.max_points

    def to_dict(self) -> dict[str, Any]:
        items = []
        for i in self.items:
            d = i.to_dict()
            w = self.weight_of(i)
            d["weighted_points"] = round(i.points * w, 4)
            d["weighted_max"] = round(i.max_points * w, 4)
            items.append(d)
        return {
            "schema_version": self.schema_version,
            "total": self.total,
            "max_total": MAX_TOTAL,
            "skills": {k: {"score": v.score, "max": v.max, "points": v.points, "max_points": v.max_points,
                           "applicable": v.applicable, "note": v.note} for k, v in self.skills.items()},
            "items": items,
            "law_as_at": self.law_as_at,
            "rubric_version": self.rubric_version,
            "scenario": self.scenario,
            "seed": self.seed,
            "graded_at": self.graded_at,
            "lab_version": self.lab_version,
            "problems": self.problems,
            "submission": self.submission,
            "evidence": self.evidence,
        }


def build_report(items: list[Item], skills: list[str], **meta: Any) -> Report:
    """Scale each skill to an equal share of 100 (skills with nothing to grade are left out)."""
    raw: dict[str, tuple[float, float]] = {}
    for skill in skills:
        mine = [i for i in items if i.skill == skill]
        raw[skill] = (max(0.0, sum(i.points for i in mine)), sum(i.max_points for i in mine))
    applicable = [s for s in skills if raw[s][1] > 0]
    weight = MAX_TOTAL / len(applicable) if applicable else 0.0
    scores: dict[str, SkillScore] = {}
    for skill in skills:
        pts, mx = raw[skill]
        if mx <= 0:
            scores[skill] = SkillScore(skill, 0.0, 0.0, 0.0, 0.0, applicable=False,
                                       note="not applicable in this run; its weight went to the other skills")
            continue
        pts = min(pts, mx)
        scores[skill] = SkillScore(skill, round(weight * pts / mx, 2), round(weight, 2), round(pts, 4), round(mx, 4))
    total = round(sum(s.score for s in scores.values()), 2)
    order = {s: k for k, s in enumerate(SKILLS)}
    items = sorted(items, key=lambda i: order.get(i.skill, 99))  # stable: graders' own order within a skill
    return Report(total=total, skills=scores, items=items, **meta)


# --------------------------------------------------------------------------- JSON


def report_from_dict(data: dict[str, Any]) -> Report:
    """The report :meth:`Report.to_dict` wrote (a JSON report read back; the grading endpoint's answer).

    Round-trips: ``to_json(report_from_dict(json.loads(to_json(r)))) == to_json(r)``.
    """
    item_fields = ("id", "skill", "title", "points", "max_points", "feedback", "evidence", "citation", "details")
    items = [Item(**{k: d[k] for k in item_fields if k in d}) for d in data["items"]]
    skills = {k: SkillScore(skill=k, score=v["score"], max=v["max"], points=v["points"], max_points=v["max_points"],
                            applicable=v["applicable"], note=v["note"]) for k, v in data["skills"].items()}
    return Report(scenario=data["scenario"], seed=data["seed"], total=data["total"], skills=skills, items=items,
                  law_as_at=data["law_as_at"], rubric_version=data["rubric_version"], graded_at=data["graded_at"],
                  lab_version=data["lab_version"], problems=list(data.get("problems") or []),
                  submission=dict(data.get("submission") or {}), evidence=dict(data.get("evidence") or {}),
                  schema_version=data.get("schema_version", SCHEMA_VERSION))




def to_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


# --------------------------------------------------------------------------- terminal


def _first_sentence(text: str, limit: int = 110) -> str:
    text = " ".join(text.split())
    cut = text.find(". ")
    if 0 < cut < limit:
        return text[: cut + 1]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def print_table(report: Report, console: Any = None, *, items: bool = True) -> None:
    """A Rich table per skill and per item (first sentence of the feedback)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    t = Table(title=f"{report.scenario} (seed {report.seed}): {report.total:.1f} / {MAX_TOTAL:.0f}",
              title_justify="left")
    t.add_column("skill")
    t.add_column("score", justify="right")
    t.add_column("max", justify="right")
    for k, s in report.skills.items():
        t.add_row(SKILL_TITLES.get(k, k), f"{s.score:.1f}" if s.applicable else "n/a", f"{s.max:.1f}")
    console.print(t)
    if items:
        it = Table(show_lines=False, title="items", title_justify="left")
        it.add_column("", width=1)
        it.add_column("item", no_wrap=True)
        it.add_column("points", justify="right", no_wrap=True)
        it.add_column("feedback", overflow="fold")
        for i in report.items:
            if i.max_points == 0 and i.points == 0 and "Not applicable" in i.feedback:
                mark = Text("·", style="dim")
            else:
                mark = Text("✓", style="green") if i.passed else Text("✗", style="red")
            it.add_row(mark, Text(i.id), Text(f"{i.points:.1f}/{i.max_points:.1f}"), Text(_first_sentence(i.feedback)))
        console.print(it)
    for p in report.problems:
        console.print(Text(f"submission: {p.get('file') or ''}{':' + str(p['line']) if p.get('line') else ''} "
                           f"{p['message']}", style="yellow"))
    console.print(Text(f"pmm_runbook rubric v{report.rubric_version}, law as at {report.law_as_at}", style="dim"))


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:72rem;color:#1b1f24;
padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
.meta{color:#57606a}.total{font-size:2.4rem;font-weight:700}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #d0d7de;padding:.35rem .5rem;
vertical-align:top;text-align:left}th{background:#f6f8fa}td.num{text-align:right;white-space:nowrap}
.pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:600}.na{color:#57606a}
.ev{color:#57606a;font-size:.9em}.id{font-family:ui-monospace,monospace;font-size:.9em;white-space:nowrap}
.bar{background:#eaeef2;height:.6rem;border-radius:.3rem;min-width:6rem}.bar>span{display:block;height:100%;
background:#2da44e;border-radius:.3rem}.problems li{color:#9a6700}
"""


def to_html(report: Report) -> str:
    """A self-contained page: inline CSS, no scripts, no external assets; every user string escaped."""
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
           f"<title>prodml-lab grade: {e(report.scenario)}</title><style>{_CSS}</style></head><body>",
           f"<h1>prodml-lab grade: {e(report.scenario)}</h1>",
           f'<p class="meta">seed {report.seed} · graded {e(report.graded_at)} · lab {e(report.lab_version)} · '
           f"pmm_runbook rubric v{report.rubric_version}, law as at {e(report.law_as_at)}</p>",
           f'<p><span class="total">{report.total:.1f}</span> / {MAX_TOTAL:.0f}</p>',
           "<table><tr><th>skill</th><th>score</th><th>max</th><th></th></tr>"]
    for k, s in report.skills.items():
        pct = 100 * s.score / s.max if s.max else 0
        out.append(f"<tr><td>{e(SKILL_TITLES.get(k, k))}</td><td class=num>"
                   f"{f'{s.score:.1f}' if s.applicable else 'n/a'}</td><td class=num>{s.max:.1f}</td>"
                   f'<td><div class="bar"><span style="width:{pct:.0f}%"></span></div></td></tr>')
    out.append("</table>")
    if report.problems:
        out.append('<h2>Submission problems</h2><ul class="problems">')
        for p in report.problems:
            where = (p.get("file") or "submission") + (f":{p['line']}" if p.get("line") else "")
            out.append(f"<li><b>{e(where)}</b>: {e(p['message'])}</li>")
        out.append("</ul>")
    for k, s in report.skills.items():
        out.append(f"<h2>{e(SKILL_TITLES.get(k, k))}: {s.score:.1f} / {s.max:.1f}</h2>")
        if s.note:
            out.append(f'<p class="na">{e(s.note)}</p>')
        out.append("<table><tr><th></th><th>item</th><th>points</th><th>feedback</th><th>citation</th></tr>")
        for i in (i for i in report.items if i.skill == k):
            cls, mark = ("pass", "✓") if i.passed else ("fail", "✗")
            if i.max_points == 0 and i.points == 0 and "Not applicable" in i.feedback:
                cls, mark = "na", "·"
            ev = f'<div class="ev">evidence: {e(i.evidence)}</div>' if i.evidence else ""
            out.append(f'<tr><td class="{cls}">{mark}</td><td><div>{e(i.title)}</div><div class="id">{e(i.id)}</div>'
                       f"</td><td class=num>{i.points:.2f} / {i.max_points:.2f}</td><td>{e(i.feedback)}{ev}</td>"
                       f"<td>{e(i.citation or '')}</td></tr>")
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- Gradescope


def to_gradescope(report: Report) -> dict[str, Any]:
    """Gradescope's results.json: ``score`` (the total), one test per item scaled to its skill's weight."""
    tests = []
    for i in report.items:
        w = report.weight_of(i)
        output = i.feedback + (f"\nEvidence: {i.evidence}" if i.evidence else "") + \
            (f"\nCitation: {i.citation}" if i.citation else "")
        tests.append({"name": f"{SKILL_TITLES.get(i.skill, i.skill)}: {i.title}", "number": i.id,
                      "score": round(i.points * w, 4), "max_score": round(i.max_points * w, 4),
                      "status": "passed" if i.passed else "failed", "output": output, "tags": [i.skill, i.id],
                      "visibility": "visible"})
    lines = [f"{report.scenario} (seed {report.seed}): {report.total:.1f} / {MAX_TOTAL:.0f}"]
    lines += [f"{SKILL_TITLES.get(k, k)}: {s.score:.1f} / {s.max:.1f}" for k, s in report.skills.items()]
    lines += [f"Submission: {p['file'] or ''} {p['message']}" for p in report.problems]
    lines.append(f"pmm_runbook rubric v{report.rubric_version}, law as at {report.law_as_at}")
    return {"score": report.total, "output": "\n".join(lines), "tests": tests, "visibility": "visible",
            "stdout_visibility": "hidden"}


# --------------------------------------------------------------------------- JUnit


_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(text: str) -> str:
    """Text XML 1.0 can hold (control characters from a submission would make the file unparseable)."""
    return _NOT_XML.sub("\ufffd", text)


def to_junit(report: Report) -> str:
    """JUnit XML: a testsuite per skill, a testcase per item, a <failure> for every item not passed."""
    root = ET.Element("testsuites", name="prodml-lab", tests=str(len(report.items)),
                      failures=str(sum(not i.passed for i in report.items)))
    for k, s in report.skills.items():
        mine = [i for i in report.items if i.skill == k]
        suite = ET.SubElement(root, "testsuite", name=k, tests=str(len(mine)),
                              failures=str(sum(not i.passed for i in mine)), errors="0", skipped="0")
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="score", value=f"{s.score:.2f}")
        ET.SubElement(props, "property", name="max", value=f"{s.max:.2f}")
        for i in mine:
            case = ET.SubElement(suite, "testcase", classname=f"lab.grading.{k}", name=_x(f"{i.id}: {i.title}"),
                                 time="0")
            if not i.passed:
                failure = ET.SubElement(case, "failure", message=f"{i.points:.2f}/{i.max_points:.2f} points",
                                        type="grade")
                failure.text = _x(i.feedback)
            out = ET.SubElement(case, "system-out")
            out.text = _x(f"{i.points:.2f}/{i.max_points:.2f} points. {i.feedback}"
                          + (f"\nEvidence: {i.evidence}" if i.evidence else "")
                          + (f"\nCitation: {i.citation}" if i.citation else ""))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# --------------------------------------------------------------------------- files


def write_outputs(report: Report, *, json_path: Path | None = None, html_path: Path | None = None,
                  gradescope_path: Path | None = None, junit_path: Path | None = None) -> list[Path]:
    written = []
    for path, text in ((json_path, lambda: to_json(report)), (html_path, lambda: to_html(report)),
                       (gradescope_path, lambda: json.dumps(to_gradescope(report), indent=2, sort_keys=True,
                                                            ensure_ascii=False) + "\n"),
                       (junit_path, lambda: to_junit(report))):
        if path is None:
            continue
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text(), encoding="utf-8")
        written.append(p)
    return written
