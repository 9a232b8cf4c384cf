"""The facts of a run's training data, for grading ``datasheet.md``: recomputed from the seeded rows.

Every version's training set is the scenario's rows of ``train_days`` (see
:mod:`lab.scenario.data`: the same rows training read, whoever asks), so its size, its
collection window and its base rates (share of ``label == 1``) overall and per sensitive
group follow from the scenario and the seed alone. Training days are before deployment,
so no drift event (and no ``lab inject``) changes them. The evidence collector freezes
these facts into the bundle (``training_data.json``); the grader recomputes them for
bundles written before that.

>>> from lab.scenario.schema import load_scenario, resolve
>>> scenario, _ = resolve(load_scenario("hiring-data-drift"), 7)
>>> facts = training_data_facts(scenario, 7)
>>> v1 = facts.version(1)
>>> v1.rows, v1.train_days, facts.label_delay_days, facts.sensitive_attributes
(30000, (-60, -10), 3.0, ('gender', 'age_band'))
>>> sorted(v1.group_base_rates["age_band"])
['18-29', '30-39', '40-49', '50plus']
"""

from __future__ import annotations

import sys

from typing import TYPE_CHECKING

from lab.core.frozen import Frozen
from lab.scenario.generators import generator_class

if TYPE_CHECKING:
    from lab.scenario.schema import Scenario

#: 1: the first layout (bundle file ``training_data.json``).
FACTS_SCHEMA = 1


class VersionData(Frozen):
    """The training set of one registered version (versions register in the scenario's order)."""

    version: int
    role: str
    train_days: tuple[int, int]  # [first, last) scenario days
    rows: int
    positives: int
    base_rate: float
    group_base_rates: dict[str, dict[str, float]]  # attr -> group (as logged: "50plus") -> share of label 1
    group_rows: dict[str, dict[str, int]] = {}


class TrainingData(Frozen):
    """What a datasheet of the run's training data is checked against."""

    schema_version: int = FACTS_SCHEMA
    scenario: str
    seed: int
    domain: str = ""
    generator: str
    question: str  # what the label answers, from the generator ("will a recruiter advance ...?")
    features: tuple[str, ...]
    sensitive_attributes: tuple[str, ...]
    label: str = "label"
    label_delay_days: float
    rows_per_day: int
    reference_days: tuple[int, int]
    eval_days: tuple[int, int]
    eval_rows: int
    versions: tuple[VersionData, ...]

    def version(self, n: int | None) -> VersionData | None:
        return next((v for v in self.versions if v.version == n), None)


def _question(generator: type) -> str:
    doc = getattr(sys.modules.get(generator.__module__), "__doc__", None) or ""
    first = doc.strip().splitlines()[0] if doc.strip() else ""
    return first.split(":", 1)[1].strip() if ":" in first else first


def training_data_facts(scenario: Scenario, seed: int) -> TrainingData:
    """The facts of every version's training set, from the seeded rows (about a second per scenario)."""
    # heavy: keep off the start-up path (pandas, scikit-learn); the bundle's reader needs only the models above
    from lab.scenario.data import days_frame
    from lab.scenario.models import metric_key

    gen = generator_class(scenario.generator.name)
    sensitive = tuple(gen.sensitive_names())
    frames: dict[tuple[int, int], VersionData] = {}
    versions = []
    for n, spec in enumerate(scenario.model.versions, start=1):
        days = (int(spec.train_days[0]), int(spec.train_days[1]))
        if days not in frames:
            df = days_frame(scenario, seed, days)
            y = df[gen.target]
            rates: dict[str, dict[str, float]] = {}
            sizes: dict[str, dict[str, int]] = {}
            for attr in sensitive:
                rates[attr], sizes[attr] = {}, {}
                for group, part in df.groupby(attr, sort=True):
                    key = metric_key(str(group))
                    rates[attr][key] = round(float(part[gen.target].mean()), 6)
                    sizes[attr][key] = int(len(part))
            frames[days] = VersionData(version=0, role="", train_days=days, rows=int(len(df)),
                                       positives=int(y.sum()), base_rate=round(float(y.mean()), 6),
                                       group_base_rates=rates, group_rows=sizes)
        versions.append(frames[days].model_copy(update={"version": n, "role": spec.role}))
    eval_days = (int(scenario.model.eval_days[0]), int(scenario.model.eval_days[1]))
    return TrainingData(
        scenario=scenario.id, seed=int(seed), domain=scenario.domain, generator=gen.name, question=_question(gen),
        features=tuple(gen.feature_names()), sensitive_attributes=sensitive, label=gen.target,
        label_delay_days=float(scenario.timeline.label_delay_days), rows_per_day=scenario.traffic.rows_per_day,
        reference_days=(int(scenario.reference_days[0]), int(scenario.reference_days[1])), eval_days=eval_days,
        eval_rows=(eval_days[1] - eval_days[0]) * scenario.traffic.rows_per_day, versions=tuple(versions),
    )
