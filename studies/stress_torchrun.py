"""Run the torchrun pretraining and fine-tuning of the test suite many times and count
the runs that fail; not part of CI (minutes to hours).

    python -m studies.stress_torchrun --runs 100 --out runs/stress

Each run is `torchrun --standalone --nproc_per_node=2` of `scripts/pretrain.py` or
`scripts/finetune.py` on the digits, one thread a process, as
`tests/training/test_distributed.py` runs them; start a busy process beside it to
reproduce a loaded machine. Prints one line a run and, at the end, the failures with the
tail of their stderr; writes `stress.json` into `--out`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JOBS = {
    "pretrain": ["scripts/pretrain.py", "--sizes", "64", "32", "16", "--epochs", "3"],
    "finetune": [
        "scripts/finetune.py",
        "--init",
        "xavier_uniform",
        "--sizes",
        "64",
        "32",
        "--epochs",
        "3",
    ],  # fmt: skip
}


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100, help="runs of each job (100)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("runs/stress"),
        help="folder for each run and stress.json (runs/stress)",
    )
    return parser


def main(args: argparse.Namespace) -> int:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    failures, counts = [], {job: 0 for job in JOBS}
    for number in range(args.runs):
        for job, arguments in JOBS.items():
            out = args.out / f"{job}-{number}"
            shutil.rmtree(out, ignore_errors=True)
            command = [
                sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc_per_node=2", *arguments, "--dataset", "digits", "--no-progress",
                "--out", str(out),
            ]  # fmt: skip
            done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
            counts[job] += 1
            print(f"{job} {number}: exit {done.returncode}", flush=True)
            if done.returncode != 0:
                failures.append({"job": job, "run": number, "stderr": done.stderr[-3000:]})
            shutil.rmtree(out, ignore_errors=True)
    summary = {"runs": counts, "failures": len(failures), "failed": failures}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "stress.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({"runs": counts, "failures": len(failures)}))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(get_args_parser().parse_args()))
