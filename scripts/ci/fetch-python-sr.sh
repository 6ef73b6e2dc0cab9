#!/usr/bin/env bash
# A Python virtual environment with confluent-kafka from PyPI and the libraries its
# schema_registry serializers need (fastavro, jsonschema, protobuf, ...), for the schema
# registry acceptance tests (test/e2e/schema-registry-clients.test.ts). The Debian package
# python3-confluent-kafka lacks the schema_registry extras, so this uses pip in a venv.
# Idempotent: a venv whose marker matches the requirements is reused without network.
#
# Layout: $KOP_CACHE_DIR/python-sr/venv/bin/python, marker $KOP_CACHE_DIR/python-sr/.complete
# Usage: scripts/ci/fetch-python-sr.sh [--print-env]
#   --print-env  print `export KOP_PYTHON_SR=<venv python>`
set -euo pipefail

cache="${KOP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kop-gateway}"
home="$cache/python-sr"
venv="$home/venv"
marker="$home/.complete"
# confluent-kafka's [avro,json,protobuf,schemaregistry] extras without the ones it does not need here
reqs="confluent-kafka==2.16.1 fastavro jsonschema protobuf googleapis-common-protos httpx attrs cachetools certifi authlib"
key="$(echo "$reqs $(python3 -V 2>&1)" | sha256sum | cut -c1-16)"

if [[ ! -f "$marker" || "$(cat "$marker")" != "$key" ]]; then
  rm -rf "$venv"
  mkdir -p "$home"
  python3 -m venv "$venv" >&2
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet --disable-pip-version-check $reqs >&2
  "$venv/bin/python" -c 'import confluent_kafka.schema_registry.avro, confluent_kafka.schema_registry.json_schema, confluent_kafka.schema_registry.protobuf' >&2
  echo "$key" >"$marker"
fi
if [[ "${1:-}" == "--print-env" ]]; then
  echo "export KOP_PYTHON_SR=$venv/bin/python"
else
  echo "python with confluent-kafka's schema registry serializers: $venv/bin/python" >&2
fi
