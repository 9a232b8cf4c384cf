"""Serving's side of the shadow and the shadow service's log reading (pure, no server)."""

from __future__ import annotations

import json

from lab.serving.follower import ShadowConfig
from lab.serving.requestlog import RequestLog, merged, shadow_log_path
from lab.serving.shadow import ShadowGate, sampled, snapshot_for
from lab.serving.shadow_service import read_marked


def _request(rid, version, **extra):
    return {"kind": "request", "id": rid, "time": 1.0, "day": 0.5, "status": 200, "shadow_version": version,
            "inputs": {"x": [1.0, 2.0]}, **extra}


def test_sampling_is_by_request_id_and_matches_the_share():
    ids = [f"r-{i}" for i in range(5000)]
    share = sum(sampled(i, 30) for i in ids) / len(ids)
    assert 0.27 < share < 0.33
    assert [sampled(i, 30) for i in ids[:50]] == [sampled(i, 30) for i in ids[:50]]  # the same id, the same answer


def test_read_marked_skips_unmarked_lines_and_cut_lines_and_resumes_at_its_offset(tmp_path):
    path = tmp_path / "requests.jsonl"
    log = RequestLog(path)
    log.write(_request("a", None))
    log.write(_request("b", 2))
    log.write({"kind": "request", "id": "c", "status": 500, "shadow_version": None})
    log.write(_request("d", 3))
    with open(path, "a") as f:
        f.write('{"kind":"request","id":"e","shadow_version":2,"inp')  # still being written
    lines, offset = read_marked(path, 0)
    assert [(x.id, x.version) for x in lines] == [("b", 2), ("d", 3)]
    assert lines[0].inputs == {"x": [1.0, 2.0]} and lines[-1].end == offset
    assert read_marked(path, offset) == ([], offset)  # the cut line waits until it is whole
    with open(path, "a") as f:
        f.write('uts":{"x":[3]},"time":2.0}\n')
    more, end = read_marked(path, offset)
    assert [x.id for x in more] == ["e"] and end == path.stat().st_size
    assert read_marked(tmp_path / "absent.jsonl", 0) == ([], 0)


def test_merged_joins_the_shadow_log_by_request_id(tmp_path):
    path = tmp_path / "requests.jsonl"
    RequestLog(path).write(_request("a", 2))
    RequestLog(path).write(_request("b", None))
    RequestLog(shadow_log_path(path)).write({"kind": "shadow", "id": "a", "shadow_version": 2,
                                             "shadow_status": "ok", "shadow_prediction": [0.1, 0.2]})
    recs = {r["id"]: r for r in merged(path)}
    assert recs["a"]["shadow_status"] == "ok" and recs["a"]["shadow_prediction"] == [0.1, 0.2]
    assert "shadow_status" not in recs["b"] and len(recs) == 2


def test_the_gate_marks_requests_only_once_the_shadow_service_warmed_up_for_that_shadow(tmp_path):
    state = tmp_path / "state.json"
    counted = []
    gate = ShadowGate(state, lambda v, s, n: counted.append((v, s, n)))
    try:
        gate.configure(ShadowConfig(2, 100.0, None))
        assert gate.decide("r1") is None and gate.snapshot()["state"] == "warming"  # no state file yet
        state.write_text(json.dumps({"version": 2, "percent": 100.0, "fault": None, "state": "warming",
                                     "warmed": False, "statuses": {}}))
        gate._refresh()
        assert gate.decide("r1") is None
        state.write_text(json.dumps({"version": 2, "percent": 100.0, "fault": None, "state": "ready",
                                     "warmed": True, "statuses": {"ok": 3}, "offset": 10}))
        gate._refresh()
        assert gate.decide("r1") == 2 and gate.snapshot()["state"] == "ready" and "offset" not in gate.snapshot()
        assert counted == [(2, "ok", 3)]
        gate.configure(ShadowConfig(3, 100.0, None))  # a new shadow: warming again until the service says so
        assert gate.decide("r1") is None and gate.snapshot()["version"] == 3
        gate.configure(ShadowConfig(None, 100.0, None))
        assert gate.decide("r1") is None and gate.snapshot() is None
    finally:
        gate.close()


def test_a_snapshot_names_the_shadow_the_registry_names():
    state = {"version": 2, "percent": 50.0, "fault": "error", "state": "crash_loop", "warmed": True}
    assert snapshot_for(ShadowConfig(2, 50.0, "error"), state)["state"] == "crash_loop"
    assert snapshot_for(ShadowConfig(2, 100.0, None), state)["state"] == "warming"


def test_a_restarted_shadow_resumes_after_its_last_logged_line_and_ends_a_cut_line(tmp_path):
    from lab.serving.shadow_service import last_logged_offset

    path = tmp_path / "shadow.jsonl"
    assert last_logged_offset(path) == 0
    log = RequestLog(path)
    log.write({"kind": "shadow", "id": "a", "log_offset": 120})
    log.write({"kind": "shadow", "id": "b", "log_offset": 240})
    with open(path, "a") as f:
        f.write('{"kind":"shadow","id":"c","log_of')  # killed mid-write
    assert last_logged_offset(path) == 240
    assert path.read_text().endswith("\n")  # the next line starts on a line of its own
    RequestLog(path).write({"kind": "shadow", "id": "d", "log_offset": 360})
    assert last_logged_offset(path) == 360
