"""Every registered generator: seeded, valid, and with the documented populations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lab.scenario.drift import ConceptDriftable, reference
from lab.scenario.generators import GENERATORS, generator_class
from lab.scenario.generators.base import Generator
from lab.scenario.generators.credit import AGE_BANDS, CreditGenerator, age_band

N = 20_000

#: (base prior, drifted-rule prior) as the module docstrings state them.
DOCUMENTED_RATES = {"hiring": (0.37, 0.37), "credit": (0.10, 0.19), "churn": (0.22, 0.27)}


@pytest.fixture(scope="module", params=sorted(GENERATORS))
def generator(request: pytest.FixtureRequest) -> Generator:
    return GENERATORS[request.param]()


@pytest.fixture(scope="module")
def sample(generator: Generator) -> pd.DataFrame:
    return generator.sample(np.random.default_rng(2024), N)


def test_registry_holds_the_three_domains() -> None:
    assert set(GENERATORS) >= {"hiring", "credit", "churn"}
    assert generator_class("credit") is CreditGenerator


def test_same_seed_same_rows_different_seed_different_rows(generator: Generator) -> None:
    a = generator.sample(np.random.default_rng(5), 500)
    assert a.equals(type(generator)().sample(np.random.default_rng(5), 500))
    assert not a.equals(generator.sample(np.random.default_rng(6), 500))


def test_no_global_randomness(generator: Generator) -> None:
    np.random.seed(1)
    a = generator.sample(np.random.default_rng(5), 200)
    np.random.seed(2)
    assert a.equals(generator.sample(np.random.default_rng(5), 200))


def test_columns_are_features_then_sensitive_then_label(generator: Generator, sample: pd.DataFrame) -> None:
    assert list(sample.columns) == [*generator.feature_names(), *generator.sensitive_names(), "label"]
    assert not set(generator.sensitive_names()) & set(generator.feature_names())
    assert len(set(generator.feature_names())) == len(generator.features)


def test_values_are_valid(generator: Generator, sample: pd.DataFrame) -> None:
    assert not sample.isna().any().any()
    for f in (*generator.features, *generator.sensitive):
        col = sample[f.name]
        if f.kind == "numeric":
            assert f.name in generator.support, f"{f.name} declares no support"  # type: ignore[attr-defined]
            assert generator.support[f.name].contains(col.to_numpy()), f.name  # type: ignore[attr-defined]
        elif f.kind == "binary":
            assert set(col.unique()) <= {0, 1} and col.dtype == np.int64, f.name
        else:
            assert f.categories is not None and set(col.unique()) <= set(f.categories), f.name
            assert col.nunique() >= 2, f.name
    assert set(sample["label"].unique()) == {0, 1}


def test_labelling_functions_see_model_inputs_only(generator: Generator, sample: pd.DataFrame) -> None:
    assert isinstance(generator, ConceptDriftable)
    rng = np.random.default_rng(0)
    scrambled = sample.copy()
    for s in generator.sensitive_names():
        scrambled[s] = rng.permutation(scrambled[s].to_numpy())
    for rule in (generator.label_probability, generator.drifted_label_probability):
        p = rule(sample)
        assert ((p > 0) & (p < 1)).all()
        assert np.array_equal(p, rule(scrambled))


def test_documented_rates(generator: Generator, sample: pd.DataFrame) -> None:
    base, drifted = DOCUMENTED_RATES[generator.name]
    assert reference(generator).prior == pytest.approx(base, abs=0.015)
    assert generator.drifted_label_probability(sample).mean() == pytest.approx(drifted, abs=0.015)
    assert sample["label"].mean() == pytest.approx(base, abs=0.02)


def test_the_drifted_rule_is_a_different_rule(generator: Generator, sample: pd.DataFrame) -> None:
    p0, p1 = generator.label_probability(sample), generator.drifted_label_probability(sample)
    assert np.mean(np.abs(p0 - p1)) > 0.05
    assert np.corrcoef(p0, p1)[0, 1] < 0.9


def test_intercept_moves_the_base_rate(generator: Generator, sample: pd.DataFrame) -> None:
    lower = type(generator)(intercept=generator.params["intercept"] - 1.0)
    assert lower.label_probability(sample).mean() < generator.label_probability(sample).mean() - 0.03


def test_credit_age_band_is_derived_from_age() -> None:
    df = CreditGenerator().sample(np.random.default_rng(3), 5000)
    assert (df["age_band"] == age_band(df["age"].to_numpy())).all()
    assert set(df["age_band"]) == set(AGE_BANDS)
    assert "age" in CreditGenerator.feature_names() and "age" not in CreditGenerator.sensitive_names()
    assert list(age_band(np.array([21, 24, 25, 34, 35, 49, 50, 64, 65, 85]))) == [
        "21-24", "21-24", "25-34", "25-34", "35-49", "35-49", "50-64", "50-64", "65+", "65+"
    ]


def test_credit_commission_only_below_75k() -> None:
    df = CreditGenerator().sample(np.random.default_rng(3), 20_000)
    assert (df.loc[df.salary >= 75_000, "commission"] == 0).all()
    owners = df.house_value > 0
    assert ((df.years_owned > 0) == owners).all()
