import pickle
import re

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from helpers import load_script
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.neural_network import BernoulliRBM
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import check_estimator

from dbn.io import CheckpointError
from dbn.sklearn import DBNClassifier, RBMTransformer

# BernoulliRBM is excused from the same two checks in scikit-learn's own test suite:
# score_samples flips one random unit per row, so a row's score depends on its position.
RBM_EXPECTED_FAILURES = {
    "check_methods_subset_invariance": "score_samples flips a random unit per row",
    "check_methods_sample_order_invariance": "score_samples flips a random unit per row",
}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.25, random_state=0)


def test_rbm_transformer_passes_check_estimator():
    check_estimator(
        RBMTransformer(n_components=8, n_iter=2, random_state=0),
        expected_failed_checks=RBM_EXPECTED_FAILURES,
    )


def test_dbn_classifier_passes_check_estimator():
    check_estimator(
        DBNClassifier(
            hidden_layer_sizes=(32,),
            pretrain_epochs=2,
            epochs=50,
            batch_size=20,
            learning_rate=0.5,
            random_state=0,
        )
    )


def test_transform_equals_bernoulli_rbm_with_the_same_weights(digits):
    X_train, X_test, _, _ = digits
    ours = RBMTransformer(n_components=20, n_iter=3, random_state=0).fit(X_train)
    theirs = BernoulliRBM(n_components=20, n_iter=1, random_state=0).fit(X_train)
    theirs.components_ = ours.components_.copy()
    theirs.intercept_hidden_ = ours.intercept_hidden_.copy()
    theirs.intercept_visible_ = ours.intercept_visible_.copy()
    np.testing.assert_allclose(ours.transform(X_test), theirs.transform(X_test), rtol=1e-12)
    # and the pseudo-likelihood agrees in expectation (both flip one random unit per row)
    assert ours.score_samples(X_test).mean() == pytest.approx(
        theirs.score_samples(X_test).mean(), rel=0.15
    )


def test_pipeline_matches_bernoulli_rbm_on_digits():
    # Both transformers return float32 features for the example's float32 data, and the
    # logistic regression after them (C = 6000) moves by about half a point between
    # seeds: ours must come within one point of scikit-learn's.
    example = load_script("rbm_digits_pipeline_example")
    X_train, X_test, y_train, y_test = example.digits_split()
    scores = {
        name: pipeline.fit(X_train, y_train).score(X_test, y_test)
        for name, pipeline in example.pipelines().items()
    }
    assert scores["dbn RBMTransformer"] >= scores["scikit-learn BernoulliRBM"] - 0.01, scores


def test_dbn_classifier_beats_logistic_regression_on_raw_pixels(digits):
    X_train, X_test, y_train, y_test = digits
    baseline = LogisticRegression(max_iter=2000).fit(X_train, y_train).score(X_test, y_test)
    model = DBNClassifier(
        hidden_layer_sizes=(256,),
        pretrain_epochs=20,
        pretrain_lr=0.05,
        epochs=60,
        batch_size=20,
        learning_rate=0.1,
        random_state=0,
    )
    accuracy = model.fit(X_train, y_train).score(X_test, y_test)
    assert accuracy > baseline, (accuracy, baseline)


def test_classifier_handles_arbitrary_labels_and_probabilities(digits):
    X_train, X_test, y_train, _ = digits
    labels = np.array(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    )
    model = DBNClassifier(
        hidden_layer_sizes=(32,), pretrain_epochs=2, epochs=10, random_state=0
    ).fit(X_train, labels[y_train])
    assert set(model.classes_) == set(labels)
    probabilities = model.predict_proba(X_test)
    np.testing.assert_allclose(probabilities.sum(1), 1.0)
    assert set(model.predict(X_test)) <= set(labels)


def test_pickle_round_trip_and_continued_partial_fit(digits):
    X_train, X_test, _, _ = digits
    rbm = RBMTransformer(n_components=16, n_iter=2, random_state=0).fit(X_train)
    restored = pickle.loads(pickle.dumps(rbm))
    np.testing.assert_array_equal(restored.transform(X_test), rbm.transform(X_test))
    rbm.partial_fit(X_train)
    restored.partial_fit(X_train)
    np.testing.assert_array_equal(restored.components_, rbm.components_)
    classifier = DBNClassifier(
        hidden_layer_sizes=(16,), pretrain_epochs=1, epochs=3, random_state=0
    ).fit(X_train, digits[2])
    again = pickle.loads(pickle.dumps(classifier))
    np.testing.assert_array_equal(again.predict_proba(X_test), classifier.predict_proba(X_test))


def test_sparse_input_gives_the_dense_result(digits):
    X_train, X_test, _, _ = digits
    dense = RBMTransformer(n_components=10, n_iter=2, random_state=0).fit(X_train)
    sparse = RBMTransformer(n_components=10, n_iter=2, random_state=0).fit(sp.csr_matrix(X_train))
    np.testing.assert_allclose(sparse.transform(sp.csr_matrix(X_test)), dense.transform(X_test))


def test_grid_search_over_a_pipeline(digits):
    X_train, _, y_train, _ = digits
    pipeline = Pipeline(
        [
            ("rbm", RBMTransformer(n_iter=2, random_state=0)),
            ("logistic", LogisticRegression(max_iter=300)),
        ]
    )
    search = GridSearchCV(pipeline, {"rbm__n_components": [2, 32]}, cv=2)
    search.fit(X_train, y_train)
    # two hidden units cannot separate ten digits; and the reported score is the one
    # cross-validation gives for the chosen setting
    assert search.best_params_["rbm__n_components"] == 32
    chosen = cross_val_score(pipeline.set_params(rbm__n_components=32), X_train, y_train, cv=2)
    assert search.best_score_ == pytest.approx(chosen.mean(), abs=1e-12)
    assert list(pipeline.fit(X_train, y_train)[:-1].get_feature_names_out())[:2] == [
        "rbmtransformer0",
        "rbmtransformer1",
    ]


def test_bad_input_raises_scikit_learns_errors(digits):
    X_train, X_test, _, _ = digits
    with pytest.raises(NotFittedError):
        RBMTransformer().transform(X_test)
    with pytest.raises(NotFittedError):
        DBNClassifier().predict(X_test)
    rbm = RBMTransformer(n_components=4, n_iter=1).fit(X_train)
    with pytest.raises(ValueError, match="X has 10 features, but RBMTransformer is expecting 64"):
        rbm.transform(X_test[:, :10])
    bad = X_train.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        RBMTransformer().fit(bad)
    with pytest.raises(ValueError, match="method must be one of"):
        RBMTransformer(method="magic").fit(X_train)


def test_gibbs_draws_new_samples_on_every_call_like_bernoulli_rbm(digits):
    X_train, _, _, _ = digits
    ours = RBMTransformer(n_components=16, n_iter=1, random_state=42).fit(X_train)
    first, second = ours.gibbs(X_train), ours.gibbs(X_train)
    assert (first != second).any(axis=1).mean() > 0.9  # BernoulliRBM: every row differs
    again = RBMTransformer(n_components=16, n_iter=1, random_state=42).fit(X_train)
    np.testing.assert_array_equal(again.gibbs(X_train), first)  # and it is reproducible


def test_float32_stays_float32_like_bernoulli_rbm(digits):
    X_train, X_test, _, _ = digits
    for dtype in (np.float32, np.float64):
        ours = RBMTransformer(n_components=8, n_iter=1, random_state=0).fit(X_train.astype(dtype))
        assert ours.transform(X_test.astype(dtype)).dtype == dtype
        assert ours.components_.dtype == dtype


def test_verbose_prints_bernoulli_rbms_iteration_lines(digits, capsys):
    X_train, _, _, _ = digits
    RBMTransformer(n_components=8, n_iter=2, verbose=1, random_state=0).fit(X_train)
    lines = capsys.readouterr().out.strip().splitlines()
    pattern = r"\[RBMTransformer\] Iteration {}, pseudo-likelihood = -\d+\.\d\d, time = \d+\.\d\ds"
    assert len(lines) == 2
    for number, line in enumerate(lines, start=1):
        assert re.fullmatch(pattern.format(number), line), line


def test_estimators_save_and_load_without_pickle(digits, tmp_path, monkeypatch):
    X_train, X_test, y_train, _ = digits
    rbm = RBMTransformer(n_components=8, n_iter=2, random_state=0).fit(X_train)
    classifier = DBNClassifier(
        hidden_layer_sizes=(16,), pretrain_epochs=1, epochs=3, random_state=0
    ).fit(X_train, y_train)
    rbm.save(tmp_path / "rbm.pt")
    classifier.save(tmp_path / "clf.pt")

    def no_unpickling(*args, **kwargs):
        raise AssertionError("pickle.load was called")

    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    rbm_again = RBMTransformer.load(tmp_path / "rbm.pt")
    classifier_again = DBNClassifier.load(tmp_path / "clf.pt")
    np.testing.assert_array_equal(rbm_again.transform(X_test), rbm.transform(X_test))
    np.testing.assert_array_equal(rbm_again.gibbs(X_test), rbm.gibbs(X_test))
    np.testing.assert_array_equal(
        classifier_again.predict_proba(X_test), classifier.predict_proba(X_test)
    )
    rbm_again.partial_fit(X_train)  # the training state came along too
    assert rbm_again.trainer_.epoch == 3
    with pytest.raises(CheckpointError, match="not a sklearn-dbn-classifier"):
        DBNClassifier.load(tmp_path / "rbm.pt")
    with pytest.raises(ValueError, match="without pickle: parameters \\['random_state'\\]"):
        RBMTransformer(random_state=np.random.RandomState(0)).fit(X_train).save(tmp_path / "x")


@pytest.mark.parametrize("scale, chosen", [(1.0, "bernoulli"), (16.0, "gaussian")])
def test_auto_visible_units_follow_the_data_and_equal_the_explicit_choice(
    digits, tmp_path, scale, chosen
):
    X_train, X_test, y_train, _ = digits  # pixels in [0, 1]; times 16 the raw digits
    options = {"hidden_layer_sizes": (16,), "pretrain_epochs": 2, "epochs": 3, "random_state": 0}
    auto = DBNClassifier(**options).fit(X_train * scale, y_train)
    explicit = DBNClassifier(visible_units=chosen, **options).fit(X_train * scale, y_train)
    assert auto.visible_units_ == explicit.visible_units_ == chosen
    probabilities = auto.predict_proba(X_test * scale)
    np.testing.assert_array_equal(probabilities, explicit.predict_proba(X_test * scale))
    scaled = auto.scaler_.transform(X_train * scale)
    if chosen == "gaussian":  # standardised features: zero mean, unit variance or constant
        np.testing.assert_allclose(scaled.mean(0), 0, atol=1e-9)
        assert np.all(np.isclose(scaled.std(0), 1) | np.isclose(scaled.std(0), 0))
    else:  # min-max scaled into [0, 1]
        assert scaled.min() >= 0 and scaled.max() <= 1
    auto.save(tmp_path / "clf.pt")
    again = DBNClassifier.load(tmp_path / "clf.pt")
    assert again.visible_units_ == chosen
    np.testing.assert_array_equal(again.predict_proba(X_test * scale), probabilities)


def _edited(source, target, edit):
    """Save ``source``'s content, changed by ``edit``, as a well-signed file."""
    from dbn.io import atomic_save, safe_load

    blob = safe_load(source)
    edit(blob)
    atomic_save(blob, target)
    return target


EDITS = {
    "an unknown parameter": lambda b: b["params"].update(colour="blue"),
    "a fitted entry removed": lambda b: b["fitted"].pop(next(iter(b["fitted"]))),
    "no params at all": lambda b: b.pop("params"),
    "a matrix cut to one row": lambda b: _cut_first_matrix(b["fitted"]),
}


def _cut_first_matrix(tree: dict) -> bool:
    """Keep one row of the first 2-D tensor in ``tree`` (nested dicts searched)."""
    for key, value in tree.items():
        if isinstance(value, torch.Tensor) and value.dim() == 2:
            tree[key] = value[:1]
            return True
        if isinstance(value, dict) and _cut_first_matrix(value):
            return True
    return False


@pytest.mark.parametrize("edit", list(EDITS), ids=list(EDITS))
def test_edited_files_are_refused_as_files(digits, tmp_path, edit):
    X_train, _, y_train, _ = digits
    fitted = {
        RBMTransformer: RBMTransformer(n_components=8, n_iter=1, random_state=0).fit(X_train),
        DBNClassifier: DBNClassifier(
            hidden_layer_sizes=(16,), pretrain_epochs=1, epochs=1, random_state=0
        ).fit(X_train, y_train),
    }
    for cls, estimator in fitted.items():
        estimator.save(tmp_path / "good.pt")
        path = _edited(tmp_path / "good.pt", tmp_path / "edited.pt", EDITS[edit])
        with pytest.raises(CheckpointError, match=f"does not hold a valid saved {cls.__name__}"):
            cls.load(path)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"hidden_layer_sizes": 16}, r"hidden_layer_sizes must be a sequence .* got 16"),
        ({"hidden_layer_sizes": ()}, r"hidden_layer_sizes must be a sequence"),
        ({"hidden_layer_sizes": (16, 0)}, r"each hidden_layer_sizes value must be an integer"),
        ({"epochs": 0}, r"epochs must be an integer >= 1, got 0"),
        ({"epochs": -2}, r"epochs must be an integer >= 1, got -2"),
        ({"pretrain_epochs": -5}, r"pretrain_epochs must be an integer >= 0, got -5"),
        ({"k": 0}, r"k must be an integer >= 1"),
        ({"batch_size": 0}, r"batch_size must be an integer >= 1"),
        ({"learning_rate": float("nan")}, r"learning_rate must be a positive finite"),
        ({"pretrain_lr": -1.0}, r"pretrain_lr must be a positive finite"),
        ({"dropout": 1.0}, r"dropout must lie in \[0, 1\)"),
        ({"validation_fraction": 1.5}, r"validation_fraction must lie in \[0, 1\)"),
        ({"visible_units": "binary"}, r"visible_units must be one of .* got 'binary'"),
    ],
)
def test_a_bad_classifier_parameter_is_named_before_anything_trains(digits, params, message):
    X_train, _, y_train, _ = digits
    classifier = DBNClassifier(**params)
    with pytest.raises(ValueError, match=message):
        classifier.fit(X_train, y_train)
    assert not hasattr(classifier, "model_")


@pytest.mark.parametrize("estimator", [DBNClassifier(), RBMTransformer()])
def test_saving_an_unfitted_estimator_is_scikit_learns_not_fitted_error(estimator, tmp_path):
    with pytest.raises(NotFittedError):
        estimator.save(tmp_path / "unfitted.pt")
    assert not (tmp_path / "unfitted.pt").exists()


@pytest.mark.parametrize("fraction, validated", [(0.0, False), (0.25, True)])
def test_the_classifier_validates_only_on_held_out_data(fraction, validated, trainings):
    X, y = load_digits(return_X_y=True)
    options = dict(hidden_layer_sizes=(16,), pretrain_epochs=1, epochs=2, random_state=0)
    DBNClassifier(validation_fraction=fraction, **options).fit(X[:200], y[:200])
    ((n_train, blind, _),) = trainings
    assert n_train == 200 - round(fraction * 200) and blind is not validated
