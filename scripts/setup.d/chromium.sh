#!/usr/bin/env bash
# Headless Chromium for the console's end-to-end test (driven by playwright-core, whose own
# browser download cannot reach its servers from build machines). Idempotent.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
apt_install chromium fonts-dejavu-core
