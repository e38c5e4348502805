#!/usr/bin/env bash
# The native local stack of real services (no Docker): source and target PostgreSQL, Kafka (KRaft),
# Apicurio Registry, Kafka Connect + Debezium + Apicurio's Avro converter, Prometheus.
#   stack/stack.sh up | down | status | env | fetch | logs <service>
#   stack/stack.sh start | stop | kill <service>      (one service; kill = crash it, for drills)
# Ports, names and versions: stack/defaults.env (each overridable by env).
set -euo pipefail

PGFERRY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PGFERRY_ROOT
# shellcheck source=defaults.env
source "$PGFERRY_ROOT/stack/defaults.env"
for lib in common install postgres kafka registry connect prometheus; do
  # shellcheck disable=SC1090
  source "$PGFERRY_ROOT/stack/lib/$lib.sh"
done

SERVICES=(pg-source pg-target kafka registry connect prometheus)

service_address() {
  case $1 in
    pg-source) printf 'postgresql://127.0.0.1:%s/%s' "$PGFERRY_SOURCE_PG_PORT" "$PGFERRY_SOURCE_DB" ;;
    pg-target) printf 'postgresql://127.0.0.1:%s/%s' "$PGFERRY_TARGET_PG_PORT" "$PGFERRY_TARGET_DB" ;;
    kafka) printf '127.0.0.1:%s' "$PGFERRY_KAFKA_PORT" ;;
    registry) printf '%s/apis/ccompat/v7' "$(registry_url)" ;;
    connect) connect_url ;;
    prometheus) prometheus_url ;;
  esac
}

service_healthy() {
  case $1 in
    pg-source) pg_is_ready "$PGFERRY_SOURCE_PG_PORT" ;;
    pg-target) pg_is_ready "$PGFERRY_TARGET_PG_PORT" ;;
    kafka) is_port_open "$PGFERRY_KAFKA_PORT" ;;
    registry) http_ok "$(registry_url)/apis/registry/v3/system/info" ;;
    connect) connect_ready ;;
    prometheus) http_ok "$(prometheus_url)/-/ready" ;;
  esac
}

cmd_up() {
  local started=$SECONDS
  mkdir -p "$PGFERRY_STACK_DIR"
  reserve_stack_ports
  ensure_packages
  fetch_java
  pg_start_cluster source
  pg_start_cluster target
  pg_bootstrap_source
  pg_bootstrap_target
  kafka_start
  registry_start
  connect_start
  prometheus_start
  say "stack up in $((SECONDS - started))s (state: $PGFERRY_STACK_DIR)"
  cmd_status
}

cmd_down() {
  # Reverse order: nothing is left talking to a service that is gone.
  stop_service prometheus
  stop_service connect 60
  stop_service registry
  stop_service kafka 60
  pg_stop_cluster target
  pg_stop_cluster source
  say "stack down"
}

cmd_status() {
  local s pid state rc=0
  printf '%-11s %-8s %-8s %s\n' SERVICE STATE PID ADDRESS
  for s in "${SERVICES[@]}"; do
    pid=$(service_pid "$s" || true)
    if [[ -z $pid ]]; then
      state=down
      rc=1
    elif service_healthy "$s"; then
      state=up
    else
      state=unhealthy
      rc=1
    fi
    printf '%-11s %-8s %-8s %s\n' "$s" "$state" "${pid:--}" "$(service_address "$s")"
  done
  return $rc
}

# `export NAME=value` lines for scripts and tests (eval "$(npm run --silent stack:env)").
cmd_env() {
  local q
  emit() { printf 'export %s=%q\n' "$1" "$2"; }
  q=$PGFERRY_PG_SUPERUSER_PASSWORD
  emit SOURCE_DATABASE_URL "postgresql://postgres:$q@127.0.0.1:$PGFERRY_SOURCE_PG_PORT/$PGFERRY_SOURCE_DB"
  emit TARGET_DATABASE_URL "postgresql://postgres:$q@127.0.0.1:$PGFERRY_TARGET_PG_PORT/$PGFERRY_TARGET_DB"
  emit KAFKA_BOOTSTRAP "127.0.0.1:$PGFERRY_KAFKA_PORT"
  emit SCHEMA_REGISTRY_URL "$(registry_url)/apis/ccompat/v7"
  emit CONNECT_URL "$(connect_url)"
  emit PROMETHEUS_URL "$(prometheus_url)"
  emit TARGET_DB_HOST 127.0.0.1
  emit TARGET_DB_PORT "$PGFERRY_TARGET_PG_PORT"
  emit TARGET_DB_NAME "$PGFERRY_TARGET_DB"
  emit TARGET_DB_USER "$PGFERRY_TARGET_USER"
  emit TARGET_DB_PASSWORD "$PGFERRY_TARGET_PASSWORD"
  emit TARGET_DB_SSLMODE disable
  emit SOURCE_DB_HOST 127.0.0.1
  emit SOURCE_DB_PORT "$PGFERRY_SOURCE_PG_PORT"
  emit SOURCE_DB_NAME "$PGFERRY_SOURCE_DB"
  emit SOURCE_DB_USER "$PGFERRY_SOURCE_READER_USER"
  emit SOURCE_DB_PASSWORD "$PGFERRY_SOURCE_READER_PASSWORD"
  emit SOURCE_DB_SSLMODE disable
  emit ROLLBACK_DB_USER "$PGFERRY_ROLLBACK_USER"
  emit ROLLBACK_DB_PASSWORD "$PGFERRY_ROLLBACK_PASSWORD"
  emit REVERSE_PUBLICATION "$PGFERRY_REVERSE_PUBLICATION"
  emit REVERSE_SLOT_NAME "$PGFERRY_REVERSE_SLOT"
  emit METRICS_PORT "$PGFERRY_METRICS_PORT"
  emit COPY_METRICS_PORT "$PGFERRY_COPY_METRICS_PORT"
  emit PGFERRY_STACK_DIR "$PGFERRY_STACK_DIR"
}

# One service at a time, for fault drills (test/faults) and for operators:
#   start <service>   starts it (and waits until it is healthy) if it is not running
#   stop <service>    stops it cleanly (PostgreSQL: pg_ctl -m fast)
#   kill <service>    kills it without warning: SIGKILL to its process group (PostgreSQL:
#                     pg_ctl -m immediate, i.e. a crash the next start recovers from)
known_service() {
  local s
  for s in "${SERVICES[@]}"; do [[ $s == "$1" ]] && return 0; done
  die "unknown service '$1'; expected one of: ${SERVICES[*]}"
}

cmd_service() {
  local action=$1 s=${2:-}
  [[ -n $s ]] || die "usage: stack.sh $action <${SERVICES[*]}>"
  known_service "$s"
  case $action in
    start)
      case $s in
        pg-source) pg_start_cluster source ;;
        pg-target) pg_start_cluster target ;;
        kafka) kafka_start ;;
        registry) registry_start ;;
        connect) connect_start ;;
        prometheus) prometheus_start ;;
      esac
      ;;
    stop)
      case $s in
        pg-source) pg_stop_cluster source ;;
        pg-target) pg_stop_cluster target ;;
        connect | kafka) stop_service "$s" 60 ;;
        *) stop_service "$s" ;;
      esac
      ;;
    kill)
      local pid
      if ! pid=$(service_pid "$s"); then
        say "$s is not running"
        return 0
      fi
      case $s in
        pg-source | pg-target)
          say "stopping $s with -m immediate"
          as_pg_user "$(pg_bin_dir)/pg_ctl" -D "$(pg_data_dir "${s#pg-}")" -m immediate -w -t 60 stop >/dev/null 2>&1 ||
            kill -KILL "$pid" 2>/dev/null || true
          ;;
        *)
          say "killing $s (pid $pid) with SIGKILL"
          kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
          # Gone, or a zombie nobody reaps (state Z): either way it no longer runs.
          local deadline=$((SECONDS + 30))
          while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
            [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && break
            sleep 0.2
          done
          ;;
      esac
      rm -f "$(pid_file "$s")"
      ;;
  esac
}

cmd_logs() {
  local s=${1:-}
  [[ -n $s ]] || die "usage: stack.sh logs <${SERVICES[*]}>"
  tail -n "${LINES_TO_SHOW:-100}" "$(log_dir)/$s.log"
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  fetch) ensure_packages && fetch_java ;;
  logs) shift; cmd_logs "$@" ;;
  start | stop | kill) cmd_service "$@" ;;
  *) die "usage: stack/stack.sh up|down|status|env|fetch|logs <service>|start <service>|stop <service>|kill <service>" ;;
esac
