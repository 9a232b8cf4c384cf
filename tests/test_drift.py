"""The drift engine: each kind of drift changes only its half of the joint distribution.

Statistical checks run on 40,000-row days with fixed seeds, so they are repeatable;
the base frame always comes from a different seed than the drifted one, so an
unchanged marginal is a real two-sample result, not the same rows twice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lab.scenario.drift import Stream, intensity, reference, tilt_categories
from tests.drift_checks import (
    calibration_problems,
    check_concept_drift,
    check_covariate_drift,
    check_label_drift,
)
from lab.scenario.generators import GENERATORS
from lab.scenario.generators.base import Generator
from lab.scenario.generators.hiring import HiringGenerator
from lab.scenario.schema import ConceptDriftEvent, DataDriftEvent, DeployEvent, LabelDriftEvent, load_scenario

N = 40_000
DAY = 20

#: One numeric and one categorical or binary feature per generator.
DRIFTED = {
    "hiring": ["years_experience", "source_channel", "referral"],
    "credit": ["loan_amount", "region", "owns_car"],
    "churn": ["monthly_charges", "contract", "paperless_billing"],
}


def data_event(features: list[str], magnitude: float = 1.0, day: float = 5, width: float = 0) -> DataDriftEvent:
    return DataDriftEvent(
        name="shift", type="data_drift", day=day, features=features, magnitude=magnitude, width_days=width
    )


def concept_event(magnitude: float = 0.8, day: float = 5, width: float = 0) -> ConceptDriftEvent:
    return ConceptDriftEvent(name="rule", type="concept_drift", day=day, magnitude=magnitude, width_days=width)


def label_event(magnitude: float = 0.12, day: float = 5, width: float = 0) -> LabelDriftEvent:
    return LabelDriftEvent(name="prior", type="label_drift", day=day, magnitude=magnitude, width_days=width)


def base_frame(generator: Generator) -> pd.DataFrame:
    return Stream(generator, [], seed=101).day(DAY, N)


@pytest.fixture(scope="module", params=sorted(GENERATORS))
def generator(request: pytest.FixtureRequest) -> Generator:
    return GENERATORS[request.param]()


@pytest.fixture(scope="module")
def base(generator: Generator) -> pd.DataFrame:
    return base_frame(generator)


# ------------------------------------------------------------------ intensity


def test_abrupt_intensity_is_a_step() -> None:
    e = concept_event(day=10)
    assert [intensity(e, t) for t in (0, 9, 9.999, 10, 11, 100)] == [0, 0, 0, 1, 1, 1]


def test_gradual_intensity_is_a_monotone_sigmoid_centred_on_the_onset() -> None:
    e = concept_event(day=10, width=6)
    ts = np.linspace(-20, 40, 241)
    values = [intensity(e, t) for t in ts]
    assert all(0 <= v <= 1 for v in values)
    assert all(b >= a for a, b in zip(values, values[1:]))
    assert intensity(e, 10) == pytest.approx(0.5)
    assert intensity(e, 7) == pytest.approx(0.1192, abs=1e-4)
    assert intensity(e, 13) == pytest.approx(0.8808, abs=1e-4)
    assert intensity(e, -1e6) == 0 and intensity(e, 1e6) == 1


# ------------------------------------------------------------------ determinism


def test_same_seed_gives_identical_frames_in_any_order() -> None:
    events = [data_event(["skills_match"]), concept_event(), label_event()]
    a = Stream(HiringGenerator(), events, seed=5)
    b = Stream(HiringGenerator(), events, seed=5)
    first = a.day(12, 2000)
    b.day(3, 100)  # consuming another day does not disturb day 12
    assert first.equals(b.day(12, 2000))
    assert first.equals(a.day(12, 2000))


@pytest.mark.parametrize("change", ["seed", "stream_id", "day"])
def test_different_seed_stream_or_day_differ(change: str) -> None:
    events = [data_event(["skills_match"]), label_event()]
    ref = Stream(HiringGenerator(), events, seed=5, stream_id=0).day(12, 500)
    other = {
        "seed": lambda: Stream(HiringGenerator(), events, seed=6).day(12, 500),
        "stream_id": lambda: Stream(HiringGenerator(), events, seed=5, stream_id=1).day(12, 500),
        "day": lambda: Stream(HiringGenerator(), events, seed=5).day(13, 500).assign(day=12),
    }[change]()
    assert not ref.equals(other)


def test_negative_days_are_distinct_replayable_history() -> None:
    s = Stream(HiringGenerator(), [], seed=5)
    past = s.day(-3, 300)
    assert (past["day"] == -3).all()
    assert past.equals(s.day(-3, 300))
    assert not past.drop(columns="day").equals(s.day(3, 300).drop(columns="day"))


def test_frame_layout(generator: Generator) -> None:
    df = Stream(generator, [], seed=1).day(0, 10)
    assert list(df.columns) == [*generator.feature_names(), *generator.sensitive_names(), "label", "day"]
    assert df["label"].dtype == np.int64 and df["day"].dtype == np.int64
    assert Stream(generator, [], seed=1).day(0, 0).empty


# ------------------------------------------------------------------ covariate drift


def test_covariate_drift_moves_only_its_features_and_keeps_the_labelling_function(
    generator: Generator, base: pd.DataFrame
) -> None:
    features = DRIFTED[generator.name]
    drifted = Stream(generator, [data_event(features)], seed=202).day(DAY, N)
    assert check_covariate_drift(base, drifted, generator, features) == []


def test_numeric_shift_is_magnitude_reference_stds() -> None:
    g = HiringGenerator()
    std = reference(g).std["years_experience"]
    before = Stream(g, [data_event(["years_experience"], 0.7)], seed=3).day(4, N)  # before the onset
    after = Stream(g, [data_event(["years_experience"], 0.7)], seed=4).day(5, N)
    delta = after.years_experience.mean() - before.years_experience.mean()
    se = np.sqrt(2 / N) * std
    assert abs(delta - 0.7 * std) < 4 * se


def test_categorical_tilt_follows_the_exponential_tilt() -> None:
    g = HiringGenerator()
    ref = reference(g)
    cats, q = ref.categories["education_level"], ref.frequencies["education_level"]
    drifted = Stream(g, [data_event(["education_level"], 0.8)], seed=9).day(DAY, N)
    k = np.arange(len(cats))
    z = (k - q @ k) / np.sqrt(q @ (k - q @ k) ** 2)
    expected = q * np.exp(0.8 * z) / (q * np.exp(0.8 * z)).sum()
    observed = drifted.education_level.value_counts(normalize=True).reindex(cats).to_numpy()
    assert np.allclose(observed, expected, atol=4 * np.sqrt(0.25 / N))


def test_binary_tilt_moves_log_odds() -> None:
    values = np.array([0, 1] * 20_000, dtype=np.int64)
    moved = tilt_categories(values, (0, 1), np.array([0.5, 0.5]), 0.5, np.random.default_rng(0))
    assert moved.dtype == np.int64 and set(np.unique(moved)) == {0, 1}
    assert moved.mean() == pytest.approx(1 / (1 + np.exp(-1.0)), abs=0.01)  # log-odds + shift / sd = +1


def test_shifted_values_stay_physically_valid(generator: Generator) -> None:
    numeric = [f.name for f in generator.features if f.kind == "numeric"]
    frame = Stream(generator, [data_event(numeric, 3.0)], seed=1).day(DAY, 20_000)
    for col in numeric:
        assert generator.support[col].contains(frame[col].to_numpy()), col
    assert HiringGenerator.support["skills_match"].high == 1.0


def test_small_shifts_of_counts_survive_rounding() -> None:
    """0.1 std of a count is well under one job, yet the mean moves (stochastic rounding)."""
    g = HiringGenerator()
    std = reference(g).std["num_prior_jobs"]
    after = Stream(g, [data_event(["num_prior_jobs"], 0.1)], seed=1).day(DAY, N)
    before = Stream(g, [], seed=2).day(DAY, N)
    assert (after.num_prior_jobs == after.num_prior_jobs.round()).all()
    delta = after.num_prior_jobs.mean() - before.num_prior_jobs.mean()
    assert abs(delta - 0.1 * std) < 4 * np.sqrt(2 / N) * std


# ------------------------------------------------------------------ concept drift


def test_concept_drift_keeps_inputs_and_moves_p_y_given_x(generator: Generator, base: pd.DataFrame) -> None:
    stream = Stream(generator, [concept_event(0.8)], seed=303)
    drifted = stream.day(DAY, N)
    expected = stream.label_probability(drifted, DAY)
    assert check_concept_drift(base, drifted, generator, expected) == []
    # spelled out: calibration against the old rule fails, against the mixed one passes
    assert calibration_problems(drifted["label"].to_numpy(), generator.label_probability(drifted), "p0")
    assert not calibration_problems(drifted["label"].to_numpy(), expected, "mixed")


def test_concept_weight_is_magnitude_times_intensity() -> None:
    g = HiringGenerator()
    s = Stream(g, [concept_event(0.6, day=10, width=4)], seed=1)
    X = s.day(10, 1000)
    p0, p1 = g.label_probability(X), g.drifted_label_probability(X)
    assert np.allclose(s.label_probability(X, 10), 0.7 * p0 + 0.3 * p1)
    assert np.allclose(s.label_probability(X, -1000), p0)


# ------------------------------------------------------------------ label drift


@pytest.mark.parametrize("magnitude", [0.12, -0.06])
def test_label_drift_moves_the_prior_and_keeps_p_x_given_y(
    generator: Generator, base: pd.DataFrame, magnitude: float
) -> None:
    stream = Stream(generator, [label_event(magnitude)], seed=404)
    drifted = stream.day(DAY, N)
    expected_prior = reference(generator).prior + magnitude
    assert check_label_drift(base, drifted, generator, expected_prior) == []
    assert calibration_problems(drifted["label"].to_numpy(), stream.label_probability(drifted, DAY), "posterior") == []


def test_gradual_label_drift_is_half_way_at_onset() -> None:
    g = HiringGenerator()
    s = Stream(g, [label_event(0.2, day=10, width=4)], seed=7)
    assert s.label_shift(10) == pytest.approx(0.1)
    frame = s.day(10, N)
    prior = reference(g).prior + 0.1
    assert abs(frame.label.mean() - prior) < 4 * np.sqrt(prior * (1 - prior) / N)


def test_events_compose_in_the_stated_order() -> None:
    g = HiringGenerator()
    events = [data_event(["skills_match", "source_channel"], 0.8), concept_event(0.5), label_event(0.1)]
    s = Stream(g, events, seed=8)
    frame = s.day(DAY, N)
    before = s.prior_before_label_drift(DAY)
    assert before != pytest.approx(reference(g).prior, abs=0.01)  # data + concept drift moved it
    target = before + 0.1
    assert abs(frame.label.mean() - target) < 4 * np.sqrt(target * (1 - target) / N)
    assert calibration_problems(frame["label"].to_numpy(), s.label_probability(frame, DAY), "composed") == []
    assert frame.skills_match.mean() > base_frame(g).skills_match.mean() + 0.1


# ------------------------------------------------------------------ broken injectors are caught


def broken_concept_day(generator: Generator, seed: int, n: int, weight: float) -> tuple[pd.DataFrame, np.ndarray]:
    """Mixes the rules correctly but also nudges an input: not a pure concept drift."""
    rng = np.random.default_rng(seed)
    X = generator.sample_inputs(rng, n)
    X["skills_match"] = np.clip(X["skills_match"] + 0.04, 0, 1).round(3)
    p = (1 - weight) * generator.label_probability(X) + weight * generator.drifted_label_probability(X)
    X["label"] = (rng.random(n) < p).astype(np.int64)
    return X, p


def broken_label_day(generator: Generator, seed: int, n: int, prior: float) -> pd.DataFrame:
    """Hits the new prior by relabelling random negatives: P(x | y=1) changes."""
    rng = np.random.default_rng(seed)
    frame = generator.sample(rng, n)
    negatives = np.flatnonzero(frame["label"].to_numpy() == 0)
    flip = rng.choice(negatives, size=int(prior * n) - int(frame["label"].sum()), replace=False)
    frame.loc[flip, "label"] = 1
    return frame


def test_a_concept_injector_that_shifts_inputs_is_flagged() -> None:
    g = HiringGenerator()
    drifted, p = broken_concept_day(g, 5, N, 0.8)
    problems = check_concept_drift(base_frame(g), drifted, g, p)
    assert any(pr.startswith("skills_match: marginal changed") for pr in problems), problems


def test_a_label_injector_that_changes_p_x_given_y_is_flagged() -> None:
    g = HiringGenerator()
    prior = reference(g).prior + 0.12
    problems = check_label_drift(base_frame(g), broken_label_day(g, 5, N, prior), g, prior)
    assert not any(pr.startswith("positive rate") for pr in problems)  # the prior itself is right
    assert any("skills_match | y=1" in pr for pr in problems), problems


def test_checks_notice_when_nothing_drifted() -> None:
    g = HiringGenerator()
    base = base_frame(g)
    same = Stream(g, [], seed=202).day(DAY, N)
    assert [p.split(" (")[0] for p in check_covariate_drift(base, same, g, ["skills_match"])] == [
        "skills_match: marginal did not move"
    ]
    assert "P(y|x) did not move: labels are still calibrated to p0" in check_concept_drift(
        base, same, g, g.label_probability(same)
    )
    assert any(p.startswith("positive rate") for p in check_label_drift(base, same, g, reference(g).prior + 0.1))


# ------------------------------------------------------------------ errors name the event and the valid values


def unchecked(cls: type, **fields: object) -> object:
    """An event built without the schema's validation, as a bad caller could pass it."""
    return cls.model_construct(**{"day": 1, "width_days": 0, **fields})


def test_unknown_feature_is_rejected_with_the_valid_names() -> None:
    bad = unchecked(DataDriftEvent, name="pool", type="data_drift", features=["skills", "gender"], magnitude=1.0)
    message = r"event 'pool' \(data_drift\) drifts unknown feature\(s\) skills, gender; .* has: .*skills_match"
    with pytest.raises(ValueError, match=message):
        Stream(HiringGenerator(), [bad])  # type: ignore[list-item]


D, C, L = DataDriftEvent, ConceptDriftEvent, LabelDriftEvent


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (unchecked(D, name="d", type="data_drift", features=["skills_match"], magnitude=0.0),
         r"event 'd' \(data_drift\): magnitude .* must be > 0, got 0"),
        (unchecked(D, name="d", type="data_drift", features=["skills_match"], magnitude=-1.0),
         r"must be > 0, got -1"),
        (unchecked(C, name="c", type="concept_drift", magnitude=1.5),
         r"event 'c' \(concept_drift\): magnitude .* \(0, 1\]"),
        (unchecked(L, name="l", type="label_drift", magnitude=0.0),
         r"event 'l' \(label_drift\): magnitude .* non-zero"),
        (unchecked(C, name="c", type="concept_drift", magnitude=0.5, width_days=-2),
         r"event 'c' \(concept_drift\): width_days must be >= 0"),
    ],
)
def test_invalid_magnitudes_are_rejected(event: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Stream(HiringGenerator(), [event])  # type: ignore[list-item]


def test_label_drift_beyond_the_unit_interval_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"label_drift event\(s\) 'a', 'b' move the positive rate .* must lie in"):
        Stream(HiringGenerator(), [label_event(0.4).model_copy(update={"name": "a"}),
                                   label_event(0.3).model_copy(update={"name": "b"})])


def test_non_drift_events_are_rejected_and_from_scenario_skips_them() -> None:
    with pytest.raises(ValueError, match=r"event 'deploy' has type 'deploy'; .*data_drift, concept_drift, label_drift"):
        Stream(HiringGenerator(), [DeployEvent(name="deploy", type="deploy", day=0)])  # type: ignore[list-item]
    stream = Stream.from_scenario(load_scenario("hiring-data-drift"), seed=1)
    assert [e.type for e in stream.events] == ["data_drift"]


def test_concept_drift_needs_a_drifted_rule() -> None:
    class Plain(HiringGenerator):
        name = "plain"
        drifted_label_probability = None  # type: ignore[assignment]

    with pytest.raises(ValueError, match="generator 'plain' has no drifted_label_probability"):
        Stream(Plain(), [concept_event()])


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"seed": -1}, "seed"), ({"seed": 1.5}, "seed"), ({"stream_id": -2}, "stream_id")]
)
def test_bad_seeds_are_rejected(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Stream(HiringGenerator(), [], **kwargs)  # type: ignore[arg-type]


def test_bad_day_arguments_are_rejected() -> None:
    s = Stream(HiringGenerator(), [])
    with pytest.raises(ValueError, match="n must be"):
        s.day(1, -5)
    with pytest.raises(ValueError, match="day must be an integer"):
        s.day(1.5, 5)  # type: ignore[arg-type]
