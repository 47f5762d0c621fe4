"""scikit-learn estimators: ``RBMTransformer`` and ``DBNClassifier``.

``RBMTransformer`` is a drop-in replacement for ``sklearn.neural_network.BernoulliRBM``:
the same constructor parameters, fitted attributes and methods, trained by this
library (PCD-1 by default, like scikit-learn's; CD-k and reconstruction on request) on
the CPU or a GPU.
"""

from __future__ import annotations

import json
import time

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.preprocessing import LabelEncoder, MinMaxScaler, StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from dbn._utils.checks import check_fraction, check_int, check_positive
from dbn._utils.rng import new_generator
from dbn.io import CheckpointError, atomic_save, safe_load
from dbn.models.dbn import DBN
from dbn.models.export import make_classifier
from dbn.models.rbm import RBM
from dbn.training._budget import budget_epochs
from dbn.training.finetuning import FinetuneConfig, finetune
from dbn.training.monitors import pseudo_likelihood
from dbn.training.rbm_trainer import RBMTrainer, TrainConfig

__all__ = ["RBMTransformer", "DBNClassifier"]


def _dense(X):
    """A dense array from a numpy array or a sparse matrix."""
    return X.toarray() if sp.issparse(X) else X


def _to_tensor(X, device, dtype=np.float32) -> torch.Tensor:
    """Dense tensor in ``dtype`` (float32 by default) on ``device`` from a numpy array or a
    sparse matrix."""
    return torch.as_tensor(np.asarray(_dense(X), dtype=dtype), device=device)


def _json_params(estimator) -> dict:
    """``get_params()``, refused unless every value is plain (JSON-able) data."""
    params = estimator.get_params()
    try:
        json.dumps(params)
    except TypeError:
        bad = [
            k
            for k, v in params.items()
            if not isinstance(v, (int, float, str, bool, list, tuple, type(None)))
        ]
        raise ValueError(
            f"cannot save {type(estimator).__name__} without pickle: parameters {bad} are "
            f"not plain values (use an int random_state)"
        ) from None
    return params


def _save(estimator, path, fitted: dict) -> None:
    """Write an estimator's parameters and fitted state with the safe checkpoint format."""
    blob = {"kind": _KINDS[type(estimator)], "params": _json_params(estimator), "fitted": fitted}
    atomic_save(blob, path)


def _feature_names(estimator) -> list:
    """``feature_names_in_`` as a JSON-able list (empty when the estimator has none)."""
    return getattr(estimator, "feature_names_in_", np.array([])).tolist()


def _restore_feature_names(estimator, names: list) -> None:
    if names:
        estimator.feature_names_in_ = np.asarray(names, dtype=object)


def _restored(cls, path, restore):
    """``restore(params, fitted)`` on what ``path`` holds: any error the file's content
    causes (a missing or edited entry) is refused as the file's, in one line."""
    blob = safe_load(path, kind=_KINDS[cls])
    try:
        return restore(blob["params"], blob["fitted"])
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError) as error:
        if isinstance(error, CheckpointError):
            raise
        reason = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise CheckpointError(
            f"{str(path)!r} does not hold a valid saved {cls.__name__}: {reason}"
        ) from None


def _torch_dtype(dtype) -> torch.dtype:
    """The torch dtype of a numpy float dtype."""
    return torch.from_numpy(np.zeros(0, dtype=dtype)).dtype


def _seed(random_state) -> int:
    """A seed for a torch generator, drawn from a scikit-learn ``random_state``."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


class RBMTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Bernoulli (or Gaussian) RBM as a scikit-learn transformer.

    Parameters
    ----------
    n_components : int, default=256
        Number of hidden units.
    learning_rate : float, default=0.1
        SGD learning rate (scikit-learn's meaning: the step per mean gradient).
    batch_size : int, default=10
    n_iter : int, default=10
        Epochs.
    verbose : int, default=0
        Print ``BernoulliRBM``'s line per iteration (epoch): its number, the
        pseudo-likelihood and the time it took.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights and the training; ``gibbs`` then draws from the
        ``random_state_`` generator, so successive calls give new samples.
    method : {"pcd", "cd", "recon"}, default="pcd"
        scikit-learn's BernoulliRBM does PCD-1; ``pcd`` here is its algorithm, with
        the chains kept as hidden states (``TrainConfig(persist="hidden")``).
    k : int, default=1
        Gibbs steps per update.
    visible : {"bernoulli", "gaussian"}, default="bernoulli"
    momentum : float, default=0.0
        SGD momentum (0 as in scikit-learn; Hinton's guide uses 0.5 then 0.9).
    weight_decay : float, default=0.0
    device : str, default="cpu"

    Notes
    -----
    Like ``BernoulliRBM``, values outside [0, 1] are accepted (as real-valued input to
    Bernoulli units) rather than refused as :class:`dbn.RBM` training does. Training
    runs in float32; the fitted attributes and ``transform``'s output take the dtype
    of the data (float32 stays float32, as in ``BernoulliRBM``).

    Like every scikit-learn estimator it pickles, and unpickling runs code: load
    pickled estimators only from sources you trust. :meth:`save` and :meth:`load` keep
    it without pickle, in the project's checked checkpoint format.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
    intercept_hidden_ : ndarray of shape (n_components,)
    intercept_visible_ : ndarray of shape (n_features,)
    h_samples_ : ndarray of shape (batch_size, n_components)
        Hidden states of the persistent chains (zeros for ``cd`` and ``recon``).
    random_state_ : RandomState instance
        The generator ``gibbs`` draws from.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in\\_,)
        Only when X has feature names that are all strings.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from dbn.sklearn import RBMTransformer
    >>> X = load_digits().data / 16
    >>> features = RBMTransformer(n_components=32, n_iter=2, random_state=0).fit_transform(X)
    >>> features.shape
    (1797, 32)
    """

    def __init__(
        self,
        n_components=256,
        *,
        learning_rate=0.1,
        batch_size=10,
        n_iter=10,
        verbose=0,
        random_state=None,
        method="pcd",
        k=1,
        visible="bernoulli",
        momentum=0.0,
        weight_decay=0.0,
        device="cpu",
    ):
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.verbose = verbose
        self.random_state = random_state
        self.method = method
        self.k = k
        self.visible = visible
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.device = device

    def _config(self) -> TrainConfig:
        return TrainConfig(
            method=self.method,
            persist="hidden" if self.method == "pcd" else "visible",
            k=self.k,
            epochs=self.n_iter,
            batch_size=self.batch_size,
            lr=self.learning_rate,
            momentum=self.momentum,
            final_momentum=self.momentum,
            weight_decay=self.weight_decay,
        )

    def _new_trainer(self, n_features: int, config: TrainConfig, seed: int) -> RBMTrainer:
        rbm = RBM(
            n_features, self.n_components, visible=self.visible, generator=new_generator(seed)
        )
        return RBMTrainer(
            rbm, config, seed=seed, device=self.device, name="RBMTransformer", check_range=False
        )

    def _publish(self, dtype) -> None:
        """Copy the trained parameters into scikit-learn's fitted attributes."""
        rbm = self.trainer_.rbm
        self.components_ = rbm.weight.detach().cpu().numpy().astype(dtype)
        self.intercept_hidden_ = rbm.hidden_bias.detach().cpu().numpy().astype(dtype)
        self.intercept_visible_ = rbm.visible_bias.detach().cpu().numpy().astype(dtype)
        chains = self.trainer_.chains  # PCD's hidden states, as scikit-learn keeps them
        if chains is None:
            self.h_samples_ = np.zeros((self.batch_size, self.n_components), dtype=dtype)
        else:
            self.h_samples_ = chains.cpu().numpy().astype(dtype)

    def _check(self, X, reset: bool):
        return validate_data(
            self, X, accept_sparse="csr", dtype=(np.float64, np.float32), reset=reset
        )

    def _train(self, X, n_epochs: int) -> None:
        """``n_epochs`` more epochs on validated X, printing a line per epoch if verbose."""
        data = _to_tensor(X, self.device)
        for _ in range(n_epochs):
            begin = time.perf_counter()
            history = self.trainer_.train_epochs(data, 1, progress=False)
            if self.verbose:
                print(
                    f"[{type(self).__name__}] Iteration {self.trainer_.epoch}, "
                    f"pseudo-likelihood = {history[-1].get('pseudo_likelihood', np.nan):.2f}, "
                    f"time = {time.perf_counter() - begin:.2f}s"
                )
        self._publish(X.dtype)

    def fit(self, X, y=None):
        """Fit the RBM to X of shape (n_samples, n_features); returns self."""
        X = self._check(X, reset=True)
        self.random_state_ = check_random_state(self.random_state)
        self.trainer_ = self._new_trainer(X.shape[1], self._config(), _seed(self.random_state_))
        self._train(X, self.n_iter)
        return self

    def partial_fit(self, X, y=None):
        """One epoch over X, continuing from the current state (a fresh RBM on first call)."""
        first = not hasattr(self, "trainer_")
        X = self._check(X, reset=first)
        if first:
            self.random_state_ = check_random_state(self.random_state)
            seed = _seed(self.random_state_)
            self.trainer_ = self._new_trainer(X.shape[1], self._config(), seed)
        self._train(X, 1)
        return self

    def _inference_rbm(self, dtype) -> RBM:
        """An RBM in ``dtype`` holding the fitted attributes (which a user may have edited)."""
        check_is_fitted(self, "components_")
        rbm = RBM(self.components_.shape[1], self.components_.shape[0], visible=self.visible)
        rbm = rbm.to(self.device, _torch_dtype(dtype))
        with torch.no_grad():
            for parameter, values in (
                (rbm.weight, self.components_),
                (rbm.hidden_bias, self.intercept_hidden_),
                (rbm.visible_bias, self.intercept_visible_),
            ):
                parameter.copy_(torch.as_tensor(values))
        return rbm

    @torch.no_grad()
    def transform(self, X):
        """Hidden probabilities p(h = 1 | v): ndarray of shape (n_samples, n_components),
        in X's dtype (float32 or float64)."""
        check_is_fitted(self, "components_")
        X = self._check(X, reset=False)
        rbm = self._inference_rbm(X.dtype)
        return rbm.hidden_probs(_to_tensor(X, self.device, X.dtype)).cpu().numpy()

    @torch.no_grad()
    def gibbs(self, v):
        """One Gibbs step from v of shape (n_samples, n_features); returns the visible sample.

        Each call draws from ``random_state_``, so repeated calls give different samples.
        """
        check_is_fitted(self, "components_")
        v = self._check(v, reset=False)
        rbm = self._inference_rbm(np.float64)
        if not hasattr(self, "random_state_"):
            self.random_state_ = check_random_state(self.random_state)
        generator = new_generator(_seed(self.random_state_), self.device)
        sample = rbm.gibbs(_to_tensor(v, self.device, np.float64), 1, generator).cpu().numpy()
        return sample.astype(bool) if self.visible == "bernoulli" else sample

    @torch.no_grad()
    def score_samples(self, X):
        """Pseudo-log-likelihood of each sample, as ``BernoulliRBM.score_samples`` (which
        draws the flipped units from ``random_state`` afresh on every call)."""
        check_is_fitted(self, "components_")
        X = self._check(X, reset=False)
        rbm = self._inference_rbm(np.float64)
        generator = new_generator(_seed(self.random_state), self.device)
        scores = pseudo_likelihood(rbm, _to_tensor(X, self.device, np.float64), generator)
        return scores.cpu().numpy()

    def save(self, path) -> None:
        """Save the fitted transformer without pickle (tensors and JSON-able values);
        :meth:`load` reads it without running any code from the file."""
        check_is_fitted(self, "components_")
        state = self.random_state_.get_state()
        fitted = {
            "components_": torch.from_numpy(self.components_),
            "intercept_hidden_": torch.from_numpy(self.intercept_hidden_),
            "intercept_visible_": torch.from_numpy(self.intercept_visible_),
            "h_samples_": torch.from_numpy(self.h_samples_),
            "random_state_": [torch.from_numpy(state[1].astype(np.int64)), *state[2:]],
            "trainer": self.trainer_.state_dict(),
            "train_config": self.trainer_.config.to_dict(),
            "feature_names_in_": _feature_names(self),
        }
        _save(self, path, fitted)

    @classmethod
    def load(cls, path) -> RBMTransformer:
        """Read what :meth:`save` wrote; refuses a damaged, edited or foreign file."""
        return _restored(cls, path, cls._from_saved)

    @classmethod
    def _from_saved(cls, params: dict, fitted: dict) -> RBMTransformer:
        estimator = cls(**params)
        for name in ("components_", "intercept_hidden_", "intercept_visible_", "h_samples_"):
            setattr(estimator, name, fitted[name].numpy())
        estimator.n_features_in_ = estimator.components_.shape[1]
        n_hidden, n_features = estimator.n_components, estimator.n_features_in_
        shapes = {"components_": (n_hidden, n_features), "intercept_hidden_": (n_hidden,)}
        shapes["intercept_visible_"] = (n_features,)
        for name, shape in shapes.items():
            if getattr(estimator, name).shape != shape:
                raise ValueError(
                    f"{name} has shape {getattr(estimator, name).shape}, expected {shape}"
                )
        _restore_feature_names(estimator, fitted["feature_names_in_"])
        keys, *rest = fitted["random_state_"]
        estimator.random_state_ = np.random.RandomState()
        estimator.random_state_.set_state(("MT19937", keys.numpy().astype(np.uint32), *rest))
        config = TrainConfig.from_dict(fitted["train_config"])
        estimator.trainer_ = estimator._new_trainer(estimator.n_features_in_, config, 0)
        estimator.trainer_.load_state_dict(fitted["trainer"])
        return estimator

    def __getstate__(self):
        # torch.Generator does not pickle: keep the trainer as its (picklable) state
        state = self.__dict__.copy()
        trainer = state.pop("trainer_", None)
        if trainer is not None:
            state["_trainer_state"] = (trainer.state_dict(), trainer.config.to_dict())
        return state

    def __setstate__(self, state):
        saved = state.pop("_trainer_state", None)
        self.__dict__.update(state)
        if saved is not None:
            trainer_state, config = saved
            config = TrainConfig.from_dict(config)
            self.trainer_ = self._new_trainer(self.components_.shape[1], config, 0)
            self.trainer_.load_state_dict(trainer_state)

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


# Each kind of visible unit: its input scaling and the fitted attributes saved of it.
SCALERS = {
    "bernoulli": (
        lambda: MinMaxScaler(clip=True),
        ("min_", "scale_", "data_min_", "data_max_", "data_range_"),
    ),
    "gaussian": (StandardScaler, ("mean_", "var_", "scale_")),
}
# (min_updates, min_epochs) of DBNClassifier's pretraining (per layer) and fine-tuning:
# small tabular data sets, where a few hundred updates do (studies/sklearn_table.py
# --select); the library's own defaults, for MNIST-sized data, are larger.
ESTIMATOR_PRETRAIN_BUDGET = (300, 10)
ESTIMATOR_FINETUNE_BUDGET = (600, 30)
# The first RBM's default learning rate by visible unit.
PRETRAIN_LR = {"bernoulli": 0.1, "gaussian": 0.01}


class DBNClassifier(ClassifierMixin, BaseEstimator):
    """Greedy DBN pretraining, then supervised fine-tuning of the MLP it initialises.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
        MLPClassifier's default. With the budgets below and ``visible_units``, chosen
        by cross-validation on three scikit-learn data sets with splits (and a
        ``make_classification`` draw) that the reported figures do not use
        (``python -m studies.sklearn_table --select``; docs: scikit-learn).
    visible_units : {"auto", "bernoulli", "gaussian"}, default="auto"
        The first RBM's visible units. ``"bernoulli"`` min-max scales each feature to
        [0, 1] with the training data's range (clipped to it at prediction time), for
        pixels, binary and bounded features; ``"gaussian"`` standardises each feature
        (zero mean, unit variance: the unit-variance Gaussian units of Hinton's guide,
        section 13.2), for real-valued features. ``"auto"`` takes ``"bernoulli"`` when
        every training value already lies in [0, 1] and ``"gaussian"`` otherwise; the
        choice is in ``visible_units_``.
    pretrain_method : {"cd", "pcd", "recon"}, default="cd"
    pretrain_epochs : int or None, default=None
        Per layer; None gives each layer at least 300 updates and 10 epochs whatever
        the data's size; 0 skips pretraining (a randomly initialised net, for comparison).
    pretrain_lr : float or None, default=None
        None gives 0.1 with Bernoulli visible units and 0.01 with Gaussian ones, whose
        unbounded visible values need a rate about ten times smaller (the guide's
        advice).
    k : int, default=1
    batch_size : int, default=100
    epochs : int or None, default=None
        Fine-tuning epochs; None gives at least 600 updates and 30 epochs.
    learning_rate : float, default=0.1
    optimizer : {"sgd", "adam"}, default="sgd"
    dropout : float, default=0.0
    validation_fraction : float, default=0.0
        Held out of the training data for early stopping (the epoch with the lowest
        held-out error is kept). 0, the default, fine-tunes on all of the training
        data for the budget and keeps the last epoch's weights: on small data sets the
        held-out images are worth more as training images.
    random_state : int, RandomState instance or None, default=None
    device : str, default="cpu"
    verbose : int, default=0

    Notes
    -----
    Like every scikit-learn estimator it pickles, and unpickling runs code: load
    pickled estimators only from sources you trust. :meth:`save` and :meth:`load` keep
    it without pickle, in the project's checked checkpoint format.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    model_ : torch.nn.Sequential
    visible_units_ : {"bernoulli", "gaussian"}
    scaler_ : sklearn.preprocessing.MinMaxScaler or StandardScaler
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from dbn.sklearn import DBNClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> classifier = DBNClassifier((32,), pretrain_epochs=2, epochs=3, random_state=0)
    >>> classifier.fit(X / 16, y).predict(X[:5] / 16).shape
    (5,)
    """

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        visible_units="auto",
        pretrain_method="cd",
        pretrain_epochs=None,
        pretrain_lr=None,
        k=1,
        batch_size=100,
        epochs=None,
        learning_rate=0.1,
        optimizer="sgd",
        dropout=0.0,
        validation_fraction=0.0,
        random_state=None,
        device="cpu",
        verbose=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.visible_units = visible_units
        self.pretrain_method = pretrain_method
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_lr = pretrain_lr
        self.k = k
        self.batch_size = batch_size
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.dropout = dropout
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def fit(self, X, y):
        """Pretrain on X, fine-tune on (X, y); returns self."""
        self._check_params()
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=(np.float64, np.float32))
        check_classification_targets(y)
        self._encoder = LabelEncoder().fit(y)
        self.classes_ = self._encoder.classes_
        targets = torch.as_tensor(self._encoder.transform(y), dtype=torch.long)
        X = _dense(X)  # once: the scaler is fitted on it and then applied to it
        visible = self.visible_units
        if visible == "auto":
            visible = "bernoulli" if X.min() >= 0 and X.max() <= 1 else "gaussian"
        self.visible_units_ = visible
        self.scaler_ = SCALERS[visible][0]().fit(X)
        inputs = self._scaled(X, "cpu")
        seed = _seed(self.random_state)
        sizes = [X.shape[1], *self.hidden_layer_sizes]
        self.sizes_ = sizes
        stack = DBN(sizes, visible=visible, generator=new_generator(seed))
        pretrained = self.pretrain_epochs is None or self.pretrain_epochs > 0
        if pretrained:
            stack.pretrain(
                inputs,
                epochs=self.pretrain_epochs
                if self.pretrain_epochs is not None
                else budget_epochs(len(inputs), self.batch_size, ESTIMATOR_PRETRAIN_BUDGET),
                method=self.pretrain_method,
                k=self.k,
                lr=self.pretrain_lr if self.pretrain_lr is not None else PRETRAIN_LR[visible],
                batch_size=self.batch_size,
                device=self.device,
                seed=seed,
                progress=bool(self.verbose),
            )
        model = make_classifier(
            sizes,
            max(len(self.classes_), 2),
            init="dbn" if pretrained else "default",
            checkpoint=stack,
            generator=new_generator(seed),
            dropout=self.dropout,
        )
        order = torch.randperm(len(inputs), generator=new_generator(seed))
        n_valid = int(round(self.validation_fraction * len(inputs)))
        if n_valid >= len(inputs):
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves none of the "
                f"{len(inputs)} samples to train on"
            )
        # without validation data the last epoch's weights are kept, and nothing is
        # reported as a validation figure that was measured on the training data
        valid_idx, train_idx = order[:n_valid], order[n_valid:]
        valid = (inputs[valid_idx], targets[valid_idx]) if n_valid else None
        config = FinetuneConfig(
            optimizer=self.optimizer,
            lr=self.learning_rate,
            epochs=self.epochs
            if self.epochs is not None
            else budget_epochs(len(train_idx), self.batch_size, ESTIMATOR_FINETUNE_BUDGET),
            batch_size=self.batch_size,
        )
        finetune(
            model,
            (inputs[train_idx], targets[train_idx]),
            valid,
            config,
            device=self.device,
            generator=new_generator(seed, self.device),
            progress=bool(self.verbose),
            name="DBNClassifier",
            validation_fraction=0.0,
        )
        self.model_ = model.eval()
        return self

    def _check_params(self) -> None:
        """Refuse a bad parameter by name before anything trains."""
        sizes = self.hidden_layer_sizes
        if not isinstance(sizes, (tuple, list)) or not sizes:
            raise ValueError(
                f"hidden_layer_sizes must be a sequence of layer sizes such as (500,), "
                f"got {sizes!r}"
            )
        for size in sizes:
            check_int("each hidden_layer_sizes value", size)
        if self.pretrain_epochs is not None:  # 0: no pretraining
            check_int("pretrain_epochs", self.pretrain_epochs, minimum=0)
        if self.epochs is not None:
            check_int("epochs", self.epochs)
        check_int("k", self.k)
        check_int("batch_size", self.batch_size)
        if self.visible_units not in ("auto", *SCALERS):
            raise ValueError(
                f"visible_units must be one of ['auto', 'bernoulli', 'gaussian'], got "
                f"{self.visible_units!r}"
            )
        if self.pretrain_lr is not None:
            check_positive("pretrain_lr", self.pretrain_lr)
        check_positive("learning_rate", self.learning_rate)
        check_fraction("dropout", self.dropout)
        check_fraction("validation_fraction", self.validation_fraction)

    def save(self, path) -> None:
        """Save the fitted classifier without pickle (tensors and JSON-able values);
        :meth:`load` reads it without running any code from the file."""
        check_is_fitted(self, "model_")
        scaler = self.scaler_
        fitted = {
            "classes_": self.classes_.tolist(),
            "sizes": list(self.sizes_),
            "model": {k: v.detach().cpu() for k, v in self.model_.state_dict().items()},
            "visible_units": self.visible_units_,
            "scaler": {
                name: torch.from_numpy(np.asarray(getattr(scaler, name), dtype=np.float64))
                for name in SCALERS[self.visible_units_][1]
            },
            "feature_names_in_": _feature_names(self),
        }
        _save(self, path, fitted)

    @classmethod
    def load(cls, path) -> DBNClassifier:
        """Read what :meth:`save` wrote; refuses a damaged, edited or foreign file."""
        return _restored(cls, path, cls._from_saved)

    @classmethod
    def _from_saved(cls, params: dict, fitted: dict) -> DBNClassifier:
        estimator = cls(**params)
        estimator.classes_ = np.asarray(fitted["classes_"])
        estimator._encoder = LabelEncoder().fit(estimator.classes_)
        estimator.sizes_ = list(fitted["sizes"])
        estimator.n_features_in_ = estimator.sizes_[0]
        _restore_feature_names(estimator, fitted["feature_names_in_"])
        estimator.visible_units_ = fitted["visible_units"]
        scaler = SCALERS[estimator.visible_units_][0]()
        for name, values in fitted["scaler"].items():
            setattr(scaler, name, values.numpy())
        scaler.n_features_in_, scaler.n_samples_seen_ = estimator.n_features_in_, 1
        estimator.scaler_ = scaler
        n_classes = max(len(estimator.classes_), 2)
        model = make_classifier(estimator.sizes_, n_classes, dropout=estimator.dropout)
        model.load_state_dict(fitted["model"])
        estimator.model_ = model.to(estimator.device).eval()
        return estimator

    def _scaled(self, X, device) -> torch.Tensor:
        return _to_tensor(self.scaler_.transform(_dense(X)), device)

    def predict_proba(self, X):
        """Class probabilities: ndarray of shape (n_samples, n_classes)."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, accept_sparse="csr", dtype=(np.float64, np.float32), reset=False)
        with torch.no_grad():
            logits = self.model_(self._scaled(X, self.device))
        probs = torch.softmax(logits.double(), dim=1).cpu().numpy()
        return probs[:, : len(self.classes_)] / probs[:, : len(self.classes_)].sum(1, keepdims=True)

    def predict(self, X):
        """Predicted class labels: ndarray of shape (n_samples,)."""
        probs = self.predict_proba(X)  # checks fitted-ness before classes_ is touched
        return self.classes_[np.argmax(probs, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


_KINDS = {RBMTransformer: "sklearn-rbm-transformer", DBNClassifier: "sklearn-dbn-classifier"}
