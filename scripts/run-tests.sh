#!/usr/bin/env bash
# `npm test`'s runner: node --test over the built test files, with one Apache Pulsar standalone
# broker shared by every test file of the run (test/helpers/pulsar.ts starts it on first use in
# $KOP_TEST_PULSAR_DIR; scripts/pulsar/standalone.sh serialises concurrent starts). This script
# gives the run a fresh folder for it and stops and removes the broker when the tests end,
# whatever their outcome. Arguments: the test files.
#
# Two lanes run at once, each one file at a time. The side lane runs the unit and contract tests
# (pure logic and the storage engines in process, ~3.5 min) and then some end-to-end files; the main
# lane runs the other end-to-end files (real clients, JVMs, brokers, which wait on I/O and on other
# processes for much of their time: one lane of them left the 2-core machine ~46% idle). The
# end-to-end files are split by test/e2e/lane-weights.tsv (seconds per file in a clean run),
# longest first, each to the lane with less work so far. The main lane prints as it goes; the
# side lane's report is printed after it, then one total. KOP_TEST_LANES=1 runs everything in one
# lane, one file at a time.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
own_dir=0
if [[ -z "${KOP_TEST_PULSAR_DIR:-}" ]]; then
  KOP_TEST_PULSAR_DIR="$(mktemp -d "${TMPDIR:-/tmp}/kop-test-pulsar.XXXXXX")"
  own_dir=1
fi
export KOP_TEST_PULSAR_DIR
work="$(mktemp -d "${TMPDIR:-/tmp}/kop-test-run.XXXXXX")"
side_pid=""
cleanup() {
  if [[ -n "$side_pid" ]]; then kill -- "-$side_pid" 2>/dev/null || kill "$side_pid" 2>/dev/null || true; fi
  if [[ -f "$KOP_TEST_PULSAR_DIR/pulsar.pid" ]]; then
    bash scripts/pulsar/standalone.sh stop --dir "$KOP_TEST_PULSAR_DIR" --quiet >/dev/null 2>&1 || true
  fi
  if [[ "$own_dir" == 1 ]]; then rm -rf "$KOP_TEST_PULSAR_DIR"; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

main_files=()
side_files=()
if [[ "${KOP_TEST_LANES:-2}" == 1 ]]; then
  main_files=("$@")
else
  # unit and contract files to the side lane (their ~210 s count as its first work); end-to-end
  # files by weight, longest first, to the lane with less work so far (ties: main)
  e2e=()
  for f in "$@"; do
    if [[ "$f" =~ /(unit|contract)/ ]]; then side_files+=("$f"); else e2e+=("$f"); fi
  done
  if ((${#e2e[@]})); then
    side_load=0
    ((${#side_files[@]})) && side_load=210
    while IFS=$'\t' read -r lane f; do
      if [[ "$lane" == side ]]; then side_files+=("$f"); else main_files+=("$f"); fi
    done < <(
      for f in "${e2e[@]}"; do
        w="$(awk -F'\t' -v b="$(basename "$f")" '$1 == b { print $2; exit }' test/e2e/lane-weights.tsv 2>/dev/null)"
        printf '%s\t%s\n' "${w:-30}" "$f"
      done | sort -t$'\t' -k1,1nr -k2,2 | awk -F'\t' -v side="$side_load" '
        { w = $1 + 0; if (w < 1) w = 1
          if (side < main) { side += w; print "side\t" $2 } else { main += w; print "main\t" $2 } }'
    )
  fi
fi
if ((${#main_files[@]} == 0)); then main_files=("${side_files[@]}"); side_files=(); fi

main_reporter=tap
[[ -t 1 ]] && main_reporter=spec

side_status=0
if ((${#side_files[@]})); then
  # its own process group, so that cleanup can stop it with its children
  set -m
  node --test --test-concurrency=1 \
    --test-reporter=spec --test-reporter-destination="$work/side.out" \
    --test-reporter=tap --test-reporter-destination="$work/side.tap" "${side_files[@]}" \
    >"$work/side.stdout" 2>&1 &
  side_pid=$!
  set +m
fi

node --test --test-concurrency=1 \
  --test-reporter="$main_reporter" --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$work/main.tap" "${main_files[@]}"
status=$?

if [[ -n "$side_pid" ]]; then
  wait "$side_pid"
  side_status=$?
  side_pid=""
  echo
  echo "==== side lane: unit and contract tests, then end-to-end files (${#side_files[@]} files, run beside the ones above) ===="
  cat "$work/side.out" "$work/side.stdout" 2>/dev/null
fi

# one total over both lanes, from their TAP summaries
total() { cat "$work"/*.tap 2>/dev/null | awk -v k="$1" '$1 == "#" && $2 == k { s += $3 } END { print s + 0 }'; }
echo
echo "# all lanes: tests $(total tests), pass $(total pass), fail $(total fail), cancelled $(total cancelled), skipped $(total skipped), todo $(total todo)"

skipped="$(cat "$work"/*.tap 2>/dev/null | grep -E '^ *ok [0-9]+ - .* # SKIP' | grep -v 'test name does not match pattern' | sed -E 's/^ *ok [0-9]+ - //')"
if [[ -n "$skipped" ]]; then
  echo
  echo "Skipped tests ($(printf '%s\n' "$skipped" | wc -l)), with the reason:"
  printf '%s\n' "$skipped" | sed 's/^/  /'
fi
((status == 0)) && status=$side_status
exit "$status"
