"""
RBM features for digit classification, beside scikit-learn's
=============================================================

scikit-learn's "RBM features for digit classification", with dbn's RBMTransformer beside
scikit-learn's BernoulliRBM: the same pipeline, the same parameters, one run.

    python examples/rbm_digits_pipeline.py

The data preparation follows scikit-learn's example: the 8x8 digits, nudged by one
pixel in four directions (5x the data), scaled to [0, 1], split 80/20.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.ndimage import convolve
from sklearn import datasets, metrics
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import BernoulliRBM
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import minmax_scale

from dbn.sklearn import RBMTransformer


def nudge_dataset(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Add copies of the 8x8 images shifted by one pixel left, right, up and down."""
    directions = [
        [[0, 1, 0], [0, 0, 0], [0, 0, 0]],
        [[0, 0, 0], [1, 0, 0], [0, 0, 0]],
        [[0, 0, 0], [0, 0, 1], [0, 0, 0]],
        [[0, 0, 0], [0, 0, 0], [0, 1, 0]],
    ]
    shifted = [
        np.apply_along_axis(
            lambda image, w=w: convolve(image.reshape((8, 8)), mode="constant", weights=w).ravel(),
            1,
            X,
        )
        for w in np.asarray(directions)
    ]
    return np.concatenate([X, *shifted]), np.concatenate([y] * 5)


def digits_split(random_state: int = 0):
    X, y = datasets.load_digits(return_X_y=True)
    X = np.asarray(X, "float32")
    X, y = nudge_dataset(X, y)
    X = minmax_scale(X, feature_range=(0, 1))
    return train_test_split(X, y, test_size=0.2, random_state=random_state)


def pipelines(random_state: int = 0) -> dict[str, Pipeline]:
    """The example's settings: 100 hidden units, lr 0.06, 10 epochs, C = 6000."""
    rbm_options = dict(n_components=100, learning_rate=0.06, n_iter=10, random_state=random_state)
    logistic = LogisticRegression(C=6000, max_iter=1000)
    return {
        "scikit-learn BernoulliRBM": Pipeline(
            [("rbm", BernoulliRBM(**rbm_options)), ("logistic", clone(logistic))]
        ),
        "dbn RBMTransformer": Pipeline(
            [("rbm", RBMTransformer(**rbm_options)), ("logistic", clone(logistic))]
        ),
    }


def main() -> dict[str, tuple[float, float, float]]:
    X_train, X_test, y_train, y_test = digits_split()
    results = {}
    for name, pipeline in pipelines().items():
        # one small warm-up fit first, so that one-time library start-up is not timed
        clone(pipeline.named_steps["rbm"]).set_params(n_iter=1).fit(X_train[:100])
        started = time.perf_counter()
        clone(pipeline.named_steps["rbm"]).fit(X_train)
        rbm_seconds = time.perf_counter() - started
        started = time.perf_counter()
        pipeline.fit(X_train, y_train)
        pipeline_seconds = time.perf_counter() - started
        accuracy = metrics.accuracy_score(y_test, pipeline.predict(X_test))
        results[name] = (accuracy, rbm_seconds, pipeline_seconds)
    raw = LogisticRegression(C=100, max_iter=1000).fit(X_train, y_train)
    print(f"{'pipeline':28s} {'test accuracy':>14s} {'RBM fit (s)':>12s} {'pipeline fit (s)':>17s}")
    for name, (accuracy, rbm_seconds, pipeline_seconds) in results.items():
        print(f"{name:28s} {accuracy:14.4f} {rbm_seconds:12.2f} {pipeline_seconds:17.2f}")
    print(f"{'logistic on raw pixels':28s} {raw.score(X_test, y_test):14.4f}")
    return results


if __name__ == "__main__":
    main()
