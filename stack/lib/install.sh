# Installs what the native stack runs on: Debian packages (PostgreSQL server, Prometheus, Java,
# Maven) when missing, and the Java artifacts from Maven Central, cached in the state directory.

pg_bin_dir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [[ -n $d && -x $d/initdb ]] && printf '%s' "$d"
}

apt_install() {
  local created_policy=0
  if [[ $(id -u) -ne 0 ]]; then
    die "missing packages ($*): install them with: sudo apt-get install -y $*"
  fi
  say "installing Debian packages: $*"
  # Services from packages must not start on install (we start our own on our own ports).
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  local rc=0
  { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"; } >&2 || rc=$?
  ((created_policy)) && rm -f /usr/sbin/policy-rc.d
  ((rc == 0)) || die "apt-get install $* failed (exit $rc)"
}

ensure_packages() {
  local missing=()
  pg_bin_dir >/dev/null || missing+=(postgresql)
  command -v psql >/dev/null || missing+=(postgresql-client)
  command -v prometheus >/dev/null || missing+=(prometheus)
  command -v promtool >/dev/null || missing+=(prometheus)
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  command -v curl >/dev/null || missing+=(curl)
  command -v setsid >/dev/null || missing+=(util-linux)
  if ((${#missing[@]})); then
    # shellcheck disable=SC2207
    missing=($(printf '%s\n' "${missing[@]}" | sort -u))
    apt_install "${missing[@]}"
  fi
}

java_dir() { printf '%s/java' "$PGFERRY_STACK_DIR"; }

# A fingerprint of everything that decides the Java artifacts: re-fetch only when it changes.
java_fingerprint() {
  {
    cat "$PGFERRY_ROOT"/stack/maven/*/pom.xml
    printf '%s %s\n' "$PGFERRY_DEBEZIUM_VERSION" "$PGFERRY_APICURIO_REGISTRY_VERSION"
  } | sha256sum | cut -d' ' -f1
}

mvn_quiet() {
  local log
  log="$(log_dir)/maven.log"
  mkdir -p "$(log_dir)"
  if ! mvn -B -q "$@" >>"$log" 2>&1; then
    printf '[stack] ERROR: mvn %s failed; last lines of %s:\n' "$*" "$log" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
}

fetch_java() {
  local dir marker fp
  dir=$(java_dir)
  marker="$dir/.fingerprint"
  fp=$(java_fingerprint)
  if [[ -f $marker && $(<"$marker") == "$fp" ]]; then
    return 0
  fi
  say "fetching Java artifacts from Maven Central into $dir (first run takes a few minutes)"
  rm -rf "$dir"
  mkdir -p "$dir/archives" "$dir/connect-plugins"
  mvn_quiet -f "$PGFERRY_ROOT/stack/maven/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$dir/kafka-libs"
  mvn_quiet -f "$PGFERRY_ROOT/stack/maven/apicurio-converter/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$dir/connect-plugins/apicurio-converter"
  local copy=org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy
  mvn_quiet "$copy" -Dartifact="io.debezium:debezium-connector-postgres:$PGFERRY_DEBEZIUM_VERSION:tar.gz:plugin" \
    -DoutputDirectory="$dir/archives"
  mvn_quiet "$copy" -Dartifact="io.apicurio:apicurio-registry-app:$PGFERRY_APICURIO_REGISTRY_VERSION:tar.gz:all" \
    -DoutputDirectory="$dir/archives"
  # The plugin archive unpacks to debezium-connector-postgres/, the folder Connect's plugin.path wants.
  tar -xzf "$dir/archives/debezium-connector-postgres-$PGFERRY_DEBEZIUM_VERSION-plugin.tar.gz" -C "$dir/connect-plugins"
  mkdir -p "$dir/apicurio-registry"
  tar -xzf "$dir/archives/apicurio-registry-app-$PGFERRY_APICURIO_REGISTRY_VERSION-all.tar.gz" -C "$dir/apicurio-registry"
  local run_jar
  run_jar=$(find "$dir/apicurio-registry" -name quarkus-run.jar | head -n 1)
  [[ -n $run_jar ]] || die "quarkus-run.jar not found in the Apicurio registry archive"
  rm -rf "$dir/archives"
  printf '%s' "$fp" >"$marker"
}

registry_run_jar() { find "$(java_dir)/apicurio-registry" -name quarkus-run.jar | head -n 1; }
