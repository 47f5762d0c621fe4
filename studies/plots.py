"""The initialisation study's figures (``studies/compare.py``), readable in grey-scale.

Every contender is named ``NAME:KIND`` (``he_normal:relu``, ``dbn-cd:sigmoid``,
``logreg:pixels``). Its line gets a colour from the scheme, a dash pattern from the
activation and a marker from the scheme, so that two lines differ in more than colour;
the DBN lines are black and thick, the frozen-feature baselines dotted. Legends sit
outside the axes.
"""

from __future__ import annotations

import os
import statistics

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

from dbn import init as initializers  # noqa: E402
from dbn.io import atomic_write  # noqa: E402
from dbn.visual import tidy_axis  # noqa: E402

__all__ = [
    "contender_style",
    "plot_comparison",
    "plot_depth",
    "plot_init_stats",
    "plot_labels",
    "plot_notes_losses",
]

_DASHES = {"sigmoid": "-", "relu": "--", "tanh": "-."}
_MARKERS = "^v<>Dph*XPd1"
# One colour per scheme of dbn.init, in its order; no greys (the DBN lines' own).
_COLOURS = [
    "#1f77b4",
    "#aec7e8",
    "#2ca02c",
    "#98df8a",
    "#bcbd22",
    "#8c564b",
    "#e377c2",
    "#9467bd",
    "#d62728",
    "#17becf",
    "#ff9896",
    "#ff7f0e",
]
_SPECIAL = {
    "dbn-cd": dict(color="black", marker="o", linewidth=2.6),
    "dbn-recon": dict(color="0.35", marker="s", linewidth=2.6),
}


def contender_style(spec: str) -> dict:
    """Matplotlib line keywords for contender ``spec`` (``NAME:KIND``)."""
    name, _, kind = spec.partition(":")
    if name in _SPECIAL:
        return {**_SPECIAL[name], "linestyle": _DASHES.get(kind, ":")}
    if name == "logreg":
        return dict(color="0.5", marker="x" if kind == "pixels" else "+", linestyle=":")
    index = initializers.names().index(name) if name in initializers.names() else 0
    return dict(
        color=_COLOURS[index % len(_COLOURS)],
        marker=_MARKERS[index % len(_MARKERS)],
        linestyle=_DASHES.get(kind, ":"),
        linewidth=1.4,
    )


def _finish(figure, axes, path: str | os.PathLike, title: str | None = None) -> None:
    """Legend of the last axes outside on the right; save; close."""
    handles, labels = axes[-1].get_legend_handles_labels()
    figure.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    atomic_write(path, lambda temp: figure.savefig(temp, dpi=110, bbox_inches="tight"))
    plt.close(figure)


def plot_comparison(histories: dict[str, list[list[dict]]], path: str | os.PathLike) -> None:
    """Training loss and validation error per epoch, mean over seeds.

    The validation panel is left out when no run validated (runs trained on the
    training and validation images together, ``--use-valid``).

    Parameters
    ----------
    histories : dict
        ``"SPEC LABEL"`` (``SPEC`` is ``NAME:KIND``, which sets the line's style) → one
        fine-tuning history (list of per-epoch dicts) per seed.
    """
    validated = any("valid_error" in m for runs in histories.values() for h in runs for m in h)
    figure, axes = plt.subplots(1, 2 if validated else 1, figsize=(12 if validated else 7, 4.5))
    loss_axis, error_axis = (axes[0], axes[1]) if validated else (axes, None)
    seen: list[str] = []
    for label, runs in histories.items():
        n = min(len(h) for h in runs)
        spec = label.split(" ")[0]
        style = contender_style(spec)
        if spec in seen:  # another run of a contender already drawn: its own colour
            repeat = seen.count(spec)
            style |= dict(color=f"C{repeat % 10}", marker=_MARKERS[repeat % len(_MARKERS)])
        seen.append(spec)
        loss = [statistics.mean(h[e]["train_loss"] for h in runs) for e in range(n)]
        loss_axis.plot(range(1, n + 1), loss, label=label, markevery=max(1, n // 8), **style)
        if error_axis is None:
            continue
        # epochs that validated (every one unless the run validates less often)
        epochs = [e for e in range(n) if all("valid_error" in h[e] for h in runs)]
        error = [statistics.mean(100 * h[e]["valid_error"] for h in runs) for e in epochs]
        error_axis.plot(
            [e + 1 for e in epochs], error, label=label, markevery=max(1, n // 8), **style
        )
    loss_axis.set(xlabel="epoch", ylabel="cross-entropy", title="Training loss (mean over seeds)")
    tidy_axis(loss_axis, log_y=True)
    loss_axis.grid(alpha=0.3)
    if error_axis is not None:
        error_axis.set(xlabel="epoch", ylabel="error %", title="Validation error (mean over seeds)")
        tidy_axis(error_axis, log_y=True)
        error_axis.grid(alpha=0.3)
    _finish(figure, figure.axes, path)


def plot_init_stats(stats: dict[str, list[dict]], path: str | os.PathLike) -> None:
    """Per-layer mean activation, spread across units and gradient norm at initialisation,
    per contender: three panels that say three things (where the units sit, whether
    they differ, whether the error reaches them). The activations' overall std is not
    drawn: at initialisation it nearly repeats the spread across units."""
    keys = [
        ("activation_mean", "mean activation (a sigmoid at rest: 0.5)"),
        ("unit_spread", "spread across units (0 = all identical)"),
        ("grad_norm", "weight-gradient norm"),
    ]
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for axis, (key, title) in zip(axes, keys, strict=True):
        for label, rows in stats.items():
            values = [row.get(key) for row in rows if row.get(key) is not None]
            axis.plot(range(1, len(values) + 1), values, label=label, **contender_style(label))
        axis.set(xlabel="layer", title=title)
        tidy_axis(axis)
        if key == "grad_norm":  # spans decades, and is exactly 0 for a symmetric init
            axis.set_yscale("symlog", linthresh=1e-6)
        axis.grid(alpha=0.3)
    _finish(figure, list(axes), path, "At initialisation, one batch of training data")


def plot_labels(table: list[dict], path: str | os.PathLike, title: str) -> None:
    """Test error against the number of labelled images (log axes), mean ± std over seeds.

    Parameters
    ----------
    table : list of dict
        Rows with ``init``, ``activation``, ``labels``, ``test_error_mean`` and
        ``test_error_std`` (percent).
    """
    figure, axis = plt.subplots(figsize=(8, 5.5))
    specs = list(dict.fromkeys(f"{r['init']}:{r['activation']}" for r in table))
    for spec in specs:
        mine = sorted(
            (r for r in table if f"{r['init']}:{r['activation']}" == spec),
            key=lambda r: r["labels"],
        )
        axis.errorbar(
            [r["labels"] for r in mine],
            [r["test_error_mean"] for r in mine],
            yerr=[r["test_error_std"] for r in mine],
            capsize=3,
            label=spec,
            **contender_style(spec),
        )
    axis.set(xscale="log", xlabel="labelled training images", ylabel="test error %")
    tidy_axis(axis, log_y=True, integer_x=False)  # 20, not 2×10¹
    axis.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    axis.grid(alpha=0.3, which="both")
    _finish(figure, [axis], path, title)


def plot_notes_losses(curves: dict[str, list[float]], path: str | os.PathLike) -> None:
    """The notes' figure: loss per step on a log axis; as-written runs dashed."""
    figure, axis = plt.subplots(figsize=(8, 5))
    schemes = list(dict.fromkeys(label.split(" (")[0] for label in curves))
    for label, losses in curves.items():
        style = "--" if "as written" in label else "-"
        index = schemes.index(label.split(" (")[0])
        axis.plot(
            range(1, len(losses) + 1),
            losses,
            style,
            label=label,
            color=f"C{index % 10}",  # one colour per scheme
            marker=_MARKERS[index % len(_MARKERS)],
            markevery=max(1, len(losses) // 6),
        )
    axis.set(xlabel="Adam step (full batch)", ylabel="training cross-entropy")
    tidy_axis(axis, log_y=True)
    axis.set_title("The notes' synthetic task: loss by initialisation")
    axis.grid(alpha=0.3)
    _finish(figure, [axis], path)


def plot_depth(rows: list[dict], path: str | os.PathLike) -> None:
    """Per-layer activation spread and gradient norm, a column per activation."""
    activations = list(dict.fromkeys(row["activation"] for row in rows))
    schemes = list(dict.fromkeys(row["scheme"] for row in rows))
    figure, axes = plt.subplots(2, len(activations), figsize=(5 * len(activations), 8))
    for column, activation in enumerate(activations):
        for scheme in schemes:
            mine = [r for r in rows if r["activation"] == activation and r["scheme"] == scheme]
            style = {**contender_style(scheme), "linestyle": "-"}
            for row, key in enumerate(("activation_std", "grad_norm")):
                axes[row][column].plot(
                    [r["layer"] for r in mine], [r[key] for r in mine], label=scheme, **style
                )
        axes[0][column].set(title=f"{activation}: activation std")
        axes[1][column].set(title=f"{activation}: weight-gradient norm")
        for row in range(2):
            tidy_axis(axes[row][column], log_y=True)
            axes[row][column].set_xlabel("hidden layer")
            axes[row][column].grid(alpha=0.3)
    _finish(
        figure,
        [axes[0][-1]],
        path,
        "At initialisation: 10 hidden layers of 256 units, one batch",
    )
