# Source and target PostgreSQL clusters from Debian's server binaries: initdb into the state
# directory, own port, wal_level=logical, roles for Debezium and pgferry.

pg_data_dir() { printf '%s/pg/%s' "$PGFERRY_STACK_DIR" "$1"; }
pg_socket_dir() { printf '%s/pg/sockets' "$PGFERRY_STACK_DIR"; }

# initdb refuses to run as root: the clusters then belong to the `postgres` OS user (created by
# Debian's server package), otherwise to whoever runs the stack.
pg_os_user() {
  if [[ $(id -u) -eq 0 ]]; then printf 'postgres'; else id -un; fi
}

as_pg_user() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_port_of() {
  case $1 in
    source) printf '%s' "$PGFERRY_SOURCE_PG_PORT" ;;
    target) printf '%s' "$PGFERRY_TARGET_PG_PORT" ;;
  esac
}

# psql as superuser over TCP (password auth), stopping at the first error.
psql_super() {
  local port=$1 db=$2; shift 2
  PGOPTIONS="-c client_min_messages=warning" PGPASSWORD=$PGFERRY_PG_SUPERUSER_PASSWORD psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"
}

pg_init_cluster() {
  local name=$1 bin data
  bin=$(pg_bin_dir) || die "PostgreSQL server binaries not found under /usr/lib/postgresql"
  data=$(pg_data_dir "$name")
  [[ -f $data/PG_VERSION ]] && return 0
  say "initdb $name cluster in $data"
  mkdir -p "$data" "$(pg_socket_dir)" "$(log_dir)"
  local pwfile="$PGFERRY_STACK_DIR/pg/.pw-$name"
  printf '%s\n' "$PGFERRY_PG_SUPERUSER_PASSWORD" >"$pwfile"
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    chown -R postgres: "$PGFERRY_STACK_DIR/pg"
    chmod 0711 "$PGFERRY_STACK_DIR" "$PGFERRY_STACK_DIR/pg"
  fi
  chmod 0600 "$pwfile"
  as_pg_user "$bin/initdb" -D "$data" -U postgres --pwfile="$pwfile" --auth-local=trust \
    --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >>"$(log_dir)/pg-$name.log" 2>&1 ||
    fail_service "pg-$name" "initdb failed"
  rm -f "$pwfile"
  # Settings for CDC; fsync=off because these clusters are throwaway (a process crash loses
  # nothing: the OS still holds the pages; only a machine crash would).
  cat >>"$data/postgresql.conf" <<EOF

# ---- pgferry local stack ----
listen_addresses = '127.0.0.1'
port = $(pg_port_of "$name")
unix_socket_directories = '$(pg_socket_dir)'
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
max_connections = 100
fsync = off
shared_buffers = 128MB
log_min_messages = warning
EOF
}

pg_is_ready() {
  local bin
  bin=$(pg_bin_dir)
  "$bin/pg_isready" -q -h 127.0.0.1 -p "$1"
}

pg_start_cluster() {
  local name=$1 port bin data
  port=$(pg_port_of "$name")
  bin=$(pg_bin_dir)
  data=$(pg_data_dir "$name")
  if service_pid "pg-$name" >/dev/null && pg_is_ready "$port"; then
    say "pg-$name already running on 127.0.0.1:$port"
    return 0
  fi
  # Our postmaster still runs (its pid file gone, or it was slow to answer): adopt it, never
  # start a second one on the same data directory.
  local running_pid
  running_pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
  if [[ -n $running_pid ]] && kill -0 "$running_pid" 2>/dev/null; then
    mkdir -p "$(run_dir)"
    printf '%s\n' "$running_pid" >"$(pid_file "pg-$name")"
    wait_until "pg-$name" 60 pg_is_ready "$port"
    say "pg-$name already running on 127.0.0.1:$port (pid $running_pid)"
    return 0
  fi
  is_port_open "$port" && die "port $port (pg-$name) is taken by another process; set PGFERRY_$(tr a-z A-Z <<<"$name")_PG_PORT"
  pg_init_cluster "$name"
  say "starting pg-$name on 127.0.0.1:$port"
  mkdir -p "$(run_dir)" "$(log_dir)"
  local log
  log="$(log_dir)/pg-$name.log"
  touch "$log"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$log"
  as_pg_user "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null 2>&1 ||
    fail_service "pg-$name" "pg_ctl start failed"
  head -n 1 "$data/postmaster.pid" >"$(pid_file "pg-$name")"
  wait_until "pg-$name" 60 pg_is_ready "$port"
}

pg_stop_cluster() {
  local name=$1 bin data
  bin=$(pg_bin_dir) || return 0
  data=$(pg_data_dir "$name")
  if service_pid "pg-$name" >/dev/null; then
    say "stopping pg-$name"
    as_pg_user "$bin/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 || stop_service "pg-$name"
  fi
  rm -f "$(pid_file "pg-$name")"
}

# Roles, databases and the publication. Idempotent: runs on every `up`.
pg_bootstrap_source() {
  local port=$PGFERRY_SOURCE_PG_PORT db=$PGFERRY_SOURCE_DB
  psql_super "$port" postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep 1 >/dev/null ||
    psql_super "$port" postgres -c "CREATE DATABASE \"$db\""
  psql_super "$port" "$db" \
    -v dbz_user="$PGFERRY_DEBEZIUM_USER" -v dbz_pw="$PGFERRY_DEBEZIUM_PASSWORD" \
    -v rd_user="$PGFERRY_SOURCE_READER_USER" -v rd_pw="$PGFERRY_SOURCE_READER_PASSWORD" \
    -v rb_user="$PGFERRY_ROLLBACK_USER" -v rb_pw="$PGFERRY_ROLLBACK_PASSWORD" \
    -v pub="$PGFERRY_PUBLICATION" -v db="$db" -v schemas="$PGFERRY_SOURCE_SCHEMAS" \
    -f "$PGFERRY_ROOT/stack/sql/source-bootstrap.sql"
}

pg_bootstrap_target() {
  local port=$PGFERRY_TARGET_PG_PORT db=$PGFERRY_TARGET_DB
  psql_super "$port" postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep 1 >/dev/null ||
    psql_super "$port" postgres -c "CREATE DATABASE \"$db\""
  psql_super "$port" "$db" -v app_user="$PGFERRY_TARGET_USER" -v app_pw="$PGFERRY_TARGET_PASSWORD" -v db="$db" \
    -v dbz_user="$PGFERRY_DEBEZIUM_USER" -v dbz_pw="$PGFERRY_DEBEZIUM_PASSWORD" \
    -f "$PGFERRY_ROOT/stack/sql/target-bootstrap.sql"
}
