"""Saved configs are complete: a field missing from one means an edited file, and every
committed run's configs (migrated once when fields were added) load as they are."""

import dataclasses
import json
from pathlib import Path

import pytest

from dbn import FinetuneConfig, TrainConfig
from dbn.training import DBMConfig

RESULTS = Path(__file__).resolve().parents[2] / "results"


@pytest.mark.parametrize("cls, field", [(TrainConfig, "persist"), (DBMConfig, "binarize")])
def test_a_saved_config_missing_any_field_is_refused(cls, field):
    values = cls().to_dict()
    del values[field]
    with pytest.raises(ValueError, match=rf"{cls.__name__} options missing: \['{field}'\]"):
        cls.from_dict(values, complete=True)
    with pytest.raises(ValueError, match=rf"{field} \(None there"):
        cls().check_saved(values, "old.pt")


@pytest.mark.parametrize(
    "cls, field, then",
    [
        (TrainConfig, "rng", "torch"),
        (TrainConfig, "matmul", "mm"),
        (FinetuneConfig, "matmul", "mm"),
    ],
)
def test_a_config_saved_before_a_choice_existed_loads_as_what_ran_then(cls, field, then):
    # the sampling stream and the products' route: what every run before them used
    values = cls().to_dict()
    del values[field]
    assert getattr(cls.from_dict(values, complete=True), field) == then
    cls(**{field: then}).check_saved(values, "old.pt")
    with pytest.raises(ValueError, match=rf"{field} \('{then}' there, 'auto' here\)"):
        cls().check_saved(values, "old.pt")


def nested_configs(value):
    """Every dict in ``value`` (a run's JSON) that holds a TrainConfig's or a DBMConfig's
    fields, with its class."""
    if isinstance(value, dict):
        for cls, marks in (
            (TrainConfig, {"method", "k", "monitor_size"}),
            (DBMConfig, {"gibbs_steps", "mean_field_steps"}),
        ):
            names = {field.name for field in dataclasses.fields(cls)}
            if marks <= set(value) <= names:
                yield cls, value
        for item in value.values():
            yield from nested_configs(item)
    elif isinstance(value, list):
        for item in value:
            yield from nested_configs(item)


def test_every_committed_run_config_loads_complete():
    found = 0
    for path in sorted(RESULTS.rglob("*config*.json")):
        for cls, values in nested_configs(json.loads(path.read_text())):
            cls.from_dict(values, complete=True)
            found += 1
    assert found >= 20
