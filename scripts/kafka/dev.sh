#!/usr/bin/env bash
# `npm run kafka`: a local broker for `npm start` users, kept under .data/kafka between runs.
# Runs in the foreground; Ctrl-C stops the broker.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.d/kafka.sh
mkdir -p .data
line=$(bash scripts/services/kafka.sh start .data | tail -n 1)
trap 'bash scripts/services/kafka.sh stop .data' EXIT INT TERM
echo "kafka: broker ready; in another shell: export $line"
echo "kafka: log in .data/kafka/server.log; Ctrl-C stops it"
while [ -f .data/kafka/pid ] && kill -0 "$(cat .data/kafka/pid 2>/dev/null)" 2>/dev/null; do sleep 1; done
