#!/usr/bin/env bash
# Fetches the Apache Kafka broker jars (KRaft, no ZooKeeper) from Maven Central into .tools/kafka/libs
# for the test harness (scripts/services/kafka.sh) and the dev broker (npm run kafka).
# Idempotent: skipped when the jars of the pinned pom are already there.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh

apt_install maven openjdk-17-jre-headless
dest=.tools/kafka
want=$(sha256sum scripts/kafka/pom.xml | cut -d' ' -f1)
if [ "$(cat "$dest/.stamp" 2>/dev/null)" = "$want" ]; then exit 0; fi
echo "setup: fetching Apache Kafka jars from Maven Central"
rm -rf "$dest/libs"
mkdir -p "$dest"
mvn -q -B -f scripts/kafka/pom.xml dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$PWD/$dest/libs"
echo "$want" >"$dest/.stamp"
