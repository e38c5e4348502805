# Apicurio Registry (Quarkus fast-jar from Maven Central), in-memory storage, serving its
# Confluent-compatible API at /apis/ccompat/v7 and its own v2/v3 APIs. Storage is H2 in a file
# of the state directory, so schema ids survive a registry restart (messages in Kafka keep them).

registry_url() { printf 'http://127.0.0.1:%s' "$PGFERRY_REGISTRY_PORT"; }

# Apicurio Registry 3.3 is built for Java 21: use the newest JDK >= 21 under /usr/lib/jvm
# (Temurin 25 on these machines), or REGISTRY_JAVA_HOME if set.
registry_java() {
  local d v best=""
  if [[ -n ${REGISTRY_JAVA_HOME:-} ]]; then printf '%s/bin/java' "$REGISTRY_JAVA_HOME"; return 0; fi
  for d in /usr/lib/jvm/*/; do
    [[ -x $d/bin/java ]] || continue
    v=$("$d/bin/java" -XshowSettings:properties -version 2>&1 | awk -F' = ' '/java.specification.version/ {print $2}')
    [[ $v =~ ^[0-9]+$ ]] && ((v >= 21)) && best="$d/bin/java"
  done
  [[ -n $best ]] || die "the schema registry needs Java 21 or newer: none found under /usr/lib/jvm (set REGISTRY_JAVA_HOME)"
  printf '%s' "$best"
}

registry_start() {
  local port=$PGFERRY_REGISTRY_PORT jar
  if service_pid registry >/dev/null && http_ok "$(registry_url)/apis/registry/v3/system/info"; then
    say "registry already running on 127.0.0.1:$port"
    return 0
  fi
  is_port_open "$port" && die "port $port (registry) is taken by another process; set PGFERRY_REGISTRY_PORT"
  is_port_open "$PGFERRY_REGISTRY_MANAGEMENT_PORT" &&
    die "port $PGFERRY_REGISTRY_MANAGEMENT_PORT (registry management) is taken; set PGFERRY_REGISTRY_MANAGEMENT_PORT"
  jar=$(registry_run_jar)
  [[ -n $jar ]] || die "Apicurio registry not fetched (run: npm run stack:up)"
  say "starting registry on 127.0.0.1:$port"
  local java
  java=$(registry_java)
  start_background registry "$java" -Xms128m "-Xmx$PGFERRY_REGISTRY_HEAP" \
    -Dquarkus.http.host=127.0.0.1 "-Dquarkus.http.port=$port" \
    -Dquarkus.management.host=127.0.0.1 "-Dquarkus.management.port=$PGFERRY_REGISTRY_MANAGEMENT_PORT" \
    "-Dapicurio.datasource.url=jdbc:h2:file:$PGFERRY_STACK_DIR/registry/db;DB_CLOSE_ON_EXIT=FALSE" \
    -Dquarkus.http.access-log.enabled=false \
    -Dquarkus.log.level=INFO \
    "-Dquarkus.log.category.\"io.apicurio.registry.logging.audit\".level=WARN" \
    -jar "$jar"
  wait_until registry 120 http_ok "$(registry_url)/apis/registry/v3/system/info"
  wait_until registry 30 http_ok "$(registry_url)/apis/ccompat/v7/subjects"
}
