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

# Path of the AppCDS archive for the broker JVM with classpath $1. The name
# hashes the JVM, its flags and every jar (path, size, mtime), so a changed
# JVM or re-downloaded jar simply gets a new archive.
cds_archive_path() {
  local cp="$1" key jbin jhome jars
  IFS=: read -r -a jars <<<"$cp"
  jbin="$(readlink -f "$(command -v java)")"
  jhome="$(dirname "$(dirname "$jbin")")"
  key="$( { stat -c '%n %s %Y' "$jbin" "$jhome/lib/modules" "$jhome/lib/server/libjvm.so" 2>/dev/null || true
            echo "${JVM_COMMON_OPTS[*]}"
            stat -c '%n %s %Y' "${jars[@]}"; } | sha1sum | cut -c1-12)"
  echo "$CACHE_DIR/kafka-$KAFKA_VERSION-broker-$key.jsa"
}

KAFKA_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
