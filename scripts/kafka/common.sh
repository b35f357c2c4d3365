# Shared helpers for scripts/kafka/*.sh (sourced, not run).
# shellcheck shell=bash

# Newest Kafka 4.x for which both kafka_2.13 and kafka-tools resolve from
# Maven Central here (4.4.0 has kafka_2.13 but no kafka-tools artifact).
KAFKA_VERSION="${ASSAY_KAFKA_VERSION:-4.3.1}"
CACHE_DIR="${ASSAY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/assay}"

# Fast-starting JVM settings for a throwaway test broker / short-lived tools.
JVM_COMMON_OPTS=(-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData
                 -Xshare:auto -Djava.awt.headless=true)

die() { echo "error: $*" >&2; exit 1; }

# Major version of `java` on PATH, 0 if none.
java_major() {
  local v
  command -v java >/dev/null 2>&1 || { echo 0; return; }
  v="$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)"
  [[ -n $v ]] || { echo 0; return; }
  if [[ $v == 1.* ]]; then v="${v#1.}"; fi
  v="${v%%[.+-]*}"
  [[ $v =~ ^[0-9]+$ ]] && echo "$v" || echo 0
}

cp_file() { echo "$CACHE_DIR/kafka-$KAFKA_VERSION.classpath"; }

# True when the classpath file exists, is non-empty and all its jars exist.
cp_valid() {
  local f="$1" jar
  [[ -s $f ]] || return 1
  local IFS=:
  for jar in $(<"$f"); do
    [[ -f $jar ]] || return 1
  done
  return 0
}

# Classpath string (runs fetch.sh quietly if needed).
kafka_classpath() {
  local f
  f="$(cp_file)"
  if ! cp_valid "$f" || [[ $(java_major) -lt 17 ]]; then
    "$KAFKA_SCRIPTS/fetch.sh" --quiet --no-kcat >&2 || die "fetch.sh failed"
  fi
  cat "$f"
}

KAFKA_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
