#!/usr/bin/env bash
# Data-parallel step time of kiln train at 1, 2 and 4 ranks (Open MPI, one
# machine; 4 ranks oversubscribe a 2-core box) with the same global batch, and
# the all-reduce bandwidth benchmark. Needs openmpi-bin libopenmpi-dev
# pkg-config. Usage: tools/bench/scaling.sh MODEL_DIR [STEPS]
# MODEL_DIR: a BERT directory (config.json + tokenizer; weights unused: --init random).
set -euo pipefail
model=${1:?model dir}; steps=${2:-30}
cd "$(dirname "$0")/../.."
go build -tags mpi -o /tmp/kiln-mpi ./cmd/kiln
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader \
  OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_pml=ob1 OMPI_MCA_mtl='^ofi,psm,psm2' OMPI_MCA_osc='^ucx'
global=32
for np in 1 2 4; do
  out=$(mktemp -d)
  args=(train --model "$model" --init random --task text-classification
    --train_file datasets/fine_foods_train.csv --text_column review --label_column score --max_length 128
    --per_device_train_batch_size $((global / np)) --max_steps "$steps" --logging_steps 10
    --save_strategy no --save_final_model=false --output_dir "$out" --disable_tqdm)
  if [ "$np" = 1 ]; then
    GOMAXPROCS=2 /tmp/kiln-mpi "${args[@]}" >/dev/null 2>&1
  else
    mpirun --oversubscribe -np "$np" -x GOMAXPROCS=$(( np >= 2 ? 1 : 2 )) /tmp/kiln-mpi "${args[@]}" >/dev/null 2>&1
  fi
  python3 -c "import json,sys; r=json.load(open('$out/train_results.json')); print('ranks $np: %.3f steps/s, %.0f ms/step (global batch $global)' % (r['train_steps_per_second'], 1000/r['train_steps_per_second']))"
  rm -rf "$out"
done
go test -tags mpi -run '^$' -bench AllReduceBandwidth -benchtime=1x ./dist/ | grep -E 'Benchmark|GB/s'
