#!/bin/bash
# One K-prune run per line of a plan, appended to a result table (issue 12's sweeps).
#
#   docs/results/sweep.sh PLAN OUTDIR
#
# PLAN lines: MODEL REDUCTION TAG [extra kprune prune flags...]; MODEL is a folder under
# ../shared/models, or a path to a folder, holding model.onnx and vocab.txt. CALIB, EVAL, MAXLEN
# and METRIC (default: SST-2 train, SST-2 dev, 64, accuracy) select other data and metric. Each run prunes on SST-2 train with the given flags,
# measures the speed-up over the original (onnxruntime, batch 32 x 64, 1 thread, p50 of 5 interleaved runs), evaluates on SST-2 dev against the original and
# appends "model tag reduction achieved accuracy agreement prune_seconds speedup" to
# OUTDIR/results.tsv. Needs bin/kprune (make build).
set -u
plan=$1 out=$2
mkdir -p "$out"
cd "$(dirname "$0")/../.."
S=../shared
while read -r model r tag flags; do
  [ -z "$model" ] || [ "${model:0:1}" = "#" ] && continue
  case $model in
    */*) M=$model/model.onnx V=$model/vocab.txt; model=$(basename "$(dirname "$model")")-$(basename "$model") ;;
    *) M=$S/models/$model/model.onnx V=$S/models/$model/vocab.txt ;;
  esac
  [ -f "$V" ] || V=$S/data/tokenizers/bert-base-uncased/vocab.txt
  name=$model-$tag-$r
  [ -f "$out/$name.done" ] && continue
  start=$(date +%s.%N)
  # shellcheck disable=SC2086
  ./bin/kprune prune --model "$M" --tokenizer "$V" --calib "${CALIB:-$S/data/glue/sst2/train.tsv}" --max-len "${MAXLEN:-64}" \
    --flops-reduction "$r" --threads "${THREADS:-1}" --out "$out/$name.onnx" --force $flags > "$out/$name.log" 2>&1 || { echo "$name failed" >> "$out/failed.txt"; continue; }
  secs=$(echo "$(date +%s.%N) - $start" | bc)
  ev=$(./bin/kprune eval --model "$out/$name.onnx" --teacher "$M" --tokenizer "$V" \
    --data "${EVAL:-$S/data/glue/sst2/dev.tsv}" --max-len "${MAXLEN:-64}" --json --threads "${THREADS:-1}")
  acc=$(echo "$ev" | grep -o "\"${METRIC:-accuracy}\": [0-9.]*" | head -1 | cut -d' ' -f2)
  agr=$(echo "$ev" | grep -o '"agreement": [0-9.]*' | head -1 | cut -d' ' -f2)
  ach=$(grep -o "achieved [0-9.]*%" "$out/$name.log" | cut -d' ' -f2)
  spd=$(./bin/kprune bench --model "$out/$name.onnx" --baseline "$M" --threads 1 --runs 5 --warmup 2 --seq 64 --json |
    grep -o '"speedup": [0-9.]*' | cut -d' ' -f2)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%.0f\t%s\n' "$model" "$tag" "$r" "$ach" "$acc" "$agr" "$secs" "$spd" >> "$out/results.tsv"
  rm -f "$out/$name.onnx"
  touch "$out/$name.done"
done < "$plan"
