#!/usr/bin/env bash
# For Figure 7 of a hybrid training run (bench/figure7.ts): keeps the model of the run's last stage-1
# checkpoint while each source was the one pre-training, in RUN/stage1/after-source-K (K counts the
# sources in training order; once source K+1 has started it holds the end of source K's pre-training).
# Start it beside `ifan train` (or its --resume); it stops when stage 2 begins.
#
#   nohup bash bench/keep-stage1.sh RUN_DIR > keep-stage1.log 2>&1 &
set -u
run=${1:?usage: keep-stage1.sh RUN_DIR}
seen=""
while sleep 20; do
  latest=$(ls -d "$run"/checkpoints/step-* 2>/dev/null | sort | tail -1)
  [ -n "$latest" ] && [ "$latest" != "$seen" ] || continue
  sleep 5 # let the trainer finish writing it
  k=$(node -e 'const s = JSON.parse(require("fs").readFileSync(process.argv[1] + "/state.json", "utf8")); let k = -1; s.samplers.forEach((x, i) => { if (x.epoch >= 0) k = i; }); console.log(k)' "$latest") || continue
  if tail -1 "$run"/log.jsonl | grep -q '"stage":"finetune"'; then echo "stage 2 started"; exit 0; fi
  mkdir -p "$run"/stage1/after-source-"$k"
  cp "$latest"/model.json "$latest"/weights.bin "$latest"/state.json "$run"/stage1/after-source-"$k"/
  echo "$(date -u +%H:%M) $latest -> stage1/after-source-$k"
  seen=$latest
done
