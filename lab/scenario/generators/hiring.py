"""Resume screening: will a recruiter advance this applicant to an interview?

Generative model (all draws from the caller's ``rng``):

* ``age_band`` ~ Categorical(18-29: .30, 30-39: .33, 40-49: .22, 50+: .15)   (sensitive)
* ``gender`` ~ Categorical(female: .46, male: .51, non_binary: .03)           (sensitive)
* ``education_level`` ~ Categorical(high_school: .20, bachelor: .50, master: .25, phd: .05);
  its index e in 0..3 is used below.
* ``years_experience`` = floor_by_age + Gamma(shape 2.5, scale by age), where the floor is
  0 / 3 / 9 / 15 years and the scale 1.2 / 1.8 / 2.5 / 3.0 by age band, rounded to 0.1.
* ``employment_gap_months``: zero unless a gap occurs with probability
  ``0.20 + 0.12 [female] + 0.08 [50+]`` (career breaks make it a proxy for gender and age);
  then 1 + Exponential(mean 7), rounded down.
* ``num_prior_jobs`` ~ Poisson(0.5 + years_experience / 3.5)
* ``skills_match`` ~ Beta(3 + 0.4 e, 3.2): the CV-to-job-description match score, 0..1.
* ``certifications`` ~ Poisson(0.5 + 0.3 e)
* ``source_channel`` ~ Categorical(job_board: .35, linkedin: .25, career_site: .15,
  agency: .10, employee_referral: .15)
* ``referral`` = 1 for employee_referral, else Bernoulli(.03)

True labelling function (depends on model inputs only, so sensitive attributes act
only through proxies such as the employment gap)::

    logit = intercept + 4.5 (skills_match - 0.5) + 0.11 min(years_experience, 20)
            + 0.35 e + 0.9 referral + 0.12 certifications
            - 0.045 employment_gap_months - 0.12 max(num_prior_jobs - years_experience / 2, 0)
    P(advance) = sigmoid(logit),   intercept = -2.4 by default (about 37% advanced)

Drifted labelling function (concept drift: a new hiring manager values networks and
paper credentials over the skills match, and prefers mid-career applicants; the
advance rate stays about 37%, so only labels-versus-inputs reveal the change)::

    logit' = intercept + 0.2 + 1.8 (skills_match - 0.5) + 0.16 min(years_experience, 8)
             - 0.06 max(years_experience - 12, 0) + 0.05 e + 1.8 referral
             + 0.45 certifications - 0.01 employment_gap_months

>>> import numpy as np
>>> df = HiringGenerator().sample(np.random.default_rng(7), 5)
>>> list(df.columns)[:3]
['years_experience', 'education_level', 'skills_match']
>>> df.equals(HiringGenerator().sample(np.random.default_rng(7), 5))
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.scenario.generators.base import Feature, Generator, categorical, sigmoid
from lab.scenario.generators.support import Support

EDUCATION = ("high_school", "bachelor", "master", "phd")
CHANNELS = ("job_board", "linkedin", "career_site", "agency", "employee_referral")
AGE_BANDS = ("18-29", "30-39", "40-49", "50+")


class HiringGenerator(Generator):
    name = "hiring"
    features = (
        Feature("years_experience", "numeric", "Years of relevant work experience"),
        Feature("education_level", "categorical", "Highest degree", EDUCATION),
        Feature("skills_match", "numeric", "CV-to-job-description match score, 0..1"),
        Feature("num_prior_jobs", "numeric", "Number of previous employers"),
        Feature("employment_gap_months", "numeric", "Longest gap between jobs, in months"),
        Feature("certifications", "numeric", "Number of professional certifications"),
        Feature("referral", "binary", "1 when referred by an employee"),
        Feature("source_channel", "categorical", "Where the application came from", CHANNELS),
    )
    sensitive = (
        Feature("gender", "categorical", "Self-reported gender", ("female", "male", "non_binary")),
        Feature("age_band", "categorical", "Age band", AGE_BANDS),
    )
    defaults = {"intercept": -2.4}
    support = {
        "years_experience": Support(0, decimals=1),
        "skills_match": Support(0, 1, decimals=3),
        "num_prior_jobs": Support(0, decimals=0),
        "employment_gap_months": Support(0, decimals=0),
        "certifications": Support(0, decimals=0),
    }

    def sample_inputs(self, rng: np.random.Generator, n: int) -> pd.DataFrame:
        age = categorical(rng, n, {"18-29": 0.30, "30-39": 0.33, "40-49": 0.22, "50+": 0.15})
        gender = categorical(rng, n, {"female": 0.46, "male": 0.51, "non_binary": 0.03})
        edu = categorical(rng, n, {"high_school": 0.20, "bachelor": 0.50, "master": 0.25, "phd": 0.05})
        e = np.array([EDUCATION.index(x) for x in edu], dtype=float)
        age_idx = np.array([AGE_BANDS.index(a) for a in age], dtype=int)
        floor = np.array([0.0, 3.0, 9.0, 15.0])[age_idx]
        scale = np.array([1.2, 1.8, 2.5, 3.0])[age_idx]
        years = np.round(floor + rng.gamma(2.5, scale), 1)
        p_gap = 0.20 + 0.12 * (gender == "female") + 0.08 * (age == "50+")
        has_gap = rng.random(n) < p_gap
        gap = np.where(has_gap, np.floor(1 + rng.exponential(7.0, n)), 0.0)
        jobs = rng.poisson(0.5 + years / 3.5).astype(float)
        skills = np.round(rng.beta(3 + 0.4 * e, 3.2), 3)
        certs = rng.poisson(0.5 + 0.3 * e).astype(float)
        channel = categorical(
            rng,
            n,
            {"job_board": 0.35, "linkedin": 0.25, "career_site": 0.15, "agency": 0.10, "employee_referral": 0.15},
        )
        referral = np.where(channel == "employee_referral", 1, (rng.random(n) < 0.03).astype(int))
        return pd.DataFrame(
            {
                "years_experience": years,
                "education_level": edu.astype(str),
                "skills_match": skills,
                "num_prior_jobs": jobs,
                "employment_gap_months": gap,
                "certifications": certs,
                "referral": referral.astype(np.int64),
                "source_channel": channel.astype(str),
                "gender": gender.astype(str),
                "age_band": age.astype(str),
            }
        )

    def label_probability(self, X: pd.DataFrame) -> np.ndarray:
        e = X["education_level"].map({c: i for i, c in enumerate(EDUCATION)}).to_numpy(dtype=float)
        years = X["years_experience"].to_numpy(dtype=float)
        logit = (
            self.params["intercept"]
            + 4.5 * (X["skills_match"].to_numpy(dtype=float) - 0.5)
            + 0.11 * np.minimum(years, 20.0)
            + 0.35 * e
            + 0.9 * X["referral"].to_numpy(dtype=float)
            + 0.12 * X["certifications"].to_numpy(dtype=float)
            - 0.045 * X["employment_gap_months"].to_numpy(dtype=float)
            - 0.12 * np.maximum(X["num_prior_jobs"].to_numpy(dtype=float) - years / 2, 0.0)
        )
        return sigmoid(logit)

    def drifted_label_probability(self, X: pd.DataFrame) -> np.ndarray:
        """The new rule concept drift moves towards (see the module docstring)."""
        e = X["education_level"].map({c: i for i, c in enumerate(EDUCATION)}).to_numpy(dtype=float)
        years = X["years_experience"].to_numpy(dtype=float)
        logit = (
            self.params["intercept"]
            + 0.2
            + 1.8 * (X["skills_match"].to_numpy(dtype=float) - 0.5)
            + 0.16 * np.minimum(years, 8.0)
            - 0.06 * np.maximum(years - 12.0, 0.0)
            + 0.05 * e
            + 1.8 * X["referral"].to_numpy(dtype=float)
            + 0.45 * X["certifications"].to_numpy(dtype=float)
            - 0.01 * X["employment_gap_months"].to_numpy(dtype=float)
        )
        return sigmoid(logit)
