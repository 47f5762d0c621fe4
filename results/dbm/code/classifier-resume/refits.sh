#!/bin/bash
# The code-schedule DBM's classifier refitted on all 60,000 images for the epochs each
# seed's validation run chose (seed 0: 28, seed 1: 32, seed 2: 51); resumable.
cd /root/runs/src-2ff3a2a
export OMP_NUM_THREADS=1 PYTHONPATH=/root/runs/src-2ff3a2a
for pair in "0 28" "1 32" "2 51"; do
  set -- $pair
  out=/root/runs/dbm-code-refit-s$1
  resume=""; [ -e "$out/config.json" ] && resume="--resume"
  nice -n 5 /work/main/.venv/bin/python scripts/dbm_finetune.py /root/runs/dbm-code/model.safetensors \
    --recipe salakhutdinov-hinton2009-code --mean-field-steps 50 --use-valid --epochs $2 \
    --out $out --seeds $1 $resume --no-progress || exit 1
done
