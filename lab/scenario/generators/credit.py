"""Consumer credit: will this borrower default on the loan within a year?

Agrawal-style applicants (Agrawal, Imielinski & Swami 1993: salary, commission, age,
education level, car, zipcode, house value, years owned, loan), made a little more
lifelike and given a probabilistic default rule. All draws come from the caller's
``rng``.

Generative model:

* ``gender`` ~ Categorical(female: .49, male: .51)                               (sensitive)
* ``age`` = 21 + floor(Gamma(shape 2.2, scale 9)), capped at 85, in whole years.
* ``age_band`` is derived from ``age`` (21-24, 25-34, 35-49, 50-64, 65+)         (sensitive)
* ``education_level`` ~ Categorical(secondary: .30, vocational: .22, bachelor: .30,
  master: .14, doctorate: .04); its index e in 0..4 is used below (Agrawal's elevel).
* ``employment_years`` (with the current employer) = floor(min(age - 21, Gamma(1.6, 4.5)))
* ``salary`` (yearly, EUR) = exp(N(log 26,000 + 0.18 e + 0.35 (1 - exp(-(age - 21) / 12))
  - 0.08 [female], 0.38)), rounded to 100 (the pay gap makes income a proxy for gender).
* ``commission``: only when salary < 75,000 (as in Agrawal), with probability .35,
  then Uniform(2,000, 30,000) rounded to 100; else 0.
* ``owns_car`` ~ Bernoulli(.45 + .25 [salary > 40,000])
* ``region`` ~ Categorical(capital: .18, large_city: .22, suburb: .22, town: .18,
  rural: .12, coastal: .08) (Agrawal's zipcode: it sets house prices; it is also a
  classic proxy for ethnicity, so watch it in fairness reviews).
* home ownership ~ Bernoulli(sigmoid(-2.2 + 0.07 (age - 21) + 0.6 log(salary / 30,000)));
  ``house_value`` = 150,000 x region price factor (2.2, 1.6, 1.3, 1.0, 0.7, 1.4)
  x Uniform(0.6, 1.4), rounded to 1,000, and ``years_owned`` ~ UniformInt(1,
  max(1, min(30, age - 21))); both 0 for non-owners.
* ``loan_amount`` = salary x exp(N(log 0.35, 0.55)), rounded to 100, within 1,000..250,000.
* ``debt_to_income`` ~ Beta(2, 7): existing monthly debt payments over gross income.

Raw ``age`` is a model input (as in Agrawal and many scorecards); the sensitive
attribute for fairness slices is the derived ``age_band``, which is not an input.

True default rule (thousands of EUR; income = salary + commission; equity =
house_value x min(years_owned, 25) / 25 / 2)::

    disposable = 2/3 income (1 - debt_to_income) - loan_amount / 4 - 15
    logit = intercept - 0.06 disposable - 0.004 equity - 0.05 min(employment_years, 15)
            - 0.12 e + 0.4 [age < 25]
    P(default) = sigmoid(logit),   intercept = -1.55 by default (about 10% default)

Economic shock (``drifted_label_probability``, the concept drift: an Agrawal function
switch from disposable income to loan burden, as rates rise and commissions dry up;
inputs do not move, and the default rate rises to about 19%)::

    burden = 2/3 income - loan_amount / 2.5 - 20
    logit' = intercept + 0.2 - 0.045 burden + 3.0 (debt_to_income - 0.22)
             + 0.6 [commission > 0] - 0.002 equity - 0.02 min(employment_years, 15)

>>> import numpy as np
>>> df = CreditGenerator().sample(np.random.default_rng(7), 5)
>>> list(df.columns)[:3]
['age', 'education_level', 'employment_years']
>>> df.equals(CreditGenerator().sample(np.random.default_rng(7), 5))
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.scenario.generators.base import Feature, Generator, categorical, sigmoid
from lab.scenario.generators.support import Support

EDUCATION = ("secondary", "vocational", "bachelor", "master", "doctorate")
REGIONS = ("capital", "large_city", "suburb", "town", "rural", "coastal")
AGE_BANDS = ("21-24", "25-34", "35-49", "50-64", "65+")
_PRICE_FACTOR = np.array([2.2, 1.6, 1.3, 1.0, 0.7, 1.4])


def age_band(age: np.ndarray) -> np.ndarray:
    """Band of each age, as in :data:`AGE_BANDS`."""
    idx = np.searchsorted(np.array([25, 35, 50, 65]), np.asarray(age), side="right")
    return np.asarray(AGE_BANDS, dtype=object)[idx]


class CreditGenerator(Generator):
    name = "credit"
    features = (
        Feature("age", "numeric", "Age in whole years"),
        Feature("education_level", "categorical", "Highest education", EDUCATION),
        Feature("employment_years", "numeric", "Years with the current employer"),
        Feature("salary", "numeric", "Yearly gross salary, EUR"),
        Feature("commission", "numeric", "Yearly commission income, EUR"),
        Feature("owns_car", "binary", "1 when the applicant owns a car"),
        Feature("region", "categorical", "Region of residence", REGIONS),
        Feature("house_value", "numeric", "Value of the owned home, EUR (0: not an owner)"),
        Feature("years_owned", "numeric", "Years the home has been owned (0: not an owner)"),
        Feature("loan_amount", "numeric", "Requested loan, EUR"),
        Feature("debt_to_income", "numeric", "Existing monthly debt payments / gross income"),
    )
    sensitive = (
        Feature("gender", "categorical", "Gender", ("female", "male")),
        Feature("age_band", "categorical", "Age band, derived from age", AGE_BANDS),
    )
    defaults = {"intercept": -1.55}
    support = {
        "age": Support(18, 100, decimals=0),
        "employment_years": Support(0, 80, decimals=0),
        "salary": Support(0, decimals=-2),
        "commission": Support(0, decimals=-2),
        "house_value": Support(0, decimals=-3),
        "years_owned": Support(0, 80, decimals=0),
        "loan_amount": Support(1000, 250_000, decimals=-2),
        "debt_to_income": Support(0, 1, decimals=3),
    }

    def sample_inputs(self, rng: np.random.Generator, n: int) -> pd.DataFrame:
        gender = categorical(rng, n, {"female": 0.49, "male": 0.51})
        age = np.minimum(21 + np.floor(rng.gamma(2.2, 9.0, n)), 85.0)
        edu = categorical(
            rng, n, {"secondary": 0.30, "vocational": 0.22, "bachelor": 0.30, "master": 0.14, "doctorate": 0.04}
        )
        e = np.array([EDUCATION.index(x) for x in edu], dtype=float)
        employment = np.floor(np.minimum(age - 21, rng.gamma(1.6, 4.5, n)))
        log_salary = (
            np.log(26_000) + 0.18 * e + 0.35 * (1 - np.exp(-(age - 21) / 12)) - 0.08 * (gender == "female")
        )
        salary = np.round(np.exp(rng.normal(log_salary, 0.38)), -2)
        has_commission = (salary < 75_000) & (rng.random(n) < 0.35)
        commission = np.where(has_commission, np.round(rng.uniform(2_000, 30_000, n), -2), 0.0)
        owns_car = (rng.random(n) < 0.45 + 0.25 * (salary > 40_000)).astype(np.int64)
        region = categorical(
            rng, n, {"capital": 0.18, "large_city": 0.22, "suburb": 0.22, "town": 0.18, "rural": 0.12, "coastal": 0.08}
        )
        factor = _PRICE_FACTOR[np.array([REGIONS.index(r) for r in region], dtype=np.int64)]
        owner = rng.random(n) < sigmoid(-2.2 + 0.07 * (age - 21) + 0.6 * np.log(salary / 30_000))
        house = np.where(owner, np.round(150_000 * factor * rng.uniform(0.6, 1.4, n), -3), 0.0)
        max_years = np.maximum(1, np.minimum(30, age - 21))
        years_owned = np.where(owner, np.floor(1 + rng.random(n) * max_years), 0.0)
        loan = np.clip(np.round(salary * np.exp(rng.normal(np.log(0.35), 0.55, n)), -2), 1_000, 250_000)
        dti = np.round(rng.beta(2.0, 7.0, n), 3)
        return pd.DataFrame(
            {
                "age": age,
                "education_level": edu.astype(str),
                "employment_years": employment,
                "salary": salary,
                "commission": commission,
                "owns_car": owns_car,
                "region": region.astype(str),
                "house_value": house,
                "years_owned": years_owned,
                "loan_amount": loan,
                "debt_to_income": dti,
                "gender": gender.astype(str),
                "age_band": age_band(age).astype(str),
            }
        )

    @staticmethod
    def _terms(X: pd.DataFrame) -> dict[str, np.ndarray]:
        col = {c: X[c].to_numpy(dtype=float) for c in ("salary", "commission", "house_value", "years_owned")}
        return {
            "income": (col["salary"] + col["commission"]) / 1000,
            "loan": X["loan_amount"].to_numpy(dtype=float) / 1000,
            "equity": col["house_value"] / 1000 * np.minimum(col["years_owned"], 25) / 25 / 2,
            "dti": X["debt_to_income"].to_numpy(dtype=float),
            "employment": np.minimum(X["employment_years"].to_numpy(dtype=float), 15),
            "e": X["education_level"].map({c: i for i, c in enumerate(EDUCATION)}).to_numpy(dtype=float),
            "young": (X["age"].to_numpy(dtype=float) < 25).astype(float),
            "commissioned": (col["commission"] > 0).astype(float),
        }

    def label_probability(self, X: pd.DataFrame) -> np.ndarray:
        t = self._terms(X)
        disposable = 2 / 3 * t["income"] * (1 - t["dti"]) - t["loan"] / 4 - 15
        logit = (
            self.params["intercept"]
            - 0.06 * disposable
            - 0.004 * t["equity"]
            - 0.05 * t["employment"]
            - 0.12 * t["e"]
            + 0.4 * t["young"]
        )
        return sigmoid(logit)

    def drifted_label_probability(self, X: pd.DataFrame) -> np.ndarray:
        """The economic-shock default rule (see the module docstring)."""
        t = self._terms(X)
        burden = 2 / 3 * t["income"] - t["loan"] / 2.5 - 20
        logit = (
            self.params["intercept"]
            + 0.2
            - 0.045 * burden
            + 3.0 * (t["dti"] - 0.22)
            + 0.6 * t["commissioned"]
            - 0.002 * t["equity"]
            - 0.02 * t["employment"]
        )
        return sigmoid(logit)
