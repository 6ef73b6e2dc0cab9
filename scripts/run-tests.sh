#!/usr/bin/env bash
# `npm test`'s runner: node --test over the built test files, with one Apache Pulsar standalone
# broker shared by every test file of the run (test/helpers/pulsar.ts starts it on first use in
# $KOP_TEST_PULSAR_DIR). This script gives the run a fresh folder for it and stops and removes
# the broker when the tests end, whatever their outcome. Arguments: the test files.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
own_dir=0
if [[ -z "${KOP_TEST_PULSAR_DIR:-}" ]]; then
  KOP_TEST_PULSAR_DIR="$(mktemp -d "${TMPDIR:-/tmp}/kop-test-pulsar.XXXXXX")"
  own_dir=1
fi
export KOP_TEST_PULSAR_DIR
cleanup() {
  if [[ -f "$KOP_TEST_PULSAR_DIR/pulsar.pid" ]]; then
    bash scripts/pulsar/standalone.sh stop --dir "$KOP_TEST_PULSAR_DIR" --quiet >/dev/null 2>&1 || true
  fi
  if [[ "$own_dir" == 1 ]]; then rm -rf "$KOP_TEST_PULSAR_DIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
tap="$(mktemp "${TMPDIR:-/tmp}/kop-test-tap.XXXXXX")"
main_reporter=tap
[[ -t 1 ]] && main_reporter=spec
node --test --test-concurrency=1 \
  --test-reporter="$main_reporter" --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" "$@"
status=$?
skipped="$(grep -E '^ *ok [0-9]+ - .* # SKIP' "$tap" | grep -v 'test name does not match pattern' | sed -E 's/^ *ok [0-9]+ - //')"
if [[ -n "$skipped" ]]; then
  echo
  echo "Skipped tests ($(printf '%s\n' "$skipped" | wc -l)), with the reason:"
  printf '%s\n' "$skipped" | sed 's/^/  /'
fi
rm -f "$tap"
exit "$status"
