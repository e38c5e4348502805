# Shared helpers of the native stack: logging, pid files, waiting on health checks.
# Sourced by stack/stack.sh; expects PGFERRY_ROOT and the variables of stack/defaults.env.

say() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

run_dir() { printf '%s/run' "$PGFERRY_STACK_DIR"; }
log_dir() { printf '%s/logs' "$PGFERRY_STACK_DIR"; }
pid_file() { printf '%s/%s.pid' "$(run_dir)" "$1"; }

# The pid recorded for a service, if that process is still alive.
service_pid() {
  local f pid
  f=$(pid_file "$1")
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  printf '%s' "$pid"
}

is_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Starts a command in the background with its own process group, output to the service log.
# setsid makes the service the leader of a new group, so stack:down can stop it and its children.
start_background() {
  local name=$1; shift
  local log
  log="$(log_dir)/$name.log"
  mkdir -p "$(run_dir)" "$(log_dir)"
  printf '\n==== %s start %s ====\n' "$name" "$(date -u +%FT%TZ)" >>"$log"
  setsid "$@" >>"$log" 2>&1 < /dev/null &
  echo $! >"$(pid_file "$name")"
}

# Shows why a service failed: its name and the tail of its log, then exits non-zero.
fail_service() {
  local name=$1 reason=$2 log
  log="$(log_dir)/$name.log"
  printf '[stack] ERROR: %s failed to start: %s\n' "$name" "$reason" >&2
  if [[ -f $log ]]; then
    printf '[stack] ---- last 40 lines of %s ----\n' "$log" >&2
    tail -n 40 "$log" >&2
    printf '[stack] ---- end of log ----\n' >&2
  fi
  exit 1
}

# wait_until <service> <timeout-s> <command...>: polls the command until it succeeds, the
# service's process dies, or the timeout passes.
wait_until() {
  local name=$1 timeout=$2; shift 2
  local deadline=$((SECONDS + timeout))
  while ! "$@" >/dev/null 2>&1; do
    if [[ -f $(pid_file "$name") ]] && ! service_pid "$name" >/dev/null; then
      fail_service "$name" "process exited"
    fi
    ((SECONDS < deadline)) || fail_service "$name" "not healthy after ${timeout}s"
    sleep 1
  done
}

# The service's log since its latest start (start_background writes the marker).
log_since_start() {
  awk -v marker="==== $1 start" 'index($0, marker) == 1 { n = 0 } { lines[n++] = $0 } END { for (i = 0; i < n; i++) print lines[i] }' \
    "$(log_dir)/$1.log" 2>/dev/null
}

http_ok() { curl -fsS -o /dev/null --max-time 3 "$1"; }

# Stops a service by its recorded pid: SIGTERM to its process group, SIGKILL after a grace period.
stop_service() {
  local name=$1 grace=${2:-30} pid
  if ! pid=$(service_pid "$name"); then
    rm -f "$(pid_file "$name")"
    return 0
  fi
  say "stopping $name (pid $pid)"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + grace))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    say "$name did not stop in ${grace}s: killing"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$(pid_file "$name")"
}

java_bin() {
  if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then printf '%s' "$JAVA_HOME/bin/java"; else command -v java; fi
}

# The stack's ports lie inside Linux's ephemeral range (32768-60999 by default), so an outgoing
# connection (a Kafka client, a JDBC pool) can be handed one of them as its local port and hold it
# while the stack, or a later `pgferry run` on PGFERRY_METRICS_PORT or `pgferry copy` on
# PGFERRY_COPY_METRICS_PORT, wants to listen there. Where we may (root, writable /proc), add our
# ports to net.ipv4.ip_local_reserved_ports: the kernel then never picks them for outgoing
# connections; listening on them is unaffected. Best effort: without the right we say so once and
# go on.
reserve_stack_ports() {
  local file=/proc/sys/net/ipv4/ip_local_reserved_ports
  local ports=(
    "$PGFERRY_SOURCE_PG_PORT" "$PGFERRY_TARGET_PG_PORT" "$PGFERRY_KAFKA_PORT"
    "$PGFERRY_KAFKA_CONTROLLER_PORT" "$PGFERRY_REGISTRY_PORT" "$PGFERRY_REGISTRY_MANAGEMENT_PORT"
    "$PGFERRY_CONNECT_PORT" "$PGFERRY_PROMETHEUS_PORT" "$PGFERRY_METRICS_PORT"
    "$PGFERRY_COPY_METRICS_PORT"
  )
  [[ -r $file ]] || return 0
  local current missing=() port range low high covered
  current=$(cat "$file")
  for port in "${ports[@]}"; do
    covered=0
    for range in ${current//,/ }; do
      low=${range%-*} high=${range#*-}
      if ((port >= low && port <= high)); then covered=1 && break; fi
    done
    ((covered)) || missing+=("$port")
  done
  ((${#missing[@]})) || return 0
  local wanted
  wanted=${current:+$current,}$(IFS=,; printf '%s' "${missing[*]}")
  if [[ -w $file ]] && printf '%s\n' "$wanted" >"$file" 2>/dev/null; then
    say "reserved the stack's ports from the ephemeral range (net.ipv4.ip_local_reserved_ports)"
  else
    say "note: cannot reserve the stack's ports from the ephemeral range (not root); a rare 'port in use' can follow"
  fi
}
