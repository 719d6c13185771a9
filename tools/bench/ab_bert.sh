#!/bin/bash
# A/B: PyTorch (../shared/bench/torch_bert.py) against `kiln bench`, the same
# BERT model, alternating runs at 1 and 2 threads; both print one JSON line
# with the same keys. Summarise with: python3 tools/bench/summarize.py bert LOG
# Usage (repo root): go build -o /tmp/kiln ./cmd/kiln && bash tools/bench/ab_bert.sh ../shared/bench > LOG
bench="${1:-../shared/bench}"
configs="${CONFIGS:-tiny mini}"
for rep in 1 2 3; do
  for th in 1 2; do
    for cfg in $configs; do
      OPENBLAS_NUM_THREADS=$th OMP_NUM_THREADS=$th OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 "$bench/torch_bert.py" --config $cfg --threads $th --tag torch
      /tmp/kiln bench --config $cfg --threads $th --tag kiln
    done
  done
done
