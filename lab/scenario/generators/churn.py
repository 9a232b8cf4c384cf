"""Telecom churn: will this subscriber cancel within the next month?

A mobile-and-broadband operator's customer base, loosely after the public Telco churn
data. All draws come from the caller's ``rng``; ``a`` is the age band's index 0..4.

Generative model:

* ``age_band`` ~ Categorical(18-24: .12, 25-34: .22, 35-49: .30, 50-64: .22, 65+: .14)
  (sensitive)
* ``region`` ~ Categorical(urban: .45, suburban: .35, rural: .20)            (sensitive)
* ``tenure_months`` = min(72, floor(Gamma(0.9, 20 + 5 a)))
* ``contract`` ~ softmax over (month_to_month, one_year, two_year) of
  (0, -1.6 + 0.03 tenure, -2.6 + 0.05 tenure)
* ``internet_service`` ~ Categorical by region (none / dsl / fiber): urban .10/.30/.60,
  suburban .15/.40/.45, rural .25/.55/.20 (so fibre is a proxy for region)
* ``data_usage_gb`` (per month) = exp(N(log 12 + 0.8 [fiber] - 0.25 a, 0.7)), or
  exp(N(log 3 - 0.25 a, 0.7)) without home internet; rounded to 0.1 GB.
* ``num_lines`` = 1 + Poisson(0.6)
* ``monthly_charges`` = 20 + 25 [dsl] + 45 [fiber] + 0.35 min(data_usage_gb, 100)
  + 8 (num_lines - 1) + N(0, 6), within 15..250, rounded to cents.
* ``support_calls`` (last 90 days) ~ Poisson(0.6 + 0.5 [fiber] + 0.3 [65+])
* ``payment_method`` ~ Categorical(electronic_check .33, credit_card .22,
  bank_transfer .22, mailed_check .23), with mailed cheques tilted towards older
  customers (weight x exp(0.35 (a - 2))).
* ``paperless_billing`` ~ Bernoulli(.75 - .08 a)

True churn rule (inputs only; age and region act through proxies such as payment
method and fibre)::

    logit = intercept + 1.1 [month_to_month] - 1.3 [two_year] - 0.035 min(tenure, 60)
            + 0.28 support_calls + 0.018 (monthly_charges - 65) + 0.45 [electronic_check]
            + 0.25 paperless_billing + 0.3 [fiber] - 0.12 (num_lines - 1)
    P(churn) = sigmoid(logit),   intercept = -1.9 by default (about 22% churn)

Drifted rule (``drifted_label_probability``: a competitor launches a cheap fibre
bundle with unlimited data; price and heavy data use drive churn, support calls and
loyalty matter less; the churn rate rises to about 27%)::

    logit' = intercept + 1.0 [month_to_month] - 0.8 [two_year] - 0.015 min(tenure, 60)
             + 0.1 support_calls + 0.04 (monthly_charges - 65)
             + 0.5 log1p(data_usage_gb / 10) + 0.6 [fiber] + 0.2 [electronic_check] - 0.3

>>> import numpy as np
>>> df = ChurnGenerator().sample(np.random.default_rng(7), 5)
>>> list(df.columns)[:3]
['tenure_months', 'contract', 'monthly_charges']
>>> df.equals(ChurnGenerator().sample(np.random.default_rng(7), 5))
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.scenario.generators.base import Feature, Generator, categorical, sigmoid
from lab.scenario.generators.support import Support

AGE_BANDS = ("18-24", "25-34", "35-49", "50-64", "65+")
REGIONS = ("urban", "suburban", "rural")
CONTRACTS = ("month_to_month", "one_year", "two_year")
INTERNET = ("none", "dsl", "fiber")
PAYMENT = ("electronic_check", "credit_card", "bank_transfer", "mailed_check")
_INTERNET_BY_REGION = np.array([[0.10, 0.30, 0.60], [0.15, 0.40, 0.45], [0.25, 0.55, 0.20]])


def _draw_rows(rng: np.random.Generator, probs: np.ndarray, labels: tuple[str, ...]) -> np.ndarray:
    """One category per row from a row-wise probability matrix (rows sum to 1)."""
    u = rng.random(len(probs))[:, None]
    idx = np.minimum((u > np.cumsum(probs, axis=1)).sum(axis=1), len(labels) - 1)
    return np.asarray(labels, dtype=object)[idx]


class ChurnGenerator(Generator):
    name = "churn"
    features = (
        Feature("tenure_months", "numeric", "Months since the customer joined"),
        Feature("contract", "categorical", "Contract type", CONTRACTS),
        Feature("monthly_charges", "numeric", "Monthly bill, EUR"),
        Feature("internet_service", "categorical", "Home internet product", INTERNET),
        Feature("data_usage_gb", "numeric", "Data used per month, GB"),
        Feature("num_lines", "numeric", "Mobile lines on the account"),
        Feature("support_calls", "numeric", "Calls to customer support in the last 90 days"),
        Feature("payment_method", "categorical", "How the bill is paid", PAYMENT),
        Feature("paperless_billing", "binary", "1 when billed electronically"),
    )
    sensitive = (
        Feature("age_band", "categorical", "Age band", AGE_BANDS),
        Feature("region", "categorical", "Settlement type", REGIONS),
    )
    defaults = {"intercept": -1.9}
    support = {
        "tenure_months": Support(0, 72, decimals=0),
        "monthly_charges": Support(15, 250, decimals=2),
        "data_usage_gb": Support(0, decimals=1),
        "num_lines": Support(1, 20, decimals=0),
        "support_calls": Support(0, decimals=0),
    }

    def sample_inputs(self, rng: np.random.Generator, n: int) -> pd.DataFrame:
        age = categorical(rng, n, {"18-24": 0.12, "25-34": 0.22, "35-49": 0.30, "50-64": 0.22, "65+": 0.14})
        region = categorical(rng, n, {"urban": 0.45, "suburban": 0.35, "rural": 0.20})
        a = np.array([AGE_BANDS.index(x) for x in age], dtype=float)
        r = np.array([REGIONS.index(x) for x in region], dtype=np.int64)
        tenure = np.minimum(72.0, np.floor(rng.gamma(0.9, 20 + 5 * a)))
        z = np.stack([np.zeros(n), -1.6 + 0.03 * tenure, -2.6 + 0.05 * tenure], axis=1)
        contract = _draw_rows(rng, np.exp(z) / np.exp(z).sum(axis=1, keepdims=True), CONTRACTS)
        internet = _draw_rows(rng, _INTERNET_BY_REGION[r], INTERNET)
        fiber = (internet == "fiber").astype(float)
        dsl = (internet == "dsl").astype(float)
        log_usage = np.where(internet == "none", np.log(3.0), np.log(12.0) + 0.8 * fiber) - 0.25 * a
        usage = np.round(np.exp(rng.normal(log_usage, 0.7)), 1)
        lines = 1.0 + rng.poisson(0.6, n)
        charges = 20 + 25 * dsl + 45 * fiber + 0.35 * np.minimum(usage, 100) + 8 * (lines - 1) + rng.normal(0, 6, n)
        charges = np.round(np.clip(charges, 15, 250), 2)
        calls = rng.poisson(0.6 + 0.5 * fiber + 0.3 * (a == 4)).astype(float)
        w = np.tile(np.array([0.33, 0.22, 0.22, 0.23]), (n, 1))
        w[:, 3] *= np.exp(0.35 * (a - 2))
        payment = _draw_rows(rng, w / w.sum(axis=1, keepdims=True), PAYMENT)
        paperless = (rng.random(n) < 0.75 - 0.08 * a).astype(np.int64)
        return pd.DataFrame(
            {
                "tenure_months": tenure,
                "contract": contract.astype(str),
                "monthly_charges": charges,
                "internet_service": internet.astype(str),
                "data_usage_gb": usage,
                "num_lines": lines,
                "support_calls": calls,
                "payment_method": payment.astype(str),
                "paperless_billing": paperless,
                "age_band": age.astype(str),
                "region": region.astype(str),
            }
        )

    @staticmethod
    def _terms(X: pd.DataFrame) -> dict[str, np.ndarray]:
        contract = X["contract"].to_numpy()
        return {
            "m2m": (contract == "month_to_month").astype(float),
            "two_year": (contract == "two_year").astype(float),
            "tenure": np.minimum(X["tenure_months"].to_numpy(dtype=float), 60),
            "calls": X["support_calls"].to_numpy(dtype=float),
            "charges": X["monthly_charges"].to_numpy(dtype=float) - 65,
            "echeck": (X["payment_method"].to_numpy() == "electronic_check").astype(float),
            "paperless": X["paperless_billing"].to_numpy(dtype=float),
            "fiber": (X["internet_service"].to_numpy() == "fiber").astype(float),
            "extra_lines": X["num_lines"].to_numpy(dtype=float) - 1,
            "usage": X["data_usage_gb"].to_numpy(dtype=float),
        }

    def label_probability(self, X: pd.DataFrame) -> np.ndarray:
        t = self._terms(X)
        logit = (
            self.params["intercept"]
            + 1.1 * t["m2m"]
            - 1.3 * t["two_year"]
            - 0.035 * t["tenure"]
            + 0.28 * t["calls"]
            + 0.018 * t["charges"]
            + 0.45 * t["echeck"]
            + 0.25 * t["paperless"]
            + 0.3 * t["fiber"]
            - 0.12 * t["extra_lines"]
        )
        return sigmoid(logit)

    def drifted_label_probability(self, X: pd.DataFrame) -> np.ndarray:
        """The churn rule after a competitor's launch (see the module docstring)."""
        t = self._terms(X)
        logit = (
            self.params["intercept"]
            + 1.0 * t["m2m"]
            - 0.8 * t["two_year"]
            - 0.015 * t["tenure"]
            + 0.1 * t["calls"]
            + 0.04 * t["charges"]
            + 0.5 * np.log1p(t["usage"] / 10)
            + 0.6 * t["fiber"]
            + 0.2 * t["echeck"]
            - 0.3
        )
        return sigmoid(logit)
