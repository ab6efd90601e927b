#!/bin/bash
# Speed-up of pruned minilm-l6-sst2 models over the original on onnxruntime's CPU provider, for the
# "quiet machine" table of docs/results/defaults.md (issue 12).
#
#   docs/results/speedup.sh OUTDIR
#
# Prunes ../shared/models/minilm-l6-sst2 at 40-80% FLOPs reduction (default setting, 20k SST-2
# calibration tokens: the structure, not the accuracy, sets the speed), then times each pruned
# model against the original with `kprune bench --baseline` (both models interleaved in one
# process) at batch 1 x 128 and 32 x 64 tokens, 1 and 2 threads, and writes OUTDIR/speedup.tsv.
# Run it on an otherwise idle machine. Needs bin/kprune (make build).
set -eu
out=$1
mkdir -p "$out"
cd "$(dirname "$0")/../.."
S=../shared M=../shared/models/minilm-l6-sst2
printf 'reduction\tbatch\tseq\tthreads\tspeedup\n' > "$out/speedup.tsv"
for r in 0.4 0.5 0.6 0.7 0.8; do
  [ -f "$out/p$r.onnx" ] || ./bin/kprune prune --model $M/model.onnx --tokenizer $M/vocab.txt --calib $S/data/glue/sst2/train.tsv \
    --max-len 64 --tokens 20000 --flops-reduction $r --out "$out/p$r.onnx" --force > "$out/p$r.log"
  for cfg in "1 128 1" "1 128 2" "32 64 1" "32 64 2"; do
    set -- $cfg
    runs=30; [ "$1" = 32 ] && runs=10
    s=$(./bin/kprune bench --model "$out/p$r.onnx" --baseline $M/model.onnx --batch "$1" --seq "$2" --threads "$3" --runs $runs --warmup 3 --json |
      grep -o '"speedup": [0-9.]*' | cut -d' ' -f2)
    printf '%s\t%s\t%s\t%s\t%s\n' "$r" "$1" "$2" "$3" "$s" >> "$out/speedup.tsv"
  done
done
