#!/usr/bin/env bash
# Ensure a Java 17+ runtime, Maven and (optionally) kcat, then resolve the
# Apache Kafka broker + CLI tools from Maven Central into ~/.m2 and write
# their classpath to a cache file.
#
# Usage: scripts/kafka/fetch.sh [--quiet] [--no-kcat] [--print]
#   --quiet    print nothing but errors (used by broker.sh)
#   --no-kcat  do not try to install kcat
#   --print    print the path of the classpath file on stdout
#
# Env: ASSAY_KAFKA_VERSION (default below), ASSAY_CACHE_DIR
#      (default ${XDG_CACHE_HOME:-~/.cache}/assay).
#
# Idempotent. When the classpath file exists and every jar in it exists, no
# network is used (and neither Maven nor apt-get are run).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/common.sh
source "$HERE/common.sh"

QUIET=0 KCAT=1 PRINT=0
for a in "$@"; do
  case "$a" in
    --quiet) QUIET=1 ;;
    --no-kcat) KCAT=0 ;;
    --print) PRINT=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) die "fetch.sh: unknown argument: $a" ;;
  esac
done

say() { if [[ $QUIET == 0 ]]; then echo "fetch.sh: $*" >&2; fi; }

APT_UPDATED=0
apt_install() {
  local sudo=""
  if [[ $(id -u) != 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to apt-get install $*"
    sudo="sudo"
  fi
  command -v apt-get >/dev/null 2>&1 || die "apt-get not available; install $* by hand"
  if [[ $APT_UPDATED == 0 ]]; then
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    APT_UPDATED=1
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# --- Java 17+ ---------------------------------------------------------------
if [[ $(java_major) -lt 17 ]]; then
  say "Java 17+ not found; installing openjdk-17-jre-headless"
  apt_install openjdk-17-jre-headless
  hash -r
  [[ $(java_major) -ge 17 ]] || die "java 17+ still not on PATH after install"
fi

# --- cached classpath? ------------------------------------------------------
CPFILE="$(cp_file)"
if cp_valid "$CPFILE"; then
  say "cached: Kafka $KAFKA_VERSION classpath in $CPFILE"
else
  # --- Maven ----------------------------------------------------------------
  if ! command -v mvn >/dev/null 2>&1; then
    say "mvn not found; installing maven"
    apt_install maven
    hash -r
  fi
  mkdir -p "$CACHE_DIR"
  # Serialise concurrent fetches (ctest -j, several engineers).
  exec 9>"$CACHE_DIR/kafka-$KAFKA_VERSION.lock"
  flock 9
  if ! cp_valid "$CPFILE"; then
    say "resolving org.apache.kafka:kafka_2.13:$KAFKA_VERSION (+ tools) from Maven Central"
    tmp="$CPFILE.tmp.$$"
    if ! mvn -B -q -Dstyle.color=never -f "$HERE/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
         dependency:build-classpath -Dmdep.outputFile="$tmp" -Dmdep.includeScope=runtime >&2; then
      rm -f "$tmp"
      die "maven could not resolve Kafka $KAFKA_VERSION"
    fi
    # build-classpath writes no trailing newline; normalise.
    tr -d '\n' <"$tmp" >"$tmp.2" && mv "$tmp.2" "$tmp"
    grep -q "kafka_2.13-$KAFKA_VERSION.jar" "$tmp" || { rm -f "$tmp"; die "classpath lacks kafka_2.13-$KAFKA_VERSION.jar"; }
    mv "$tmp" "$CPFILE"
    cp_valid "$CPFILE" || die "classpath file $CPFILE names missing jars"
    say "wrote $CPFILE"
  fi
  flock -u 9
fi

# --- kcat (handy librdkafka CLI client; optional) ---------------------------
if [[ $KCAT == 1 ]] && ! command -v kcat >/dev/null 2>&1; then
  say "kcat not found; installing it (optional)"
  apt_install kcat || say "warning: could not install kcat (tests fall back to the Kafka console tools)"
fi

if [[ $PRINT == 1 ]]; then echo "$CPFILE"; fi
