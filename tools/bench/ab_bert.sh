#!/bin/bash
# A/B: PyTorch torch_bert.py vs kiln BenchmarkBertStep, alternating, 1 and 2 threads.
# Usage: from the repo root, go test -c -o /tmp/kiln-tensor.test ./tensor, then
#   bash tools/bench/ab_bert.sh ../shared/bench
cd "${1:-../shared/bench}"
for rep in 1 2 3; do
  for th in 1 2; do
    for cfg in tiny mini; do
      OPENBLAS_NUM_THREADS=$th OMP_NUM_THREADS=$th OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 torch_bert.py --config $cfg --threads $th --tag rep$rep
    done
    GOMAXPROCS=$th /tmp/kiln-tensor.test -test.run XXX -test.bench BertStep -test.benchtime 5x | grep Benchmark | sed "s/^/rep$rep threads$th /"
  done
done
echo done
