#!/usr/bin/env bash
# Smoke test of the local Pulsar standalone broker of scripts/pulsar/: fetch the jars (cached),
# start a broker in a fresh temporary folder on free ports, then
#   - REST admin API with the admin token (curl): create a tenant and a namespace, grant
#     produce+consume on it to a role, create a partitioned topic (3 partitions), read them back;
#   - authentication/authorization: no token, a token signed with another key, a plain role on a
#     superuser operation are refused; the proxy role forwarding an original principal
#     (X-Original-Principal) is allowed for a granted role and refused for another;
#   - Pulsar's Java client (PulsarSmoke.java) with the granted role's token: produce and consume
#     messages on the partitioned topic, each with broker entry metadata (index, publish time);
#     a role without grants is refused;
#   - with --restart: stop and start the broker again, and consume again (data and ports kept);
# then stop the broker and delete the folder (--keep: leave both running/there).
# Prints the time of each step and a closing 'smoke: N passed, N failed' line; exit 1 on a failure.
#
# Usage: scripts/pulsar/smoke.sh [--restart] [--keep] [--count N] [--dir D]
#   --dir D  use D (must not hold a broker's state yet) instead of a new temporary folder;
#            D is left in place (only a temporary folder is deleted)
# Env: as fetch-pulsar.sh and standalone.sh (KOP_CACHE_DIR, KOP_PULSAR_BROKER_VERSION, ...).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
restart=0 keep=0 count=10 dir=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --restart) restart=1; shift ;;
    --keep) keep=1; shift ;;
    --count) count="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "smoke.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

passed=0 failed=0
now_ms() { date +%s%3N; }
t_step=0
step() { t_step=$(now_ms); echo "--- $*"; }
took() { echo "    ($(($(now_ms) - t_step)) ms)"; }
ok() { passed=$((passed + 1)); echo "  ok   $*"; }
fail() { failed=$((failed + 1)); echo "  FAIL $*"; }

t_all=$(now_ms)
step "fetch jars"
eval "$(bash "$here/fetch-pulsar.sh" --print-env)"
took

own_dir=0
if [[ -z "$dir" ]]; then
  dir="$(mktemp -d "${TMPDIR:-/tmp}/kop-pulsar-smoke.XXXXXX")"
  own_dir=1
else
  [[ ! -e "$dir/conf" ]] || { echo "smoke.sh: $dir already holds a broker's state" >&2; exit 2; }
  mkdir -p "$dir"
fi
standalone() { bash "$here/standalone.sh" "$@" --dir "$dir"; }
cleanup() {
  if [[ "$keep" == 1 ]]; then
    echo "kept: broker and $dir (stop: $here/standalone.sh stop --dir $dir)"
  else
    standalone stop --quiet >/dev/null 2>&1 || true
    if [[ "$own_dir" == 1 ]]; then rm -rf "$dir"; fi
  fi
}
trap cleanup EXIT

step "start broker ($dir)"
standalone start --port auto --web-port auto
took
# shellcheck disable=SC1091
. "$dir/standalone.env"
pid="$(cat "$dir/pulsar.pid")"
W="$PULSAR_WEB_URL"
ADMIN="Authorization: Bearer $(cat "$PULSAR_ADMIN_TOKEN_FILE")"
PROXY="Authorization: Bearer $(cat "$PULSAR_PROXY_TOKEN_FILE")"
standalone token app >"$dir/auth/app.token"
standalone token nobody >"$dir/auth/nobody.token"
APP="Authorization: Bearer $(cat "$dir/auth/app.token")"

# http METHOD PATH EXPECTED_CODE DESCRIPTION [curl args...]: one REST call, checked by status code
http() {
  local method="$1" path="$2" want="$3" what="$4" code
  shift 4
  code="$(curl -s -o "$dir/last-body" -w '%{http_code}' -X "$method" "$@" "$W$path")"
  if [[ "$code" == "$want" ]]; then ok "$what: HTTP $code"; else fail "$what: HTTP $code, expected $want: $(head -c 300 "$dir/last-body")"; fi
}
JSON=(-H 'Content-Type: application/json')

step "REST admin API with the admin token"
http PUT /admin/v2/tenants/smoke 204 "create tenant smoke" -H "$ADMIN" "${JSON[@]}" -d '{"adminRoles":[],"allowedClusters":["standalone"]}'
http PUT /admin/v2/namespaces/smoke/ns 204 "create namespace smoke/ns" -H "$ADMIN"
http POST /admin/v2/namespaces/smoke/ns/permissions/app 204 "grant produce,consume on smoke/ns to role app" -H "$ADMIN" "${JSON[@]}" -d '["produce","consume"]'
http GET /admin/v2/namespaces/smoke/ns/permissions 200 "read permissions" -H "$ADMIN"
grep -Eq '"app":\[("consume","produce"|"produce","consume")\]' "$dir/last-body" && ok "permissions: $(cat "$dir/last-body")" || fail "permissions: $(cat "$dir/last-body")"
http PUT /admin/v2/persistent/smoke/ns/events/partitions 204 "create partitioned topic smoke/ns/events (3)" -H "$ADMIN" "${JSON[@]}" -d '3'
http GET /admin/v2/persistent/smoke/ns/events/partitions 200 "read partitioned topic metadata" -H "$ADMIN"
grep -q '"partitions":3' "$dir/last-body" && ok "metadata: $(cat "$dir/last-body")" || fail "metadata: $(cat "$dir/last-body")"
took

step "authentication and authorization (REST)"
http GET /admin/v2/clusters 401 "no token"
# a well-formed token signed with another key
other="$(mktemp -d)"; mkdir -p "$other/auth"; openssl rand 32 >"$other/auth/secret.key"
forged="$(bash "$here/standalone.sh" token admin --dir "$other")"; rm -rf "$other"
http GET /admin/v2/clusters 401 "admin token signed with another key" -H "Authorization: Bearer $forged"
http GET /admin/v2/tenants 401 "role app on a superuser operation" -H "$APP"
http GET /admin/v2/persistent/smoke/ns/events/partitioned-stats 200 "role app reads stats of its topic" -H "$APP"
http GET /admin/v2/persistent/smoke/ns/events/partitioned-stats 200 "proxy role for original principal app" -H "$PROXY" -H "X-Original-Principal: app"
http GET /admin/v2/persistent/smoke/ns/events/partitioned-stats 401 "proxy role for original principal nobody" -H "$PROXY" -H "X-Original-Principal: nobody"
took

# Pulsar's Java client, quiet
cat >"$dir/conf/client-log4j2.xml" <<'EOF'
<Configuration status="warn"><Appenders><Console name="c" target="SYSTEM_ERR"><PatternLayout pattern="%d{HH:mm:ss.SSS} %-5level %c{1} - %msg%n"/></Console></Appenders>
<Loggers><Root level="warn"><AppenderRef ref="c"/></Root></Loggers></Configuration>
EOF
client() {
  "$KOP_PULSAR_JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -Dlog4j.configurationFile="$dir/conf/client-log4j2.xml" \
    -cp "$KOP_PULSAR_HOME/libs/*" "$here/PulsarSmoke.java" "$@"
}
step "Java client: produce and consume $count messages on persistent://smoke/ns/events as role app; role nobody refused"
if client "$PULSAR_SERVICE_URL" persistent://smoke/ns/events "$count" "$dir/auth/app.token" "$dir/auth/nobody.token" >"$dir/client.out" 2>"$dir/client.err"; then
  ok "$(grep '^produced' "$dir/client.out")"
  ok "$(grep '^denied' "$dir/client.out")"
  grep '^received' "$dir/client.out" | head -3 | sed 's/^/       /'
else
  fail "java client (exit $?):"; tail -n 20 "$dir/client.out" "$dir/client.err" | sed 's/^/       /'
fi
took

rss_mb() { awk '/^VmRSS:/ {printf "%d", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo "?"; }
echo "broker RSS after the client run: $(rss_mb "$pid") MB"

if [[ "$restart" == 1 ]]; then
  step "restart: stop, start again on the same folder"
  standalone stop
  standalone start
  took
  pid="$(cat "$dir/pulsar.pid")"
  step "after restart: topic and messages of before still there; produce/consume again"
  http GET /admin/v2/persistent/smoke/ns/events/partitions 200 "partitioned topic still there" -H "$ADMIN"
  if client "$PULSAR_SERVICE_URL" persistent://smoke/ns/events "$count" "$dir/auth/app.token" >"$dir/client.out" 2>"$dir/client.err"; then
    ok "after restart: $(grep '^produced' "$dir/client.out")"
    earlier="$(sed -n 's/.*, \([0-9]*\) earlier messages.*/\1/p' "$dir/client.out")"
    if [[ "${earlier:-0}" -ge "$count" ]]; then ok "after restart: the $earlier messages of before the restart were read again"
    else fail "after restart: only ${earlier:-0} messages of before the restart were read"; fi
    # indexes continue after the restart: the first partition's first index is > 0
    ok "after restart, first index per partition: $(grep '^received' "$dir/client.out" | sed -n 's/.*topic=[^ ]*-partition-\([0-9]\) index=\([0-9]*\).*/p\1:\2/p' | sort -u -t: -k1,1 | paste -sd' ')"
  else
    fail "java client after restart"; tail -n 20 "$dir/client.out" "$dir/client.err" | sed 's/^/       /'
  fi
  took
  echo "broker RSS after the second client run: $(rss_mb "$pid") MB"
fi

step "stop"
[[ "$keep" == 1 ]] || standalone stop
took
echo "total $(($(now_ms) - t_all)) ms"
echo "smoke: $passed passed, $failed failed"
((failed == 0))
