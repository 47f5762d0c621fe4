"""Configs saved by earlier versions: a field added later, whose default does what those
runs did, may be absent; every other field may not."""

import pytest

from dbn import TrainConfig


def saved_before_persist() -> dict:
    """A PCD TrainConfig as runs wrote it before ``persist`` existed."""
    values = TrainConfig(method="pcd", lr=0.05).to_dict()
    del values["persist"]
    return values


def test_a_config_saved_before_a_later_field_is_complete_and_holds_its_default():
    config = TrainConfig.from_dict(saved_before_persist(), complete=True)
    assert config.persist == "visible" and config.lr == 0.05
    TrainConfig(method="pcd", lr=0.05).check_saved(saved_before_persist(), "old.pt")


def test_a_later_fields_default_is_what_the_old_run_did_and_nothing_else():
    with pytest.raises(ValueError, match=r"persist \('visible' there, 'hidden' here\)"):
        TrainConfig(method="pcd", lr=0.05, persist="hidden").check_saved(
            saved_before_persist(), "old.pt"
        )


def test_any_other_missing_field_means_an_edited_file():
    values = saved_before_persist()
    del values["lr"]
    with pytest.raises(ValueError, match=r"TrainConfig options missing: \['lr'\]"):
        TrainConfig.from_dict(values, complete=True)


def test_dbm_runs_saved_before_label_units_and_the_codes_schedule_still_resume():
    from dbn.training import DBMConfig

    values = DBMConfig(epochs=3).to_dict()
    for name in ("lr_schedule", "lr_divisor", "binarize"):
        del values[name]
    config = DBMConfig.from_dict(values, complete=True)
    assert (config.lr_schedule, config.binarize) == ("linear", False)
    DBMConfig(epochs=3).check_saved(values, "old.pt")
    with pytest.raises(ValueError, match="binarize"):
        DBMConfig(epochs=3, binarize=True).check_saved(values, "old.pt")
    old = TrainConfig().to_dict()
    del old["binarize"]
    assert TrainConfig.from_dict(old, complete=True).binarize is False
