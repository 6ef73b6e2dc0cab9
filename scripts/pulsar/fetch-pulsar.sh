#!/usr/bin/env bash
# Fetch the jars of a whole Apache Pulsar standalone broker (broker, managed ledger, in-process
# BookKeeper, RocksDB metadata store, Pulsar's Java client and admin client, log4j2) from Maven
# Central into a cache, with `mvn dependency:copy-dependencies` on scripts/pulsar/pom.xml.
# scripts/pulsar/standalone.sh runs the broker from there. Idempotent: a complete cache for the
# same pom, version and options needs no network.
#
# Layout:
#   $KOP_CACHE_DIR/pulsar-$KOP_PULSAR_BROKER_VERSION/libs/*.jar   every runtime jar (211, 144 MB)
#   $KOP_CACHE_DIR/pulsar-$KOP_PULSAR_BROKER_VERSION/.complete    marker (hash of pom + options)
#
# Usage: scripts/pulsar/fetch-pulsar.sh [--print-env]
#   --print-env  print `export NAME=value` lines (KOP_PULSAR_BROKER_VERSION, KOP_PULSAR_HOME,
#                KOP_PULSAR_JAVA) for `eval "$(scripts/pulsar/fetch-pulsar.sh --print-env)"`
# Env: KOP_CACHE_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/kop-gateway),
#      KOP_PULSAR_BROKER_VERSION (default below), KOP_PULSAR_CLIENT_TOOLS=1 (add
#      pulsar-client-tools: pulsar-admin / pulsar-client CLIs; not on the reachable Maven Central
#      for 3.0.7), KOP_PULSAR_JAVA (java binary to run the broker with; default: see below),
#      MVN (default mvn).
#
# Version: 3.0.7 (LTS line 3.0, runs on Java 17) is the newest Pulsar whose broker resolves
# completely from the Maven Central this project reaches: 3.0.8+ and 4.0.9+ are not there at all,
# and 3.3.6 / 4.0.8 lack org.apache.pulsar:pulsar-opentelemetry, a module the broker cannot start
# without. See docs/pulsar-local.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pom="$here/pom.xml"

# Keep in sync with <pulsar.version> in scripts/pulsar/pom.xml and standalone.sh.
default_version="3.0.7"
version="${KOP_PULSAR_BROKER_VERSION:-$default_version}"
cache="${KOP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kop-gateway}"
home="$cache/pulsar-$version"
libs="$home/libs"
marker="$home/.complete"
mvn_bin="${MVN:-mvn}"
client_tools="${KOP_PULSAR_CLIENT_TOOLS:-0}"

print_env=0
for arg in "$@"; do
  case "$arg" in
    --print-env) print_env=1 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "fetch-pulsar.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

log() { echo "fetch-pulsar: $*" >&2; }

# Major.minor of a version, as one number (3.0.7 -> 300, 4.0.8 -> 400).
version_num() { local IFS=.; read -r a b _ <<<"$1"; echo $((a * 100 + b)); }

# The Java that runs this Pulsar: 3.0-3.2 run on Java 17, 3.3+ and 4.x need Java 21+.
java_major() { "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p' | head -1; }
pick_java() {
  if [[ -n "${KOP_PULSAR_JAVA:-}" ]]; then echo "$KOP_PULSAR_JAVA"; return; fi
  local need=17 cand best="" best_major=0 major
  (($(version_num "$version") >= 303)) && need=21
  for cand in "${JAVA_HOME:+$JAVA_HOME/bin/java}" "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
    [[ -n "$cand" && -x "$cand" ]] || continue
    major="$(java_major "$cand")"
    [[ -n "$major" ]] || continue
    # the first that is new enough, in the order above (JAVA_HOME, PATH, then the newest in /usr/lib/jvm)
    if ((major >= need)); then
      if [[ "$cand" != /usr/lib/jvm/* ]]; then echo "$cand"; return; fi
      if ((major > best_major)); then best="$cand"; best_major=$major; fi
    fi
  done
  [[ -n "$best" ]] && { echo "$best"; return; }
  return 1
}

# Pulsar 2.x/3.x log through slf4j 1.7, 4.x through slf4j 2: the log4j2 binding differs.
if (($(version_num "$version") >= 400)); then binding=log4j-slf4j2-impl; else binding=log4j-slf4j-impl; fi
profiles=()
[[ "$client_tools" == 1 ]] && profiles=(-Pclient-tools)

want="$(sha256sum "$pom" | cut -c1-16)-$version-$binding-tools$client_tools"
if [[ -f "$marker" && "$(cat "$marker")" == "$want" && -f "$libs/pulsar-broker-$version.jar" ]]; then
  log "cached: $libs ($(ls "$libs" | wc -l) jars)"
else
  command -v "$mvn_bin" >/dev/null || { log "maven ($mvn_bin) not found: install it (Debian: apt-get install maven)"; exit 1; }
  command -v java >/dev/null || { log "java not found: a JDK 17+ is needed"; exit 1; }
  log "fetching Pulsar $version standalone jars with Maven into $libs"
  start=$SECONDS
  mkdir -p "$home"
  tmp="$(mktemp -d "$home/.libs.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  # -B: batch (no colours, no prompts); -q: only errors. ~/.m2 is Maven's own cache.
  # excludeClassifiers: native builds of netty for other systems (macOS, Windows); Linux x86_64
  # and aarch64 stay.
  "$mvn_bin" -B -q -Dstyle.color=never -f "$pom" "${profiles[@]}" \
    -Dpulsar.version="$version" \
    -Dslf4j.binding="$binding" \
    dependency:copy-dependencies \
    -DincludeScope=runtime \
    -DexcludeClassifiers=osx-x86_64,osx-aarch_64,windows-x86_64 \
    -DoutputDirectory="$tmp/libs" >&2
  [[ -f "$tmp/libs/pulsar-broker-$version.jar" ]] || { log "maven finished but pulsar-broker-$version.jar is missing"; exit 1; }
  rm -rf "$libs"
  mv "$tmp/libs" "$libs"
  rm -rf "$tmp"
  trap - EXIT
  echo "$want" >"$marker"
  log "done in $((SECONDS - start))s: $(ls "$libs" | wc -l) jars, $(du -sh "$libs" | cut -f1)"
fi

if [[ "$print_env" == 1 ]]; then
  java_bin="$(pick_java)" || { log "no Java new enough for Pulsar $version found (3.3+ needs 21+): set KOP_PULSAR_JAVA"; exit 1; }
  printf 'export KOP_PULSAR_BROKER_VERSION=%q\n' "$version"
  printf 'export KOP_PULSAR_HOME=%q\n' "$home"
  printf 'export KOP_PULSAR_JAVA=%q\n' "$java_bin"
fi
