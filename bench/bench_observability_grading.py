"""How long the observability grader takes: the hidden replay of business: and system:, cold and warm.

    .venv/bin/python bench/bench_observability_grading.py [--runs 3]

Plants a kpi-silent-failure evidence bundle the way the grading tests do
(:func:`tests.grading_evidence.build_evidence`) and the planted sound submission of
``tests/test_observability_grading.py`` (monitoring.yaml with both sections, and an
observability.md). Then, in this one process:

(a) cold: the first grade (trains the scenario's champion, draws the eight business streams
    at the live rate, replays them and the six system streams, reads the document);
(b) warm: the same grade again, the median of ``--runs`` (the grading endpoint keeps the
    trained champion and the streams between submits, as this process does);
(c) another config on the warm streams (a candidate who changed a bound), median of ``--runs``;
(d) the replay alone, warm, and the document grader alone, each the median of ``--runs``.

Figures depend on the machine's load (printed): compare runs made side by side.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    from lab.evidence.submission import read_submission
    from lab.grading.drift_grader import grading_seed
    from lab.grading.observability_doc import Kpi, ObservabilityFacts, grade_observability_doc
    from lab.grading.observability_grader import grade_observability
    from lab.monitoring.config import load_monitoring_config
    from lab.monitoring.observability_replay import replay_observability
    from tests.grading_evidence import Drill, build_evidence
    from tests.test_observability_grading import GOOD_DOC, KPIS, SCENARIO, SOUND

    tmp = Path(tempfile.mkdtemp(prefix="bench-obs-"))
    ev = build_evidence(tmp, Drill(scenario=SCENARIO, shadow_version=None, promote_version=None, rollback_to=None,
                                   rollback_reason=None))

    def submission(name: str, config: str):
        folder = tmp / name / "sub"
        folder.mkdir(parents=True)
        (folder / "monitoring.yaml").write_text(config)
        (folder / "observability.md").write_text(GOOD_DOC)
        return read_submission(folder, work_dir=tmp)

    def timed(fn) -> float:
        t = time.perf_counter()
        fn()
        return time.perf_counter() - t

    sound = submission("sound", SOUND)
    print(f"load average before: {os.getloadavg()[0]:.2f} (2-core machine: compare runs side by side)")
    cold = timed(lambda: grade_observability(ev, sound))
    warm = statistics.median(timed(lambda: grade_observability(ev, sound)) for _ in range(args.runs))
    changed = []
    for i in range(args.runs):
        sub = submission(f"other{i}", SOUND.replace("max_rise: 0.012", f"max_rise: 0.01{5 + i}"))
        changed.append(timed(lambda: grade_observability(ev, sub)))
    config = load_monitoring_config(SOUND, kpis=KPIS)
    seed = grading_seed(ev.seed, SCENARIO)  # the grader's streams, drawn by (a)
    replay = statistics.median(timed(lambda: replay_observability(config, ev.scenario, seed))
                               for _ in range(args.runs))

    facts = ObservabilityFacts(kpis=(Kpi("approved_default_rate", "share of approved loans that default",
                                         "lower_is_better"),), label_delay_days=4, segment_columns=("region",),
                               slo_p99_ms=300.0, slo_error_rate=0.01)
    doc = statistics.median(timed(lambda: grade_observability_doc(GOOD_DOC, facts)) for _ in range(args.runs))
    print(f"(a) cold grade (champion trained, streams drawn): {cold:.1f} s")
    print(f"(b) warm grade, same submission: {warm:.2f} s")
    print(f"(c) warm grade, a changed bound: {statistics.median(changed):.2f} s")
    print(f"(d) replay alone (warm): {replay:.2f} s; observability.md alone: {doc * 1000:.0f} ms")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
