#!/bin/bash
# K-prune with [ours] --fisher --auto-lambda over 0.4..0.8 on both shared models.
mkdir -p "${OUT:-/tmp/kprune-sweep}"
cd "$(dirname "$0")/../.."
V=../shared/data/tokenizers/bert-base-uncased/vocab.txt
for model in tiny-bert-sst2 bert-l4-sst2; do
  for r in 0.4 0.5 0.6 0.7 0.8; do
    out=${OUT:-/tmp/kprune-sweep}/$model-$r.onnx
    ./bin/kprune prune --model ../shared/models/$model/model.onnx --tokenizer $V --calib ../shared/data/glue/sst2/train.tsv --max-len 64 --bucket --threads 1 --flops-reduction $r --fisher --auto-lambda --out $out --force > ${OUT:-/tmp/kprune-sweep}/$model-$r.log 2>&1
    acc=$(./bin/kprune eval --model $out --teacher ../shared/models/$model/model.onnx --tokenizer $V --data ../shared/data/glue/sst2/dev.tsv --max-len 64 --json --threads 1 | grep -o '"accuracy": [0-9.]*\|"agreement": [0-9.]*' | tr '\n' ' ')
    ach=$(grep -o "achieved [0-9.]*%" ${OUT:-/tmp/kprune-sweep}/$model-$r.log)
    echo "$model $r $ach $acc" >> ${OUT:-/tmp/kprune-sweep}/sweep.txt
  done
done
echo done >> ${OUT:-/tmp/kprune-sweep}/sweep.txt
