"""Every results table, regenerated from the committed run files under ``results/``.

    python -m studies.results            # rewrite each table and the README's headline
    python -m studies.results --check    # rewrite nothing; exit 1 naming what differs

The tables are Markdown files beside their data (``results/<study>/*.md``); the
documentation's results pages include them and ``README.md`` carries the headline table
between two markers. Nothing here is typed by hand: a figure that changes in the data
changes here, and ``tests/test_results.py`` fails until the pages are regenerated. The
shipped models' table is read from the cards in their files (``studies/model_cards.py``).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from dbn.io import safe_load, sha256_file
from studies.finetune_summary import TABLE_HEADER
from studies.finetune_summary import row as finetune_row

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
README = ROOT / "README.md"
HEADLINE = "headline"
SHIPPED = "shipped"

# The fine-tuning rows of the hinton2006 protocol: the DBN and the four random baselines.
FINETUNE_GROUPS = {
    # the papers' two fine-tuning protocols from the shipped DBN, as they evolved
    "protocols.md": [
        "hinton2006",
        "hinton2006-rbmm",
        "hinton2006-cg-e40",
        "hinton2006-cg-rbmm-e40",
        "dropout2014",
        "dropout2014-damped",
    ],
    "hinton2006-comparison.md": [
        "hinton2006-cg-rbmm-e40",
        "hinton2006-cg-e40",
        "hinton2006-cg-he-relu",
        "hinton2006-cg-xavier-relu",
        "hinton2006-cg-he-sigmoid",
        "hinton2006-cg-xavier-sigmoid",
    ],
    "dropout2014-comparison.md": ["dropout2014", "dropout2014-damped"],
}
# Validation-error curves of the dropout2014 choices (seed 0 on the 50,000/10,000 split):
# table file -> (row label, run directory under results/finetune) a row.
VALID_CURVES = {
    "dropout2014-momentum.md": [
        ("undampened, 0.05 (the recipe as first defined)", "dropout2014-valid-s0"),
        ("dampened, 1.0", "dropout2014-valid-damped-lr1-s0"),
        ("dampened, 2.0 (chosen)", "dropout2014-valid-damped-lr2-s0"),
    ],
    "dropout2014-maxnorm.md": [
        ("no max-norm (the recipe as first defined)", "dropout2014-valid-s0"),
        ("`--max-norm 3`", "dropout2014-valid-maxnorm3-s0"),
    ],
    "dropout2014-damped-maxnorm.md": [
        ("no max-norm (the recipe now)", "dropout2014-valid-damped-lr2-s0"),
        ("`--max-norm 3`", "dropout2014-valid-damped-maxnorm3-s0"),
    ],
}
CURVE_MARKS = (100, 200, 300, 400, 500)


def valid_curve_table(rows: list[tuple[str, str]]) -> str:
    """Validation error % of single runs at every hundredth epoch, the mean of the last
    50 epochs, and the best epoch."""
    lines = [
        "| run | " + " | ".join(map(str, CURVE_MARKS)) + " | mean of the last 50 | best (epoch) |",
        "|---|" + "---|" * (len(CURVE_MARKS) + 2),
    ]
    for label, name in rows:
        metrics = (RESULTS / "finetune" / name / "metrics.jsonl").read_text().splitlines()
        errors = {row["epoch"]: 100 * row["valid_error"] for row in map(json.loads, metrics)}
        last = [errors[epoch] for epoch in sorted(errors)[-50:]]
        best = min(errors, key=lambda epoch: (errors[epoch], epoch))
        marks = " | ".join(f"{errors[epoch]:.2f}" for epoch in CURVE_MARKS)
        lines.append(
            f"| {label} | {marks} | {statistics.mean(last):.2f} | {errors[best]:.2f} ({best}) |"
        )
    return "\n".join(lines) + "\n"


# The label-budget runs (studies/compare.py --preset labels, and its hinton2006 variant):
# results file -> (its table, its table of the DBN's lead).
LABEL_TABLES = {
    "results.csv": ("table.md", "margins.md"),
    "hinton2006-results.csv": ("hinton2006-table.md", "hinton2006-margins.md"),
}
# The RBM-500 likelihood runs (scripts/loglik.py), in the order the page discusses them.
LOGLIK_RUNS = [
    "cdk1",
    "cdk1kfinal25",
    "pcdk1",
    "ptk1",
    "pcdk1-600epochs",
    "pcdk1-600epochs-lr001",
    "pcdk1-600epochs-lr003",
    "pcdk1-1000epochs-lr001",
    "pcdk1-1000epochs-lr001-60k",
    "pcdk1-2000epochs-lr001",
]


def finetune_table(prefixes: list[str]) -> str:
    """The seeds of each fine-tuning run group, one row a group."""
    lines = TABLE_HEADER + [finetune_row(str(RESULTS / "finetune" / prefix)) for prefix in prefixes]
    return "\n".join(lines) + "\n"


# The fine-tuning page's runs on a validation split (the first 10,000 training images
# unless said): what each checked, and its result file under results/finetune/.
VALIDATION_RUNS = {
    "precision: L-BFGS, float32": "precision/float32-result.json",
    "precision: L-BFGS, bfloat16": "precision/bfloat16-result.json",
    "conjugate gradient, first version, float32 loss": (
        "cg/proxy-first-version-float32/result.json"
    ),
    "conjugate gradient, first version, bfloat16": "cg/proxy-first-version-bfloat16/result.json",
    "conjugate gradient, float64 loss, 60 epochs": "cg/proxy-cg64-60/result.json",
    "L-BFGS, bfloat16, 60 epochs": "cg/proxy-lbfgs-60/result.json",
    "initial weights: the shipped DBN (the guide's)": "rbm-m-init/proxy-shipped/result.json",
    "initial weights: a DBN with rbm.m's": "rbm-m-init/proxy-rbm-m/result.json",
    "He sigmoid, conjugate gradient, 50,000 images, 100 epochs": (
        "hinton2006-cg-he-sigmoid-valid-e100-s0/result.json"
    ),
}


def validation_runs_table() -> str:
    """Each checking run's epochs, best validation error and test error (that epoch's
    model), and training time."""
    lines = [
        "| run | epochs | best validation error % (epoch) | test error % | seconds |",
        "|---|---|---|---|---|",
    ]
    for label, path in VALIDATION_RUNS.items():
        result = json.loads((RESULTS / "finetune" / path).read_text())
        lines.append(
            f"| {label} | {result['epochs_trained']} | "
            f"{100 * result['best_valid_error']:.2f} ({result['best_epoch']}) | "
            f"{100 * result['test_error']:.2f} | {result['seconds']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def _mean_std(values: list[float]) -> str:
    """Mean ± sample std; one value alone has no spread to show."""
    if len(values) == 1:
        return f"{values[0]:.2f} (one seed)"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def _seeds_cell(values: list[float]) -> str:
    """Mean ± std of the finished seeds; a diverged run (NaN error) is counted, not hidden."""
    finished = [value for value in values if not math.isnan(value)]
    diverged = len(values) - len(finished)
    note = f"; {diverged} diverged" if diverged else ""
    if not finished:
        return f"all {diverged} diverged"
    return f"{_mean_std(finished)} ({len(finished)} seeds{note})"


def label_errors(path: Path) -> dict[str, dict[int, list[float]]]:
    """Test error % of every run of a label-budget ``results.csv``: contender → N → seeds."""
    errors: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    with path.open(newline="") as file:
        for run in csv.DictReader(file):
            contender = f"{run['init']}:{run['activation']}"
            errors[contender][int(run["labels"])].append(100 * float(run["test_error"]))
    return errors


def label_table(path: Path) -> str:
    """Test error %, mean ± std over seeds, a row a contender and a column a label count."""
    errors = label_errors(path)
    budgets = sorted({n for by_n in errors.values() for n in by_n})
    lines = [
        "| contender | " + " | ".join(f"{n:,} labels" for n in budgets) + " |",
        "|---|" + "---|" * len(budgets),
    ]
    for contender, by_n in errors.items():
        cells = [_seeds_cell(by_n[n]) if n in by_n else "" for n in budgets]
        lines.append(f"| {contender} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def label_margin_table(path: Path) -> str:
    """The CD-pretrained DBN's lead over the best random initialisation at each label
    budget, in points of test error (means over the finished seeds)."""
    errors = label_errors(path)

    def mean(values: list[float]) -> float:
        return statistics.mean(value for value in values if not math.isnan(value))

    random_inits = [name for name in errors if not name.startswith(("dbn", "logreg"))]
    lines = [
        "| labels | DBN (dbn-cd:sigmoid) % | best random initialisation % | lead (points) |",
        "|---|---|---|---|",
    ]
    for n in sorted(errors["dbn-cd:sigmoid"]):
        dbn_error = mean(errors["dbn-cd:sigmoid"][n])
        best = min(random_inits, key=lambda name: mean(errors[name][n]))
        best_error = mean(errors[best][n])
        lines.append(
            f"| {n:,} | {dbn_error:.2f} | {best} {best_error:.2f} | {best_error - dbn_error:.2f} |"
        )
    return "\n".join(lines) + "\n"


def loglik_result(name: str) -> dict:
    return json.loads((RESULTS / "loglik" / f"{name}-result.json").read_text())


# Groups of RBM-500 runs the likelihood page compares: table file -> runs.
LOGLIK_BRACKETS = {
    "negative-phases.md": ["cdk1", "pcdk1", "cdk1kfinal25", "ptk1"],
    "pcd-learning-rates.md": ["pcdk1-600epochs", "pcdk1-600epochs-lr003", "pcdk1-600epochs-lr001"],
}


def loglik_bracket_table(runs: list[str]) -> str:
    """Each run's log Z, test nats, held-out nats (when scored) and the RAISE … AIS
    bracket on the first test images."""
    lines = [
        "| run | log Z (±3σ) | test nats (AIS) | held-out nats | "
        "bracket on the first R test images: RAISE … AIS | train time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for name in runs:
        result = loglik_result(name)
        low, high = result["log_z_interval"]
        held_out = result.get("held_out_log_likelihood")
        lines.append(
            f"| {name} | {result['log_z']:.2f} ({low:.2f} – {high:.2f}) | "
            f"{result['test_log_likelihood']:.2f} | "
            f"{'—' if held_out is None else f'{held_out:.2f}'} | "
            f"{result['raise_log_likelihood']:.2f} … "
            f"{result['ais_log_likelihood_same_examples']:.2f} (R = {result['raise_examples']}) | "
            f"{result['train_seconds']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def loglik_table() -> str:
    """Each RBM-500 run's AIS log Z, test and train log-likelihood and training time."""
    lines = [
        "| run | method | epochs | training images | log Z (±3σ) | test nats | "
        "held-out nats | train nats | RAISE nats | train time (min) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in LOGLIK_RUNS:
        result = loglik_result(name)
        low, high = result["log_z_interval"]
        raise_nats = result.get("raise_log_likelihood")
        held_out = result.get("held_out_log_likelihood")
        lines.append(
            f"| {name} | {result['method']} | {result['epochs']} | "
            f"{result['training_images']:,} | {result['log_z']:.2f} ({low:.2f} – {high:.2f}) | "
            f"{result['test_log_likelihood']:.2f} | "
            f"{'—' if held_out is None else f'{held_out:.2f}'} | "
            f"{result['train_log_likelihood']:.2f} | "
            f"{'' if raise_nats is None else f'{raise_nats:.2f}'} | "
            f"{result['train_seconds'] / 60:.0f} |"
        )
    return "\n".join(lines) + "\n"


def loglik_rescoring_table() -> str:
    """Each shipped RBM scored again by an independent AIS (``loglik.py --score FILE
    --seed 1``: other random numbers), beside its run's own estimate."""
    lines = [
        "| run | AIS | log Z (±3σ) | test nats | bracket on the first R test images: RAISE … AIS |",
        "|---|---|---|---|---|",
    ]
    for path in sorted((RESULTS / "loglik").glob("*-score-seed1.json")):
        name = path.name.removesuffix("-score-seed1.json")
        for label, result in (
            ("the run's", loglik_result(name)),
            ("seed 1", json.loads(path.read_text())),
        ):
            low, high = result["log_z_interval"]
            lines.append(
                f"| {name} | {label} | {result['log_z']:.2f} ({low:.2f} – {high:.2f}) | "
                f"{result['test_log_likelihood']:.2f} | {result['raise_log_likelihood']:.2f} … "
                f"{result['ais_log_likelihood_same_examples']:.2f} "
                f"(R = {result['raise_examples']}) |"
            )
    return "\n".join(lines) + "\n"


# The compare.py studies tabulated by initialisation: their folders under results/.
INITIALISATION_STUDIES = (
    "initialisation/quick",
    "initialisation/digits",
    "initialisation/hinton2006",
    "notes/mnist",
    "notes/mnist-deep",
)


def initialisation_table(path: Path) -> str:
    """A ``compare.py`` study's ``results.csv``: test error % by initialisation, mean ± std
    over seeds, best first."""
    runs: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    with path.open(newline="") as file:
        for run in csv.DictReader(file):
            runs[(run["init"], run["activation"], run["lr"])].append(run)
    rows = []
    for (init, activation, lr), seeds in runs.items():
        errors = [100 * float(run["test_error"]) for run in seeds]
        epochs = statistics.mean(float(run["best_epoch"]) for run in seeds)
        rows.append((statistics.mean(errors), init, activation, lr, errors, epochs))
    lines = [
        "| init | activation | lr | test error % (mean ± std) | best epoch (mean) | seeds |",
        "|---|---|---|---|---|---|",
    ]
    for _, init, activation, lr, errors, epochs in sorted(rows):
        lines.append(
            f"| {init} | {activation} | {lr} | {_mean_std(errors)} | {epochs:.1f} | {len(errors)} |"
        )
    return "\n".join(lines) + "\n"


# One folder of ``studies/bench.py`` reports per machine it ran on; the first gives the
# README's headline.
SPEED_MACHINES = (RESULTS / "speed" / "intel-xeon", RESULTS / "speed" / "amd-epyc-zen5")
SPEED = SPEED_MACHINES[0]
# throughput-only runs repeated on a machine minutes after its main run: how far one
# run's ratios move there
SPEED_REPEATS = (RESULTS / "speed" / "amd-epyc-zen5-repeat",)
# ``--parts finetune`` runs: the fine-tuning by product route
SPEED_FINETUNING = (RESULTS / "speed" / "amd-epyc-zen5-finetune",)


def bench(folder: Path = SPEED) -> dict:
    """``studies/bench.py``'s committed report in ``folder``: its machine and its rows."""
    return json.loads((folder / "bench.json").read_text())


def speed_table(folder: Path = SPEED) -> str:
    """``studies/bench.py``'s rows: samples/s and the ratio each row is compared by."""
    report = bench(folder)
    machine = report["machine"]
    lines = [
        f"{machine['processor']}, {machine['cores']} cores; "
        f"torch {machine['torch']} ({machine['torch_blas']}), {machine['threads']} threads; "
        f"numpy BLAS: {'; '.join(machine['numpy_blas'])}",
        "",
        "| batch | contender | samples/s | ratio |",
        "|---|---|---|---|",
    ]
    full = report.get("full")
    if full is not None:
        minutes = (full["pretrain_seconds"] + full["finetune_seconds"]) / 60
        lines[1:1] = [
            "",
            f"The `hinton2006` recipe end to end (`--full`, float32): {minutes:.1f} minutes "
            f"(pretraining {full['pretrain_seconds'] / 60:.1f}, fine-tuning 30 epochs "
            f"{full['finetune_seconds'] / 60:.1f}).",
        ]
    routes = report.get("matmul_routes")
    if routes:  # what matmul="auto" chose by timing, in the run's own process
        shown = {  # one entry per shape (layouts of one shape were timed apart)
            f"{r['product']} ({'×'.join(map(str, r['input']))} by "
            f"{'×'.join(map(str, r['weight']))}ᵀ, {r['dtype']}) {r['route']}": None
            for r in routes
        }
        chosen = "; ".join(shown)
        lines[1:1] = ["", f'Product routes `matmul="auto"` chose: {chosen}.']
    for row in report["rows"]:
        ratio = f"{row['ratio']:.2f}× {row['ratio_to']}" if row["ratio"] is not None else "—"
        if row.get("peer_ratio") is not None:
            ratio += f"; {row['peer_ratio']:.2f}× {row['peer']}"
        lines.append(
            f"| {row['batch']} | {row['contender']} | {row['samples_per_s']:,.0f} | {ratio} |"
        )
    return "\n".join(lines) + "\n"


def floor_table(folder: Path = SPEED) -> str:
    """Each dbn row as a share of its method's floor (``bench.py``'s products and noise
    alone), beside the share that 2× scikit-learn's PCD-1 would need."""
    report = bench(folder)
    rates = {(row["batch"], row["contender"]): row["samples_per_s"] for row in report["rows"]}
    lines = [
        "| batch | dbn row | of the floor | 2× scikit-learn needs |",
        "|---|---|---|---|",
    ]
    for row in report["rows"]:
        name, batch = row["contender"], row["batch"]
        # the rows of another precision, stream or route are compared with dbn's own
        if not name.startswith("dbn") or any(
            mark in name for mark in ("mixed precision", "stream,", "route,")
        ):
            continue
        method = name.rsplit(" ", 1)[1]
        floor = rates[(batch, f"floor: the step's products and noise alone {method}")]
        target = 2 * rates[(batch, "scikit-learn BernoulliRBM PCD-1")]
        lines.append(
            f"| {batch} | {name} | {100 * row['samples_per_s'] / floor:.0f} % | "
            f"{100 * target / floor:.0f} % |"
        )
    return "\n".join(lines) + "\n"


# Matrix products of one CD-1 / PCD-1 step, in units of 2·784·hidden flops per example:
# the data's hidden layer, the visible means, the negatives' hidden layer and the weight
# gradient (its data and model rows: two units). The bench's PCD chains keep hidden
# states (as scikit-learn's), so PCD-1 starts with the visible means: the same five.
STEP_PRODUCTS = {"CD-1": 5, "PCD-1": 5}


def step_efficiency_table(folder: Path = SPEED) -> str:
    """The bare fused step's product rate (GFLOP/s) at the batch of ``bench.py --gemm``,
    as a fraction of the fastest float32 product that table measured; beside it the
    floor's (the step's products and noise alone): the most any exact step can reach."""
    report = bench(folder)
    gemm = json.loads((folder / "gemm.json").read_text())
    best = max(rate for row in gemm["gemm"] for key, rate in row.items() if key.endswith("_gflops"))
    batch = gemm["batch"]
    flops = 2 * 784 * report["settings"]["hidden"]
    lines = [
        "| step | batch | samples/s | step GFLOP/s | of the fastest product "
        f"({best:.0f} GFLOP/s) |",
        "|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        if row["batch"] != batch or not row["contender"].startswith(("dbn bare", "floor")):
            continue
        method = row["contender"].rsplit(" ", 1)[1]
        rate = row["samples_per_s"] * STEP_PRODUCTS[method] * flops / 1e9
        lines.append(
            f"| {row['contender']} | {batch} | {row['samples_per_s']:,.0f} | {rate:.0f} | "
            f"{100 * rate / best:.0f} % |"
        )
    return "\n".join(lines) + "\n"


def speed_targets_table(folder: Path = SPEED) -> str:
    """The speed issue's targets against ``bench.json`` (and ``gemm.json`` for the share of
    the product rate): each measured figure, its target, met or missed."""
    report = bench(folder)
    rates = {(row["batch"], row["contender"]): row for row in report["rows"]}
    lines = ["| target | batch | measured | met |", "|---|---|---|---|"]

    def add(target: str, batch: object, measured: float, goal: float, unit: str) -> None:
        met = measured <= goal if unit == " min" else measured >= goal
        shown = f"{measured:.2f}{unit}" if unit != " %" else f"{measured:.0f} %"
        lines.append(f"| {target} | {batch} | {shown} | {'yes' if met else 'no'} |")

    for batch in report["settings"]["batch_sizes"]:
        row = rates[(batch, "dbn DBN.pretrain PCD-1")]
        add("`DBN.pretrain` PCD-1 ≥ 2.0× scikit-learn", batch, row["ratio"], 2.0, "×")
    for batch in report["settings"]["batch_sizes"]:
        row = rates[(batch, "dbn DBN.pretrain CD-1")]
        if row.get("peer_ratio") is not None:
            add("`DBN.pretrain` CD-1 ≥ 2.5× learnergy", batch, row["peer_ratio"], 2.5, "×")
    gemm_path = folder / "gemm.json"  # absent from a throughput-only run
    gemm = json.loads(gemm_path.read_text()) if gemm_path.exists() else {"gemm": []}
    flops = 2 * 784 * report["settings"]["hidden"]
    for method in STEP_PRODUCTS if gemm["gemm"] else ():
        best = max(rate for row in gemm["gemm"] for k, rate in row.items() if k.endswith("_gflops"))
        row = rates.get((gemm["batch"], f"dbn bare fused step {method}"))
        if row is not None:
            share = 100 * row["samples_per_s"] * STEP_PRODUCTS[method] * flops / 1e9 / best
            add(
                f"the {method} step ≥ 70 % of the best product rate", gemm["batch"], share, 70, " %"
            )
    full = report.get("full")
    if full is not None:
        minutes = (full["pretrain_seconds"] + full["finetune_seconds"]) / 60
        add("`hinton2006` end to end ≤ 5 minutes (float32)", "—", minutes, 5.0, " min")
    return "\n".join(lines) + "\n"


def finetune_speed_table(folder: Path) -> str:
    """``studies/bench.py --parts finetune``: the hinton2006 fine-tuning's wall time by
    product route, and the routes ``"auto"`` took."""
    report = json.loads((folder / "finetune.json").read_text())
    seconds = report["seconds"]
    chosen = ", ".join(f"{layer} {route}" for layer, route in report["auto_routes"].items())
    return (
        "\n".join(
            [
                f"`hinton2006` fine-tuning of the shipped DBN, {report['epochs']} epochs, float32 "
                f"(best of {report['repeats']} interleaved runs each):",
                "",
                "| `--matmul` | minutes | ratio |",
                "|---|---|---|",
                f"| mm | {seconds['mm'] / 60:.2f} | — |",
                f"| auto ({chosen}) | {seconds['auto'] / 60:.2f} | "
                f"{seconds['mm'] / seconds['auto']:.2f}× mm |",
            ]
        )
        + "\n"
    )


def noise_table(folder: Path = SPEED) -> str:
    """``studies/bench.py --noise``: uniform numbers a second of each sampling stream."""
    report = json.loads((folder / "noise.json").read_text())
    lines = [
        f"{report['processor']}; torch {report['torch']}, numpy {report['numpy']}",
        "",
        "| sample | torch's generator (millions/s) | PCG64 stream (millions/s) | ratio |",
        "|---|---|---|---|",
    ]
    for row in report["noise"]:
        ratio = row["pcg64_msamples"] / row["torch_msamples"]
        lines.append(
            f"| {row['sample']} | {row['torch_msamples']:.0f} | {row['pcg64_msamples']:.0f} | "
            f"{ratio:.2f}× |"
        )
    return "\n".join(lines) + "\n"


def gemm_table(folder: Path = SPEED) -> str:
    """``studies/bench.py --gemm``: GFLOP/s of each product of the step, by route."""
    report = json.loads((folder / "gemm.json").read_text())
    lines = [
        f"{report['processor']}; torch {report['torch']}, {report['threads']} threads; "
        f"numpy BLAS: {'; '.join(report['numpy_blas'])}",
        "",
        "| product | torch.mm | oneDNN linear | numpy |",
        "|---|---|---|---|",
    ]
    for row in report["gemm"]:
        lines.append(
            f"| {row['product']} | {row['torch_gflops']:.0f} | {row['onednn_gflops']:.0f} | "
            f"{row['numpy_gflops']:.0f} |"
        )
    return "\n".join(lines) + "\n"


# The generative DBN's runs: the greedy model they start from, then each up-down run.
UPDOWN_RUNS = (
    "greedy",
    "lr0.01",
    "lr0.001",
    "lr0.003",
    "all60k",
    "lr0.003-all60k",
    "paper-300",
    "paper-300-all",
)
# A run that went on training another's model (the paper's last 59 epochs on all 60,000
# images): its epochs count on from that run's.
UPDOWN_CONTINUES = {
    "all60k": "lr0.001",
    "lr0.003-all60k": "lr0.003",
    "paper-300-all": "paper-300",
}


def updown_grid_table() -> str:
    """The paper recipe's validation grid (``results/updown/paper-grid``): each finished
    point's up-down learning rate, momentum and weight cost, and its validation error
    at its last epoch; the lowest marked."""
    points = []
    for folder in sorted((RESULTS / "updown" / "paper-grid").glob("lr*")):
        config = json.loads((folder / "config.json").read_text())["updown"]
        rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
        last = next(row for row in reversed(rows) if "valid_error" in row)
        points.append((config, last))
    best = min(100 * last["valid_error"] for _, last in points)
    lines = [
        "| up-down lr | momentum | weight cost | epochs | validation error % |",
        "|---|---|---|---|---|",
    ]
    for config, last in points:
        error = 100 * last["valid_error"]
        shown = f"**{error:.2f}**" if error == best else f"{error:.2f}"
        lines.append(
            f"| {config['lr']:g} | {config['momentum']:g} | {config['weight_decay']:g} | "
            f"{last['epoch']} | {shown} |"
        )
    return "\n".join(lines) + "\n"


def updown_table() -> str:
    """The generative DBN on MNIST (scripts/updown.py, scored by scripts/updown_report.py):
    generative classification after greedy pretraining and after each up-down run, then
    each run's validation error as it went."""
    folder = RESULTS / "updown"
    lines = [
        "| model | up-down lr | up-down epochs | test error % (free energy) | "
        "training images' error % (50,000 / 10,000 validation) | samples recognised % |",
        "|---|---|---|---|---|---|",
    ]
    curves, trained = {}, {"greedy": 0}
    for name in UPDOWN_RUNS:
        report = json.loads((folder / name / "report.json").read_text())
        lr, epochs = "—", "0"
        if name != "greedy":
            config = json.loads((folder / name / "config.json").read_text())
            lr = config["updown"]["lr"]
            rows = [
                json.loads(row)
                for row in (folder / name / "metrics.jsonl").read_text().splitlines()
            ]
            # the epochs the run trained, by its own record (a report of a model file
            # cannot know them)
            trained[name] = rows[-1]["epoch"]
            epochs = f"{trained[name]}"
            curve = {row["epoch"]: row for row in rows if "valid_error" in row}
            if curve:  # runs on all 60,000 images have no validation split
                curves[name] = curve
            if name in UPDOWN_CONTINUES:
                before = trained[UPDOWN_CONTINUES[name]]
                images = "all 60,000 images" if config["use_valid"] else "the same images"
                steps = "/".join(map(str, config["updown"]["cd_steps"]))
                epochs = f"{before} + {epochs} ({images}, k {steps})"
        lines.append(
            f"| {name} | {lr} | {epochs} | "
            f"{100 * report['test_error']:.2f} | {100 * report['train_error']:.2f} / "
            f"{100 * report['valid_error']:.2f} | {100 * report['samples_recognised']:.0f} |"
        )
    backprop = _group_errors("hinton2006-cg-rbmm-e40")
    lines += [
        f"| the same shape fine-tuned by backprop (`hinton2006` recipe, no label units; "
        f"{len(backprop)} seeds) | — | — | {_mean_std(backprop)} (a softmax layer) | | |",
        "| the paper | — | 300 + 59 | 1.25 (1.39 after the 300) | | |",
    ]
    epochs = sorted({epoch for curve in curves.values() for epoch in curve})
    lines += [
        "",
        "| epoch | " + " | ".join(f"validation error % ({name})" for name in curves) + " |",
        "|---|" + "---|" * len(curves),
    ]
    for epoch in epochs:
        cells = [
            f"{100 * curve[epoch]['valid_error']:.2f} (k {curve[epoch]['k']})"
            if epoch in curve
            else ""
            for curve in curves.values()
        ]
        lines.append(f"| {epoch} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _seeds_row(label: str, seeds: list, errors: list, epochs: list, valid: list) -> str:
    """A classifier row of the DBM's table: each seed's figures, the errors' mean ± std;
    a dash for the selection's columns when nothing was selected (epochs and validation
    errors of None)."""
    chosen = (
        "— | —"
        if all(epoch is None for epoch in epochs)
        else (
            f"{', '.join(str(epoch) for epoch in epochs)} | "
            f"{', '.join(f'{error:.2f}' for error in valid)}"
        )
    )
    return (
        f"| {label} | {', '.join(str(seed) for seed in seeds)} | "
        f"{', '.join(f'{error:.2f}' for error in errors)} | {_mean_std(errors)} | {chosen} |"
    )


def _finetune_runs(run: Path) -> list[tuple[dict, list[dict]]]:
    """A DBM run's classifiers (its ``finetune*`` folders), one entry per protocol:
    folders whose configs differ only in their seeds (one run per seed, or seeds run
    apart) join, and so do refits on all images (``use_valid``) that differ only in the
    epochs each seed's own selection chose; each seed's row carries its ``epochs``."""
    joined: dict[str, tuple[dict, list[dict]]] = {}
    for folder in sorted(run.glob("finetune*")):
        config = json.loads((folder / "config.json").read_text())
        # what may differ within a protocol: the seeds, the hash of a config that holds
        # them, and for a refit the epochs its seed's selection chose
        apart = {"seeds", "config_sha256"} | ({"epochs"} if config.get("use_valid") else set())
        same = {k: v for k, v in config.items() if k not in apart}
        same["command"] = {k: v for k, v in config.get("command", {}).items() if k not in apart}
        same["finetune"] = {k: v for k, v in config["finetune"].items() if k not in apart}
        key = json.dumps(same, sort_keys=True)
        rows = [
            {**json.loads(line), "epochs": config["finetune"]["epochs"]}
            for line in (folder / "results.jsonl").read_text().splitlines()
        ]
        joined.setdefault(key, (config, []))[1].extend(rows)
    protocols = sorted(joined.values(), key=lambda entry: bool(entry[0].get("use_valid")))
    return [(config, sorted(rows, key=lambda row: row["seed"])) for config, rows in protocols]


def dbm_baseline_rows(path: Path) -> list[str]:
    """``compare.py --preset dbm2009``'s contenders (the DBM classifier's 784-500-1000
    shape, fine-tuned as the DBM classifier is) as rows of the DBM's classifier table."""
    runs: dict[str, list[dict]] = defaultdict(list)
    with path.open(newline="") as file:
        for run in csv.DictReader(file):
            runs[f"{run['init']}:{run['activation']}"].append(run)
    return [
        _seeds_row(
            contender,
            [run["seed"] for run in seeds],
            [100 * float(run["test_error"]) for run in seeds],
            [run["best_epoch"] for run in seeds],
            [100 * float(run["best_valid_error"]) for run in seeds],
        )
        for contender, seeds in runs.items()
    ]


# The DBM's jointly trained models, each a folder of its run's files: the recipe's
# first, shortened run (100 joint epochs), then the recipe's 300, both from one greedy
# model of 50 epochs a layer (greedy-config.json), then the whole recipe, then the
# labelled recipe on binary samples (shortened to fit a working session).
DBM_RUNS = ("", "joint300", "recipe", "labels", "code")
# Runs whose joint training never stepped the label weights and biases (DBMTrainer's
# optimiser held only the weights and biases between layers until 2026-12-07): their
# label units kept RBM 2's values, so these are figures of that model, not of the
# labelled recipe's.
FROZEN_LABEL_RUNS = ("labels",)


def _dbm_run_label(folder: Path, config: dict, frozen_labels: bool = False) -> str:
    """A run of ``scripts/dbm.py`` named by its epochs, ``G1/G2 greedy, J joint epochs``:
    the greedy epochs its own config names, or for a run started from another's greedy
    model the epochs of ``greedy-config.json``; ``with label units`` for a model that has
    them (marked where joint training left them frozen), ``on binary samples`` for a run
    trained on them (``--binarize``)."""
    greedy = config
    if config.get("start_from"):
        greedy = json.loads((folder / "greedy-config.json").read_text())
    epochs = "/".join(str(layer["epochs"]) for layer in greedy["pretrain"])
    labels = " with label units" if config.get("n_labels") else ""
    if frozen_labels:
        labels += " (label weights frozen: a bug, see the text)"
    binary = " on binary samples" if config["joint"].get("binarize") else ""
    return f"{epochs} greedy, {config['joint']['epochs']} joint epochs{labels}{binary}"


def dbm_table() -> str:
    """The DBM on MNIST (scripts/dbm.py, dbm_report.py, dbm_finetune.py): each run's
    likelihood under each AIS estimate of log Z, its classifier's test error beside the
    baselines', and the joint training's held-out curves."""
    folder = RESULTS / "dbm"
    runs = {}
    for name in DBM_RUNS:
        config = json.loads((folder / name / "config.json").read_text())
        runs[_dbm_run_label(folder, config, name in FROZEN_LABEL_RUNS)] = folder / name
    lines = [
        "| model | AIS estimate of log Z | log Z | log(Ẑ ± 3σ̂) | test nats (lower bound) | "
        "train nats (lower bound) |",
        "|---|---|---|---|---|---|",
    ]
    for label, run in runs.items():
        for path in sorted(run.glob("report*.json")):
            report = json.loads(path.read_text())
            lines.append(
                f"| {label} | {report['ais_betas']:,} temperatures, {report['ais_runs']} runs "
                f"(`{path.relative_to(folder)}`) | {report['log_z']:.2f} | "
                f"{report['log_z_low']:.2f} to {report['log_z_high']:.2f} | "
                f"{report['test_bound']:.2f} ± {report['test_bound_standard_error']:.2f} | "
                f"{report['train_bound']:.2f} |"
            )
    lines.append("| the paper (2-layer DBM) | | — | — | −84.62 | −83.61 |")
    lines += [
        "",
        "| classifier | seeds | test error % | mean ± std | best epoch | validation error % |",
        "|---|---|---|---|---|---|",
    ]
    for label, run in runs.items():
        for path in sorted(run.glob("report*.json")):
            report = json.loads(path.read_text())
            if "test_label_error" in report:
                lines.append(
                    f"| the DBM itself, the label of highest q(y given v) ({label}) | | "
                    f"{100 * report['test_label_error']:.2f} | | | |"
                )
        for config, seeds in _finetune_runs(run):
            epochs = ", ".join(dict.fromkeys(str(row["epochs"]) for row in seeds))
            how = f"{epochs} fine-tuning epochs"
            if config.get("use_valid"):
                how += " on all 60,000 images"
            lines.append(
                _seeds_row(
                    f"DBM classifier ({label}, {how})",
                    [row["seed"] for row in seeds],
                    [100 * row["test_error"] for row in seeds],
                    [row["best_epoch"] for row in seeds],
                    [
                        None if row["valid_error"] is None else 100 * row["valid_error"]
                        for row in seeds
                    ],
                )
            )
    lines += [
        *dbm_baseline_rows(folder / "baselines" / "results.csv"),
        "| the paper: DBM, DBN, backprop from random weights | | | 0.95, 1.2, 1.6 | | |",
    ]
    for label, run in runs.items():
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        if not any("valid_reconstruction" in row for row in rows):
            continue  # trained on all 60,000 images: no held-out curve
        labelled = any("valid_label_error" in row for row in rows)
        lines += [
            "",
            f"| joint epoch ({label}) | learning rate | reconstruction error (training) | "
            "(validation) |"
            + (" validation error of the DBM's own labels % |" if labelled else ""),
            "|---|---|---|---|" + ("---|" if labelled else ""),
        ]
        for row in rows:
            if "valid_reconstruction" in row:
                own = f" {100 * row['valid_label_error']:.2f} |" if labelled else ""
                lines.append(
                    f"| {row['epoch']} | {row['lr']:.5f} | {row['reconstruction']:.3f} | "
                    f"{row['valid_reconstruction']:.3f} |{own}"
                )
    return "\n".join(lines) + "\n"


def first_hour_table(path: Path) -> str:
    """The defaults on the digits (studies/first_hour.py): test error % by contender."""
    errors: dict[str, list[float]] = defaultdict(list)
    with path.open(newline="") as file:
        for run in csv.DictReader(file):
            errors[run["contender"]].append(100 * float(run["test_error"]))
    lines = ["| contender (every option at its default) | test error % | seeds |", "|---|---|---|"]
    for contender, values in errors.items():
        lines.append(f"| {contender} | {_mean_std(values)} | {len(values)} |")
    return "\n".join(lines) + "\n"


def _sklearn_folds(path: Path, outer: str, inner: str) -> dict:
    """studies/sklearn_table.py's rows grouped by two of their columns: ``{outer value:
    {inner value: [(accuracy, seconds) of each fold]}}``."""
    by: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    with path.open(newline="") as file:
        for row in csv.DictReader(file):
            by[row[outer]][row[inner]].append((float(row["accuracy"]), float(row["seconds"])))
    return by


def sklearn_table(path: Path) -> str:
    """``DBNClassifier()`` beside ``MLPClassifier()`` (studies/sklearn_table.py): per
    dataset, each one's accuracy over the folds and seconds a fold, the accuracy gap in
    points and the time ratio (the issue's bars: within 2 points, at most 2×)."""
    by = _sklearn_folds(path, "dataset", "contender")
    lines = [
        "| dataset | DBNClassifier() accuracy | MLPClassifier() accuracy | gap (points) | "
        "DBNClassifier() s a fold | MLPClassifier() s a fold | time ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for dataset, contenders in by.items():
        (_, ours), (_, theirs) = sorted(contenders.items())
        cells = []
        for folds in (ours, theirs):
            accuracy = [a for a, _ in folds]
            cells.append(f"{statistics.mean(accuracy):.4f} ± {statistics.stdev(accuracy):.4f}")
        gap = 100 * (statistics.mean(a for a, _ in theirs) - statistics.mean(a for a, _ in ours))
        seconds = [statistics.mean(t for _, t in folds) for folds in (ours, theirs)]
        lines.append(
            f"| {dataset} | {cells[0]} | {cells[1]} | {gap:.2f} | {seconds[0]:.2f} | "
            f"{seconds[1]:.2f} | {seconds[0] / seconds[1]:.1f}× |"
        )
    return "\n".join(lines) + "\n"


def sklearn_selection_table(path: Path) -> str:
    """How DBNClassifier's defaults were chosen (studies/sklearn_table.py --select): each
    candidate's accuracy on the selection's folds, per dataset, and its seconds a fold."""
    by = _sklearn_folds(path, "contender", "dataset")
    datasets = list(next(iter(by.values())))
    lines = [
        "| candidate | " + " | ".join(f"{d} accuracy | {d} s a fold" for d in datasets) + " |",
        "|---|" + "---|---|" * len(datasets),
    ]
    for candidate, results in by.items():
        cells = [
            f"{statistics.mean(a for a, _ in results[d]):.4f} | "
            f"{statistics.mean(t for _, t in results[d]):.2f}"
            for d in datasets
        ]
        lines.append(f"| {candidate} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def first_hour_selection_table(path: Path) -> str:
    """How DBNClassifier's defaults were chosen (studies/first_hour.py --select): each
    candidate's cross-validation error % on the training parts, best first."""
    errors: dict[str, list[float]] = defaultdict(list)
    with path.open(newline="") as file:
        for run in csv.DictReader(file):
            errors[run["candidate"]].append(100 * float(run["valid_error"]))
    lines = ["| candidate | cross-validation error % | folds |", "|---|---|---|"]
    for candidate, values in sorted(errors.items(), key=lambda item: statistics.mean(item[1])):
        lines.append(f"| {candidate} | {_mean_std(values)} | {len(values)} |")
    return "\n".join(lines) + "\n"


def _group_errors(prefix: str) -> list[float]:
    runs = sorted((RESULTS / "finetune").glob(f"{prefix}-s[0-9]*"))
    return [100 * json.loads((run / "result.json").read_text())["test_error"] for run in runs]


def headline_table() -> str:
    """The README's table: one row per question, each cell computed from results/."""
    dbn_full = _group_errors("hinton2006-cg-rbmm-e40")
    he_full = _group_errors("hinton2006-cg-he-relu")
    labels = label_errors(RESULTS / "labels" / "hinton2006-results.csv")
    random_inits = [name for name in labels if not name.startswith(("dbn", "logreg"))]
    random_name = min(random_inits, key=lambda name: statistics.mean(labels[name][100]))
    best_rbm = loglik_result("pcdk1-2000epochs-lr001")
    lines = [
        "| question | dbn | strongest random-init baseline | reference | details |",
        "|---|---|---|---|---|",
        f"| MNIST test error %, 60,000 labels, 784-500-500-2000 (`hinton2006` recipe) | "
        f"{_mean_std(dbn_full)} ({len(dbn_full)} seeds) | He/ReLU {_mean_std(he_full)} | "
        "1.2 (Hinton & Salakhutdinov 2006) | [fine-tuning](docs/results/finetune.md) |",
        f"| MNIST test error %, 100 labels, 784-500-500-2000 | "
        f"{_seeds_cell(labels['dbn-cd:sigmoid'][100])} | {random_name} "
        f"{_seeds_cell(labels[random_name][100])} | — | "
        "[label budgets](docs/results/labels.md) |",
        f"| MNIST test log-likelihood, RBM-500 (PCD-1, {best_rbm['epochs']} epochs), AIS | "
        f"{best_rbm['test_log_likelihood']:.2f} nats (on {best_rbm['raise_examples']} of the "
        f"test images: AIS {best_rbm['ais_log_likelihood_same_examples']:.2f}, RAISE "
        f"{best_rbm['raise_log_likelihood']:.2f}) | — | -86.34 (Salakhutdinov & Murray 2008, "
        "CD-25) | "
        "[likelihood](docs/results/loglik.md) |",
    ]
    for folder in SPEED_MACHINES:  # a row per machine: the two order differently
        report = bench(folder)
        speed = {(row["batch"], row["contender"]): row for row in report["rows"]}
        public = [speed[(batch, "dbn DBN.pretrain PCD-1")] for batch in (100, 1000)]
        sklearn = [speed[(row["batch"], row["ratio_to"])] for row in public]
        dbn_rates = " / ".join(f"{row['samples_per_s']:,.0f}" for row in public)
        ratios = " / ".join(f"{row['ratio']:.2f}×" for row in public)
        sklearn_rates = " / ".join(f"{row['samples_per_s']:,.0f}" for row in sklearn)
        cpu = report["machine"]["processor"].split(" Processor")[0].replace("(R)", "")
        lines.append(
            f"| CPU training speed, RBM 784×500, PCD-1, float32, batch 100 / 1000 "
            f"(samples/s), {cpu} | {dbn_rates} ({ratios} scikit-learn) | — | "
            f"BernoulliRBM {sklearn_rates} | [speed](docs/results/speed.md) |"
        )
    return "\n".join(lines) + "\n"


def _figure(name: str, value: float) -> str:
    if name == "test_error":
        return f"test error {100 * value:.2f} %"
    if name.endswith("_nats"):
        return f"{name.removesuffix('_nats').replace('_', ' ')} {value:.2f} nats"
    return f"{name.replace('_', ' ')} {value:.2f}"


def shipped_table() -> str:
    """The shipped models, each row read from the card in the file's own metadata."""
    lines = ["| file | what | data | figures | sha256 |", "|---|---|---|---|---|"]
    for path in sorted((ROOT / "pretrained").glob("*.safetensors")):
        blob = safe_load(path)
        card = blob["extra"]["card"]
        figures = ", ".join(_figure(name, value) for name, value in card["figures"].items())
        config = blob["config"]
        sizes = config.get("sizes") or [config["n_visible"], config["n_hidden"]]
        lines.append(
            f"| `{path.name}` | {blob['kind']} {'-'.join(map(str, sizes))} | "
            f"{card['data']} | {figures} ({card['figures_from']}) | "
            f"`{sha256_file(path)[:12]}…` |"
        )
    return "\n".join(lines) + "\n"


def rendered() -> dict[Path, str]:
    """Every generated file's path and the text it should hold."""
    pages = {
        RESULTS / "finetune" / name: finetune_table(prefixes)
        for name, prefixes in FINETUNE_GROUPS.items()
    }
    for name, rows in VALID_CURVES.items():
        pages[RESULTS / "finetune" / name] = valid_curve_table(rows)
    for data, (table, margins) in LABEL_TABLES.items():
        pages[RESULTS / "labels" / table] = label_table(RESULTS / "labels" / data)
        pages[RESULTS / "labels" / margins] = label_margin_table(RESULTS / "labels" / data)
    pages[RESULTS / "loglik" / "table.md"] = loglik_table()
    pages[RESULTS / "finetune" / "validation-runs.md"] = validation_runs_table()
    pages[RESULTS / "loglik" / "independent-ais.md"] = loglik_rescoring_table()
    for name, runs in LOGLIK_BRACKETS.items():
        pages[RESULTS / "loglik" / name] = loglik_bracket_table(runs)
    pages[RESULTS / "pretrained" / "table.md"] = shipped_table()
    for seeds in ("seeds0-2", "seeds3-7"):  # the target's seeds, then five more
        run = RESULTS / "first-hour" / seeds
        pages[run / "table.md"] = first_hour_table(run / "results.csv")
    selection = RESULTS / "first-hour" / "selection"
    pages[selection / "table.md"] = first_hour_selection_table(selection / "selection.csv")
    sklearn = RESULTS / "sklearn"
    for machine in ("defaults", "defaults-amd-epyc-zen5"):  # one run directory a machine
        pages[sklearn / machine / "table.md"] = sklearn_table(sklearn / machine / "results.csv")
    selection = sklearn / "selection"
    pages[selection / "table.md"] = sklearn_selection_table(selection / "selection.csv")
    for folder in SPEED_MACHINES:
        pages[folder / "table.md"] = speed_table(folder)
        pages[folder / "gemm.md"] = gemm_table(folder)
        pages[folder / "targets.md"] = speed_targets_table(folder)
        pages[folder / "noise.md"] = noise_table(folder)
        pages[folder / "efficiency.md"] = step_efficiency_table(folder)
        pages[folder / "floor.md"] = floor_table(folder)
    for folder in SPEED_FINETUNING:
        pages[folder / "finetune.md"] = finetune_speed_table(folder)
    for folder in SPEED_REPEATS:
        pages[folder / "table.md"] = speed_table(folder)
        pages[folder / "targets.md"] = speed_targets_table(folder)
    for study in INITIALISATION_STUDIES:
        data = RESULTS / study / "results.csv"
        pages[data.with_name("table.md")] = initialisation_table(data)
    pages[RESULTS / "updown" / "table.md"] = updown_table()
    pages[RESULTS / "updown" / "paper-grid" / "table.md"] = updown_grid_table()
    pages[RESULTS / "dbm" / "table.md"] = dbm_table()
    readme = with_block(README.read_text(), HEADLINE, headline_table())
    pages[README] = with_block(readme, SHIPPED, shipped_table())
    return pages


def markers(block: str) -> tuple[str, str]:
    """The two comments between which the README holds a generated ``block``."""
    return (
        f"<!-- results:{block} begin (studies/results.py writes this table) -->",
        f"<!-- results:{block} end -->",
    )


def with_block(readme: str, block: str, table: str) -> str:
    """``readme`` with the text between ``block``'s markers replaced by ``table``."""
    begin, end = markers(block)
    if begin not in readme or end not in readme:
        raise SystemExit(f"{README} lacks the {block} markers {begin!r} and {end!r}")
    before, rest = readme.split(begin, 1)
    _, after = rest.split(end, 1)
    return f"{before}{begin}\n{table}{end}{after}"


def shown(path: Path) -> str:
    """``path`` relative to the clone where it lies inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 naming each stale file"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    pages = rendered()  # every table computed before anything is written
    stale = [path for path, text in pages.items() if not path.is_file() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{shown(path)} differs from what results/ gives", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(pages[path])
        print(f"wrote {shown(path)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
