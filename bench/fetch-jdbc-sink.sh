#!/usr/bin/env bash
# Fetches the Debezium JDBC sink connector (plugin archive) from Maven Central into the stack's
# state directory, for the benchmark's own Connect worker. Separate from stack/lib/install.sh on
# purpose: that fetch wipes and refills .stack/java, which the running stack uses.
# Prints the plugin path (a folder of plugin folders) for the bench worker.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=/dev/null
PGFERRY_ROOT=$root source "$root/stack/defaults.env"
# Maven Central serves debezium-connector-jdbc up to 3.6.0.Final in the 3.6 line (3.6.1.Final,
# the stack's source connector version, is not published for this artifact): the nearest one.
version=${BENCH_JDBC_SINK_VERSION:-3.6.0.Final}
plugins="$PGFERRY_STACK_DIR/java/bench-plugins"
marker="$plugins/.jdbc-sink-version"
if [[ -f $marker && $(<"$marker") == "$version" && -d $plugins/debezium-connector-jdbc ]]; then
  printf '%s\n' "$plugins"
  exit 0
fi
archives=$(mktemp -d)
trap 'rm -rf "$archives"' EXIT
log="$PGFERRY_STACK_DIR/logs/bench-maven.log"
mkdir -p "$(dirname "$log")"
printf '[bench] fetching io.debezium:debezium-connector-jdbc:%s from Maven Central\n' "$version" >&2
if ! mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy \
  -Dartifact="io.debezium:debezium-connector-jdbc:$version:tar.gz:plugin" \
  -DoutputDirectory="$archives" >>"$log" 2>&1; then
  printf '[bench] ERROR: mvn failed; last lines of %s:\n' "$log" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
rm -rf "$plugins/debezium-connector-jdbc"
mkdir -p "$plugins"
tar -xzf "$archives/debezium-connector-jdbc-$version-plugin.tar.gz" -C "$plugins"
# The Avro converter the source connector writes with: the stack's copy, linked in.
ln -sfn "$PGFERRY_STACK_DIR/java/connect-plugins/apicurio-converter" "$plugins/apicurio-converter"
printf '%s' "$version" >"$marker"
printf '%s\n' "$plugins"
