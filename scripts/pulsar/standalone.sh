#!/usr/bin/env bash
# Run a local Apache Pulsar standalone broker (broker + in-process BookKeeper + RocksDB metadata
# store, one JVM) with token authentication and authorization, from the jars that
# scripts/pulsar/fetch-pulsar.sh put in the cache. See docs/pulsar-local.md.
#
# Usage: scripts/pulsar/standalone.sh COMMAND [options]
#   start   write the config (first start only: secret key, tokens, ports), start the broker in
#           the background, wait until it serves; prints the service URLs and token files.
#           A broker already running from the same --dir is left as it is (exit 0).
#   stop    SIGTERM, then SIGKILL after --stop-timeout seconds.
#   status  running or not (exit 0 / 3), with URLs, pid and memory (RSS).
#   env     print `export NAME=value` lines for a running broker (eval them).
#   token ROLE [--exp SECONDS]   print a token for ROLE, signed with this broker's secret key.
#   wipe    stop, then delete the whole --dir (data, config, keys, logs).
# Options:
#   --dir D          state folder (default $KOP_PULSAR_DIR, else $KOP_CACHE_DIR/pulsar-standalone)
#   --port N|auto    binary protocol port (default: 6650 if free, else any free port; auto: any)
#   --web-port N|auto  HTTP admin/REST port (default: 8080 if free, else any free port; auto: any)
#   --bk-port N|auto the in-process bookie's port (default: any free port)
#                    All three are chosen at the first start and kept in D/ports.env: the bookie's
#                    identity (127.0.0.1:port) is written into the data, so it must not change.
#   --heap SIZE      JVM heap limit, -Xmx (default 512m; also KOP_PULSAR_HEAP); -Xms is 64m
#   --direct SIZE    JVM direct memory limit (default 256m; also KOP_PULSAR_DIRECT_MEMORY)
#   --timeout S      seconds to wait for the broker to serve (default 180)
#   --stop-timeout S seconds between SIGTERM and SIGKILL (default 30)
#   --quiet          start/stop: print only the final lines
# Env: KOP_CACHE_DIR, KOP_PULSAR_BROKER_VERSION, KOP_PULSAR_HOME (folder holding libs/),
#      KOP_PULSAR_JAVA (java binary), KOP_PULSAR_EXTRA_CONF (file whose key=value lines are
#      appended to the generated standalone.conf; later keys win), KOP_PULSAR_JAVA_OPTS.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${KOP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kop-gateway}"
version="${KOP_PULSAR_BROKER_VERSION:-3.0.7}"
pulsar_home="${KOP_PULSAR_HOME:-$cache/pulsar-$version}"
libs="$pulsar_home/libs"

log() { [[ "$quiet" == 1 ]] || echo "pulsar-standalone: $*" >&2; }
die() { echo "pulsar-standalone: $*" >&2; exit 1; }

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
dir="${KOP_PULSAR_DIR:-$cache/pulsar-standalone}"
port="" web_port="" bk_port=""
heap="${KOP_PULSAR_HEAP:-512m}"
direct="${KOP_PULSAR_DIRECT_MEMORY:-256m}"
timeout=180 stop_timeout=30 quiet=0 role="" exp=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --web-port) web_port="$2"; shift 2 ;;
    --bk-port) bk_port="$2"; shift 2 ;;
    --heap) heap="$2"; shift 2 ;;
    --direct) direct="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    --stop-timeout) stop_timeout="$2"; shift 2 ;;
    --exp) exp="$2"; shift 2 ;;
    --quiet) quiet=1; shift ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    -*) die "unknown option: $1" ;;
    *) if [[ "$cmd" == token && -z "$role" ]]; then role="$1"; shift; else die "unexpected argument: $1"; fi ;;
  esac
done
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
conf="$dir/conf/standalone.conf"
auth="$dir/auth"
pid_file="$dir/pulsar.pid"
ports_file="$dir/ports.env"
env_file="$dir/standalone.env"
log_dir="$dir/logs"

# ---------------------------------------------------------------- tokens (HS256 JWT, as `pulsar tokens create`)
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
# make_token ROLE [EXP_EPOCH_SECONDS]: {"alg":"HS256"}.{"sub":ROLE[,"exp":N]} signed with auth/secret.key
make_token() {
  local sub="$1" exp_at="${2:-}" header payload key sig
  [[ "$sub" =~ ^[A-Za-z0-9._@:+=-]+$ ]] || die "role must match [A-Za-z0-9._@:+=-]+: '$sub'"
  header="$(printf '{"alg":"HS256"}' | b64url)"
  if [[ -n "$exp_at" ]]; then payload="$(printf '{"sub":"%s","exp":%d}' "$sub" "$exp_at" | b64url)"
  else payload="$(printf '{"sub":"%s"}' "$sub" | b64url)"; fi
  key="$(od -An -v -tx1 "$auth/secret.key" | tr -d ' \n')"
  sig="$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key" -binary | b64url)"
  printf '%s.%s.%s\n' "$header" "$payload" "$sig"
}

ensure_keys() {
  mkdir -p "$auth"
  chmod 700 "$auth"
  if [[ ! -s "$auth/secret.key" ]]; then
    command -v openssl >/dev/null || die "openssl not found (Debian: apt-get install openssl)"
    # 32 random bytes: an HS256 key, the same format as `pulsar tokens create-secret-key`
    (umask 077; openssl rand 32 >"$auth/secret.key")
    rm -f "$auth"/*.token
  fi
  local r
  for r in admin proxy; do
    [[ -s "$auth/$r.token" ]] || (umask 077; make_token "$r" >"$auth/$r.token")
  done
}

# ---------------------------------------------------------------- process
read_pid() { [[ -f "$pid_file" ]] && cat "$pid_file" || true; }
# alive PID: the process exists and is this folder's standalone broker (not a reused pid)
alive() {
  local p="$1"
  [[ -n "$p" && -r "/proc/$p/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- "PulsarStandaloneStarter --config $conf" || return 1
}
rss_mb() { awk '/^VmRSS:/ {printf "%d", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo "?"; }

free_ports() { # print N free TCP ports on 127.0.0.1, distinct
  node -e '
    const net = require("net"); const n = +process.argv[1]; const socks = []; const ports = [];
    (function next() {
      if (ports.length === n) { console.log(ports.join(" ")); socks.forEach(s => s.close()); return; }
      const s = net.createServer(); socks.push(s);
      s.listen(0, "127.0.0.1", () => { ports.push(s.address().port); next(); });
    })();' "$1"
}
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

choose_ports() {
  local saved_port="" saved_web="" saved_bk=""
  if [[ -f "$ports_file" ]]; then
    # shellcheck disable=SC1090
    saved_port="$(. "$ports_file"; echo "${PULSAR_PORT:-}")"
    saved_web="$(. "$ports_file"; echo "${PULSAR_WEB_PORT:-}")"
    saved_bk="$(. "$ports_file"; echo "${PULSAR_BK_PORT:-}")"
  fi
  if [[ -n "$bk_port" && -n "$saved_bk" && "$bk_port" != "$saved_bk" && -d "$dir/data/bookkeeper" ]]; then
    die "--bk-port $bk_port differs from $saved_bk, the bookie port of the data in $dir/data (use 'wipe' first)"
  fi
  port="${port:-$saved_port}" web_port="${web_port:-$saved_web}" bk_port="${bk_port:-$saved_bk}"
  local spare
  read -r -a spare <<<"$(free_ports 3)"
  if [[ -z "$port" ]]; then if port_free 6650; then port=6650; else port="${spare[0]}"; fi; fi
  if [[ -z "$web_port" ]]; then if port_free 8080; then web_port=8080; else web_port="${spare[1]}"; fi; fi
  [[ "$port" == auto ]] && port="${spare[0]}"
  [[ "$web_port" == auto ]] && web_port="${spare[1]}"
  [[ -z "$bk_port" || "$bk_port" == auto ]] && bk_port="${spare[2]}"
  local p
  for p in "$port" "$web_port" "$bk_port"; do
    [[ "$p" =~ ^[0-9]+$ ]] || die "not a port: $p"
    port_free "$p" || die "port $p on 127.0.0.1 is in use (choose others with --port / --web-port)"
  done
  [[ "$port" != "$web_port" && "$port" != "$bk_port" && "$web_port" != "$bk_port" ]] || die "ports must differ: $port $web_port $bk_port"
  printf 'PULSAR_PORT=%s\nPULSAR_WEB_PORT=%s\nPULSAR_BK_PORT=%s\n' "$port" "$web_port" "$bk_port" >"$ports_file"
}

# ---------------------------------------------------------------- config
write_conf() {
  mkdir -p "$dir/conf" "$log_dir" "$dir/data"
  cat >"$conf" <<EOF
# Generated by scripts/pulsar/standalone.sh on every start: edit that script, or put overrides
# in a file named by KOP_PULSAR_EXTRA_CONF (appended at the end; the last value of a key wins).
# What each setting means: docs/pulsar-local.md.

### addresses
clusterName=standalone
bindAddress=127.0.0.1
advertisedAddress=127.0.0.1
brokerServicePort=$port
webServicePort=$web_port
# metadata: empty = standalone's RocksDB store under data/metadata (no ZooKeeper)
metadataStoreUrl=

### authentication: JWT tokens signed with one HS256 secret key
authenticationEnabled=true
authenticationProviders=org.apache.pulsar.broker.authentication.AuthenticationProviderToken
tokenSecretKey=file://$auth/secret.key
### authorization: superusers may do anything; others need tenant admin or namespace/topic grants
authorizationEnabled=true
authorizationProvider=org.apache.pulsar.broker.authorization.PulsarAuthorizationProvider
superUserRoles=admin,proxy
# a client authenticated as a proxy role acts for the original principal it names
# (the gateway connects as "proxy" and forwards each Kafka client's identity)
proxyRoles=proxy
authenticateOriginalAuthData=false
# the broker's own client (namespace setup, system topics): a superuser token
brokerClientAuthenticationPlugin=org.apache.pulsar.client.impl.auth.AuthenticationToken
brokerClientAuthenticationParameters=file://$auth/admin.token

### broker entry metadata: each entry gets a per-partition index (offset) and the broker's
### publish time, and consumers receive them (Kafka offsets, LogAppendTime)
brokerEntryMetadataInterceptors=org.apache.pulsar.common.intercept.AppendIndexMetadataInterceptor,org.apache.pulsar.common.intercept.AppendBrokerTimestampMetadataInterceptor
exposingBrokerEntryMetadataToClientEnabled=true

### Kafka-like log semantics: keep data without subscriptions, never delete idle topics
defaultRetentionTimeInMinutes=-1
defaultRetentionSizeInMB=-1
brokerDeleteInactiveTopicsEnabled=false
allowAutoTopicCreation=true
allowAutoTopicCreationType=non-partitioned
# producers' sequence ids dedup resends after a lost receipt (the gateway's idempotent-producer
# guarantee across Pulsar connection loss and broker restarts relies on it)
brokerDeduplicationEnabled=true
# hand new entries to caught-up readers at once (default: polled every 10 ms): the gateway's
# tail reader gives each append its offset, so this delay would be added to every produce
managedLedgerNewEntriesCheckDelayInMillis=0

### off: functions worker, transactions, load balancing (one broker)
functionsWorkerEnabled=false
transactionCoordinatorEnabled=false
loadManagerClassName=org.apache.pulsar.broker.loadbalance.NoopLoadManager
loadBalancerEnabled=false
webSocketServiceEnabled=false

### small: one bookie, few threads, small caches (2-core machine, 512 MB heap)
managedLedgerDefaultEnsembleSize=1
managedLedgerDefaultWriteQuorum=1
managedLedgerDefaultAckQuorum=1
managedLedgerCacheSizeMB=32
numIOThreads=2
numHttpServerThreads=4
numOrderedExecutorThreads=2
numExecutorThreadPoolSize=2
numCacheExecutorThreadPoolSize=2
numWorkerThreadsForNonPersistentTopic=2
bookkeeperClientNumWorkerThreads=2
bookkeeperNumberOfChannelsPerBookie=1
managedLedgerNumSchedulerThreads=2
brokerShutdownTimeoutMs=10000
statusFilePath=

### the in-process bookie (BookKeeper server settings, read from this same file)
ledgerStorageClass=org.apache.bookkeeper.bookie.storage.ldb.DbLedgerStorage
dbStorage_writeCacheMaxSizeMb=16
dbStorage_readAheadCacheMaxSizeMb=16
dbStorage_rocksDB_blockCacheSize=16777216
dbStorage_rocksDB_writeBufferSizeMB=4
journalSyncData=false
journalMaxGroupWaitMSec=1
allowLoopback=true
diskUsageThreshold=0.99
diskUsageWarnThreshold=0.99
numAddWorkerThreads=1
numReadWorkerThreads=1
numJournalCallbackThreads=1
serverNumIOThreads=2
EOF
  if [[ -n "${KOP_PULSAR_EXTRA_CONF:-}" ]]; then
    [[ -f "$KOP_PULSAR_EXTRA_CONF" ]] || die "KOP_PULSAR_EXTRA_CONF: no such file: $KOP_PULSAR_EXTRA_CONF"
    { echo; echo "### from $KOP_PULSAR_EXTRA_CONF"; cat "$KOP_PULSAR_EXTRA_CONF"; } >>"$conf"
  fi
  # log4j2: a size-capped file; noisy loggers at WARN
  cat >"$dir/conf/log4j2.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn" shutdownHook="disable">
  <Appenders>
    <RollingFile name="file" fileName="$log_dir/pulsar-standalone.log" filePattern="$log_dir/pulsar-standalone.%i.log">
      <PatternLayout pattern="%d{ISO8601} %-5level [%t] %c{1} - %msg%n"/>
      <Policies><SizeBasedTriggeringPolicy size="20 MB"/></Policies>
      <DefaultRolloverStrategy max="3"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Logger name="org.apache.bookkeeper" level="warn"/>
    <Logger name="org.apache.pulsar.metadata" level="warn"/>
    <Logger name="org.eclipse.jetty" level="warn"/>
    <Logger name="org.apache.pulsar.broker.service.persistent" level="info"/>
    <Root level="info"><AppenderRef ref="file"/></Root>
  </Loggers>
</Configuration>
EOF
}

write_env() {
  {
    echo "# written by scripts/pulsar/standalone.sh start; source it or use 'standalone.sh env'"
    printf 'export PULSAR_SERVICE_URL=%q\n' "pulsar://127.0.0.1:$port"
    printf 'export PULSAR_WEB_URL=%q\n' "http://127.0.0.1:$web_port"
    printf 'export PULSAR_CLUSTER=%q\n' standalone
    printf 'export PULSAR_DIR=%q\n' "$dir"
    printf 'export PULSAR_SECRET_KEY_FILE=%q\n' "$auth/secret.key"
    printf 'export PULSAR_ADMIN_TOKEN_FILE=%q\n' "$auth/admin.token"
    printf 'export PULSAR_PROXY_TOKEN_FILE=%q\n' "$auth/proxy.token"
    printf 'export PULSAR_LOG_FILE=%q\n' "$log_dir/pulsar-standalone.log"
  } >"$env_file"
}

pick_java() {
  if [[ -n "${KOP_PULSAR_JAVA:-}" ]]; then echo "$KOP_PULSAR_JAVA"; return; fi
  eval "$(bash "$here/fetch-pulsar.sh" --print-env 2>/dev/null | grep '^export KOP_PULSAR_JAVA=')"
  echo "${KOP_PULSAR_JAVA:-java}"
}

print_urls() {
  local p="$1"
  # shellcheck disable=SC1090
  . "$env_file"
  echo "pulsar standalone $version running (pid $p, RSS $(rss_mb "$p") MB, dir $dir)"
  echo "  service URL : $PULSAR_SERVICE_URL"
  echo "  web/admin   : $PULSAR_WEB_URL"
  echo "  admin token : $PULSAR_ADMIN_TOKEN_FILE   (role admin, superuser)"
  echo "  proxy token : $PULSAR_PROXY_TOKEN_FILE   (role proxy: superuser + proxy role)"
  echo "  secret key  : $PULSAR_SECRET_KEY_FILE   (HS256; more tokens: $0 token ROLE --dir $dir)"
  echo "  log         : $PULSAR_LOG_FILE"
}

# ---------------------------------------------------------------- commands
do_start() {
  local p
  # one start at a time per folder: test runs start the shared broker from concurrent processes
  # (scripts/run-tests.sh runs two lanes); the second waits here, then finds it running
  if command -v flock >/dev/null; then
    exec 9>"$dir/.start.lock"
    flock -w "$timeout" 9 || die "another start in $dir did not finish within ${timeout}s"
  fi
  p="$(read_pid)"
  if alive "$p"; then
    log "already running from $dir"
    print_urls "$p"
    return 0
  fi
  [[ -f "$libs/pulsar-broker-$version.jar" ]] || die "Pulsar $version jars not found in $libs: run scripts/pulsar/fetch-pulsar.sh"
  command -v node >/dev/null || die "node not found (used to find free ports)"
  local java_bin
  java_bin="$(pick_java)"
  ensure_keys
  choose_ports
  write_conf
  write_env
  local t0
  t0=$(date +%s%3N)
  local opts=(
    -Xms64m -Xmx"$heap" -XX:MaxDirectMemorySize="$direct" -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError
    -Xss512k -XX:MaxMetaspaceSize=256m
    -Dlog4j.configurationFile="$dir/conf/log4j2.xml" -Dlog4j.shutdownHookEnabled=false
    -Djava.net.preferIPv4Stack=true -Dio.netty.tryReflectionSetAccessible=true
    -Dpulsar.allocator.exit_on_oom=true -Dio.netty.recycler.maxCapacityPerThread=4096
    -Dbookkeeper.metadata.bookie.drivers=org.apache.pulsar.metadata.bookkeeper.PulsarMetadataBookieDriver
    -Dbookkeeper.metadata.client.drivers=org.apache.pulsar.metadata.bookkeeper.PulsarMetadataClientDriver
    --add-opens java.base/java.io=ALL-UNNAMED --add-opens java.base/java.util.zip=ALL-UNNAMED
    --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/jdk.internal.misc=ALL-UNNAMED
    --add-opens java.base/sun.net=ALL-UNNAMED --add-opens java.management/sun.management=ALL-UNNAMED
    --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
  )
  # shellcheck disable=SC2206
  [[ -n "${KOP_PULSAR_JAVA_OPTS:-}" ]] && opts+=(${KOP_PULSAR_JAVA_OPTS})
  log "starting Pulsar $version ($java_bin, heap $heap) on ports $port/$web_port, bookie $bk_port"
  # its own session (setsid), so that it outlives the shell that started it; cwd = the state folder
  (
    cd "$dir"
    exec 9>&- # the broker must not hold the start lock
    unset PULSAR_STANDALONE_USE_ZOOKEEPER
    exec setsid "$java_bin" "${opts[@]}" -cp "$libs/*" \
      org.apache.pulsar.PulsarStandaloneStarter --config "$conf" \
      --no-functions-worker --no-stream-storage \
      --metadata-dir "$dir/data/metadata" --bookkeeper-dir "$dir/data/bookkeeper" \
      --zookeeper-dir "$dir/data/zookeeper-unused" --bookkeeper-port "$bk_port" \
      </dev/null >>"$log_dir/stdout.log" 2>&1
  ) &
  p=$!
  echo "$p" >"$pid_file"
  local admin_token url="http://127.0.0.1:$web_port"
  admin_token="$(cat "$auth/admin.token")"
  local deadline=$((SECONDS + timeout)) ready=0
  while ((SECONDS < deadline)); do
    if ! kill -0 "$p" 2>/dev/null; then
      echo "pulsar-standalone: the broker exited during start; last log lines:" >&2
      tail -n 30 "$log_dir/pulsar-standalone.log" "$log_dir/stdout.log" >&2 2>/dev/null || true
      rm -f "$pid_file"
      exit 1
    fi
    # ready = the REST API answers the admin token, the standalone setup made public/default,
    # and the binary port accepts connections
    if curl -sf -m 5 -H "Authorization: Bearer $admin_token" "$url/admin/v2/clusters" 2>/dev/null | grep -q standalone \
      && curl -sf -m 5 -H "Authorization: Bearer $admin_token" "$url/admin/v2/namespaces/public" 2>/dev/null | grep -q public/default \
      && port_open "$port"; then
      ready=1
      break
    fi
    sleep 0.5
  done
  if [[ "$ready" != 1 ]]; then
    echo "pulsar-standalone: not ready after ${timeout}s; last log lines:" >&2
    tail -n 30 "$log_dir/pulsar-standalone.log" >&2 2>/dev/null || true
    do_stop >&2 || true
    exit 1
  fi
  log "ready in $(( $(date +%s%3N) - t0 )) ms"
  print_urls "$p"
}

do_stop() {
  local p
  p="$(read_pid)"
  if ! alive "$p"; then
    log "not running ($dir)"
    rm -f "$pid_file"
    return 0
  fi
  local t0=$SECONDS
  kill -TERM "$p" 2>/dev/null || true
  local deadline=$((SECONDS + stop_timeout))
  while kill -0 "$p" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if kill -0 "$p" 2>/dev/null; then
    log "still running after ${stop_timeout}s: SIGKILL"
    kill -KILL "$p" 2>/dev/null || true
    while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$pid_file"
  log "stopped (pid $p) in $((SECONDS - t0))s"
}

do_status() {
  local p
  p="$(read_pid)"
  if alive "$p"; then
    print_urls "$p"
    return 0
  fi
  echo "pulsar standalone: not running ($dir)"
  return 3
}

case "$cmd" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  env)
    alive "$(read_pid)" || die "not running ($dir)"
    cat "$env_file" | grep '^export' ;;
  token)
    [[ -n "$role" ]] || die "usage: $0 token ROLE [--exp SECONDS] [--dir D]"
    [[ -s "$auth/secret.key" ]] || die "no secret key in $auth: start the broker once first"
    if [[ -n "$exp" ]]; then make_token "$role" "$(($(date +%s) + exp))"; else make_token "$role"; fi ;;
  wipe)
    do_stop
    log "deleting $dir"
    rm -rf "$dir" ;;
  ""|-h|--help|help) sed -n '2,32p' "$0" ;;
  *) die "unknown command: $cmd (start|stop|status|env|token|wipe)" ;;
esac
