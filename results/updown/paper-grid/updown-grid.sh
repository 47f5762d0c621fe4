#!/usr/bin/env bash
# The up-down validation grid of the paper recipe: 20-epoch runs from one greedy start,
# lr x weight decay at momentum 0.9, one after another; a killed run resumes.
set -u
cd ~/runs/src-ac78408
START=~/runs/updown-paper-lr0.01-m0.9-wd1e-5
while [ ! -f "$START/result.json" ]; do sleep 60; done
for lr in 0.003 0.01 0.03; do
  for wd in 0 1e-5 1e-4; do
    out=~/runs/updown-paper-lr$lr-m0.9-wd$wd
    [ -f "$out/result.json" ] && continue
    resume=(); [ -f "$out/config.json" ] && resume=(--resume)
    OMP_NUM_THREADS=1 PYTHONPATH=$PWD nice -n 5 /work/main/.venv/bin/python scripts/updown.py \
      --recipe hinton-osindero-teh2006-paper --epochs 20 --lr $lr --momentum 0.9 \
      --weight-decay $wd --start-from $START/greedy.safetensors --out $out --no-progress "${resume[@]}"
  done
done
