#!/usr/bin/env bash
# Fetch the Java artifacts the test harness and the benchmark reference need
# (Apache Kafka client, CLI tools and broker, with all runtime dependencies)
# from Maven Central into a cache. Idempotent: a second run that finds a
# complete cache for the same pom and version does nothing and needs no network.
#
# Layout (see .ci/README.md):
#   $KOP_CACHE_DIR/kafka-$KOP_KAFKA_VERSION/libs/*.jar   every runtime jar
#   $KOP_CACHE_DIR/kafka-$KOP_KAFKA_VERSION/.complete    marker (hash of the pom)
#   $KOP_CACHE_DIR/kafka-streams-$KOP_KAFKA_VERSION/libs/*.jar   Kafka Streams and
#       its runtime jars (java/streams-pom.xml), with a .complete marker of its own
#   $KOP_CACHE_DIR/kafka-connect-$KOP_KAFKA_VERSION/libs/*.jar   Kafka Connect (runtime,
#       FileStream connectors, MirrorMaker 2) and its runtime jars (java/connect-pom.xml), likewise
#
# Usage: scripts/ci/fetch-java-deps.sh [--print-env]
#   --print-env  print `export NAME=value` lines for the env vars the helpers
#                read (for `eval "$(scripts/ci/fetch-java-deps.sh --print-env)"`)
# Env: KOP_CACHE_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/kop-gateway),
#      KOP_KAFKA_VERSION (default: the pom's, below), MVN (default mvn).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pom="$here/java/pom.xml"

# Keep in sync with <kafka.version> in scripts/ci/java/pom.xml and
# DEFAULT_KAFKA_VERSION in test/helpers/clients/paths.ts.
default_version="4.3.1"
version="${KOP_KAFKA_VERSION:-$default_version}"
cache="${KOP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kop-gateway}"
home="$cache/kafka-$version"
libs="$home/libs"
marker="$home/.complete"
mvn_bin="${MVN:-mvn}"

print_env=0
for arg in "$@"; do
  case "$arg" in
    --print-env) print_env=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "fetch-java-deps.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

log() { echo "fetch-java-deps: $*" >&2; }

want="$(sha256sum "$pom" | cut -c1-16)-$version"
if [[ -f "$marker" && "$(cat "$marker")" == "$want" && -f "$libs/kafka-clients-$version.jar" ]]; then
  log "cached: $libs ($(ls "$libs" | wc -l) jars)"
else
  command -v "$mvn_bin" >/dev/null || { log "maven ($mvn_bin) not found: install it (Debian: apt-get install maven)"; exit 1; }
  command -v java >/dev/null || { log "java not found: a JDK 17+ is needed"; exit 1; }
  log "fetching Kafka $version jars with Maven into $libs"
  mkdir -p "$home"
  tmp="$(mktemp -d "$home/.libs.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  # -B: batch (no colours, no prompts); -q: only errors. ~/.m2 is Maven's own cache.
  "$mvn_bin" -B -q -Dstyle.color=never -f "$pom" \
    -Dkafka.version="$version" \
    dependency:copy-dependencies \
    -DincludeScope=runtime \
    -DoutputDirectory="$tmp" >&2
  [[ -f "$tmp/kafka-clients-$version.jar" ]] || { log "maven finished but kafka-clients-$version.jar is missing"; exit 1; }
  rm -rf "$libs"
  mv "$tmp" "$libs"
  trap - EXIT
  echo "$want" >"$marker"
  log "done: $(ls "$libs" | wc -l) jars, $(du -sh "$libs" | cut -f1)"
fi

# Acceptance apps: a folder of its own per app, so the client/broker folder above
# is never replaced because of them. fetch_extra NAME POM MAIN_JAR fetches the
# runtime jars of POM into $cache/NAME-$version/libs (with a .complete marker).
fetch_extra() {
  local name="$1" xpom="$2" main_jar="$3"
  local xhome="$cache/$name-$version"
  local xlibs="$xhome/libs" xmarker="$xhome/.complete"
  local xwant
  xwant="$(sha256sum "$xpom" | cut -c1-16)-$version"
  if [[ -f "$xmarker" && "$(cat "$xmarker")" == "$xwant" && -f "$xlibs/$main_jar" ]]; then
    log "cached: $xlibs ($(ls "$xlibs" | wc -l) jars)"
    return 0
  fi
  command -v "$mvn_bin" >/dev/null || { log "maven ($mvn_bin) not found: install it (Debian: apt-get install maven)"; exit 1; }
  log "fetching $name $version jars with Maven into $xlibs"
  mkdir -p "$xhome"
  # (global: the EXIT trap reads it)
  xtmp="$(mktemp -d "$xhome/.libs.XXXXXX")"
  trap 'rm -rf "$xtmp"' EXIT
  "$mvn_bin" -B -q -Dstyle.color=never -f "$xpom" \
    -Dkafka.version="$version" \
    dependency:copy-dependencies \
    -DincludeScope=runtime \
    -DoutputDirectory="$xtmp" >&2
  [[ -f "$xtmp/$main_jar" ]] || { log "maven finished but $main_jar is missing"; exit 1; }
  rm -rf "$xlibs"
  mv "$xtmp" "$xlibs"
  trap - EXIT
  echo "$xwant" >"$xmarker"
  log "done: $(ls "$xlibs" | wc -l) jars, $(du -sh "$xlibs" | cut -f1)"
}
# Kafka Streams (test/e2e/kafka-streams.test.ts)
fetch_extra kafka-streams "$here/java/streams-pom.xml" "kafka-streams-$version.jar"
# Kafka Connect with the FileStream connectors and MirrorMaker 2 (test/e2e/kafka-connect.test.ts, mirror-maker.test.ts)
fetch_extra kafka-connect "$here/java/connect-pom.xml" "connect-mirror-$version.jar"

if [[ "$print_env" == 1 ]]; then
  printf 'export KOP_CACHE_DIR=%q\n' "$cache"
  printf 'export KOP_KAFKA_VERSION=%q\n' "$version"
  printf 'export KOP_KAFKA_HOME=%q\n' "$home"
  printf 'export KOP_JAVA_CLASSPATH=%q\n' "$libs/*"
  printf 'export KOP_STREAMS_CLASSPATH=%q\n' "$cache/kafka-streams-$version/libs/*"
  printf 'export KOP_CONNECT_CLASSPATH=%q\n' "$cache/kafka-connect-$version/libs/*"
fi
