# Prometheus from Debian, configured from the repo's prometheus/ folder. The repo's files name
# the docker-compose hosts (pgferry:9464, pgferry:9465 for `pgferry copy`, ...); the native stack
# rewrites those to its own ports.

prometheus_url() { printf 'http://127.0.0.1:%s' "$PGFERRY_PROMETHEUS_PORT"; }
prometheus_dir() { printf '%s/prometheus' "$PGFERRY_STACK_DIR"; }

prometheus_write_config() {
  local dir
  dir=$(prometheus_dir)
  mkdir -p "$dir/config" "$dir/data"
  rm -rf "$dir/config"/*
  cp -r "$PGFERRY_ROOT/prometheus/." "$dir/config/"
  sed -i \
    -e "s#pgferry:9464#127.0.0.1:$PGFERRY_METRICS_PORT#g" \
    -e "s#pgferry:9465#127.0.0.1:$PGFERRY_COPY_METRICS_PORT#g" \
    -e "s#prometheus:9090#127.0.0.1:$PGFERRY_PROMETHEUS_PORT#g" \
    "$dir/config/prometheus.yml"
}

prometheus_start() {
  local port=$PGFERRY_PROMETHEUS_PORT dir
  dir=$(prometheus_dir)
  prometheus_write_config
  if service_pid prometheus >/dev/null && http_ok "$(prometheus_url)/-/ready"; then
    # Pick up config changes without a restart.
    curl -fsS -X POST --max-time 5 "$(prometheus_url)/-/reload" >/dev/null 2>&1 || true
    say "prometheus already running on 127.0.0.1:$port"
    return 0
  fi
  is_port_open "$port" && die "port $port (prometheus) is taken by another process; set PGFERRY_PROMETHEUS_PORT"
  promtool check config "$dir/config/prometheus.yml" >>"$(log_dir)/prometheus.log" 2>&1 ||
    fail_service prometheus "promtool check config failed"
  say "starting prometheus on 127.0.0.1:$port"
  start_background prometheus prometheus \
    "--config.file=$dir/config/prometheus.yml" \
    "--storage.tsdb.path=$dir/data" \
    "--web.listen-address=127.0.0.1:$port" \
    --web.enable-lifecycle
  wait_until prometheus 60 http_ok "$(prometheus_url)/-/ready"
}
