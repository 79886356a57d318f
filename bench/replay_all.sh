#!/usr/bin/env bash
# Replay one data set through all seven models and compare them.
#   bench/replay_all.sh FILE FORMAT OUT_DIR [extra replay options...]
set -euo pipefail
file=$1 format=$2 out=$3; shift 3
mkdir -p "$out"
for model in transformer popularity trending cooc recent frozen retrain; do
  .venv/bin/recstream replay --file "$file" --format "$format" --model "$model" \
    --report "$out/$model.json" "$@"
done
.venv/bin/recstream compare "$out"/{transformer,popularity,trending,cooc,recent,frozen,retrain}.json \
  --plot "$out/ndcg10.png"
