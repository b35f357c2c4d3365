#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft, combined broker+controller) for tests.
#
# Usage:
#   broker.sh start DIR [--tls]     start a broker whose state lives in DIR (an
#                                   existing DIR keeps its data, and its ports if free)
#   broker.sh stop DIR              SIGTERM, SIGKILL after 20 s; no-op if not running
#   broker.sh restart DIR           stop, then start again on the same ports and
#                                   data (and TLS mode) as the last start
#   broker.sh status DIR            exit 0 if running
#   broker.sh create-topic DIR NAME PARTITIONS
#   broker.sh run-class CLASS ARGS...   run a Kafka main class on the broker's classpath
#
# start prints nothing on success (errors go to stderr) and leaves:
#   DIR/bootstrap       127.0.0.1:PORT of the PLAINTEXT listener
#   DIR/bootstrap_tls   127.0.0.1:PORT of the SSL listener (--tls only)
#   DIR/pid, DIR/broker.log, DIR/server.properties, DIR/data/
#   DIR/tls/            ca.pem, broker.pem/.key, client.pem/.key, rogue.pem/.key,
#                       client.properties (for Java clients)          (--tls only)
# Everything listens on 127.0.0.1 only.
#
# Env: ASSAY_KAFKA_VERSION, ASSAY_KAFKA_START_TIMEOUT (s, default 60),
#      ASSAY_KAFKA_STOP_TIMEOUT (s, default 20), ASSAY_KAFKA_HEAP (default 512m),
#      ASSAY_KAFKA_CDS=0 (no class-data-sharing archive). See docs/kafka-test-broker.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/common.sh
source "$HERE/common.sh"

START_TIMEOUT="${ASSAY_KAFKA_START_TIMEOUT:-60}"
STOP_TIMEOUT="${ASSAY_KAFKA_STOP_TIMEOUT:-20}"
HEAP="${ASSAY_KAFKA_HEAP:-512m}"

usage() { sed -n '2,24p' "$0" >&2; exit 2; }

abs_dir() { # create DIR if needed, print its absolute path
  mkdir -p "$1"
  (cd "$1" && pwd -P)
}

# --- process helpers ----------------------------------------------------------
# True if PID is alive (not a zombie) and is the broker for DIR.
broker_alive() {
  local pid="$1" dir="$2" state
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/stat ]] || return 1
  state="$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
  [[ $state != Z && $state != X ]] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF "$dir/server.properties"
}

running_pid() { # print pid if the broker for DIR runs
  local dir="$1" pid
  [[ -f $dir/pid ]] || return 1
  pid="$(<"$dir/pid")"
  broker_alive "$pid" "$dir" || return 1
  echo "$pid"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Print N distinct free loopback TCP ports.
free_ports() {
  local n="$1"
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$n" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
  else
    local ports=() p tries=0
    while ((${#ports[@]} < n)); do
      ((tries++ < 1000)) || die "could not find free ports"
      p=$((20000 + RANDOM % 40000))
      [[ " ${ports[*]} " == *" $p "* ]] && continue
      port_in_use "$p" || ports+=("$p")
    done
    echo "${ports[*]}"
  fi
}

# Kafka Uuid: 16 random bytes, url-safe base64 without padding; must not
# start with '-' (it would read as a CLI option).
new_cluster_id() {
  local id
  while :; do
    id="$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ $id != -* && ${#id} == 22 ]] && { echo "$id"; return; }
  done
}

java_tool() { # java_tool CLASS ARGS... (short-lived CLI JVM)
  local cp jsa cds_opts=()
  cp="$(kafka_classpath)"
  # Reuse the broker's CDS archive (same classpath) when there is one.
  if [[ ${ASSAY_KAFKA_CDS:-1} != 0 ]]; then
    jsa="$(cds_archive_path "$cp")"
    if [[ -s $jsa ]]; then cds_opts=(-XX:SharedArchiveFile="$jsa" -Xlog:cds=off -Xlog:cds+dynamic=off); fi
  fi
  java "${JVM_COMMON_OPTS[@]}" ${cds_opts[@]+"${cds_opts[@]}"} -Xmx256m \
    -Dlog4j2.configurationFile="$HERE/tools-log4j2.properties" \
    -cp "$cp" "$@"
}

# PEM file -> a properties value continued over lines ("a \<NL>b \<NL>c").
pem_prop() { awk 'NR>1{printf " \\\n"} {printf "%s", $0} END{printf "\n"}' "$@"; }

# --- TLS material -------------------------------------------------------------
gen_tls() {
  local t="$1/tls"
  if [[ -f $t/ca.pem && -f $t/broker.pem && -f $t/client.pem && -f $t/rogue.pem ]]; then
    return 0
  fi
  command -v openssl >/dev/null 2>&1 || die "openssl is needed for --tls"
  rm -rf "$t"
  mkdir -p "$t"
  (
    cd "$t"
    umask 077
    local days=3650
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" \
      -keyout ca.key -out ca.pem -subj "/CN=Assay Test CA" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign"
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >broker.ext
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=clientAuth" >client.ext
    openssl req -new -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr -subj "/CN=127.0.0.1"
    openssl x509 -req -sha256 -days "$days" -in broker.csr -CA ca.pem -CAkey ca.key \
      -set_serial "0x$(openssl rand -hex 8)" -extfile broker.ext -out broker.pem
    openssl req -new -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/CN=assay-test-client"
    openssl x509 -req -sha256 -days "$days" -in client.csr -CA ca.pem -CAkey ca.key \
      -set_serial "0x$(openssl rand -hex 8)" -extfile client.ext -out client.pem
    # Not signed by the CA: must be rejected by the broker.
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" \
      -keyout rogue.key -out rogue.pem -subj "/CN=assay-rogue-client" \
      -addext "extendedKeyUsage=clientAuth"
    rm -f ./*.csr ./*.ext
    chmod 644 ./*.pem
    # Java client config (console tools etc.) for the SSL listener.
    {
      echo "security.protocol=SSL"
      echo "ssl.truststore.type=PEM"
      echo "ssl.truststore.location=$t/ca.pem"
      echo "ssl.keystore.type=PEM"
      printf 'ssl.keystore.key='; pem_prop client.key
      printf 'ssl.keystore.certificate.chain='; pem_prop client.pem
    } >client.properties
  ) >"$1/tls-gen.log" 2>&1 || { cat "$1/tls-gen.log" >&2; die "TLS material generation failed"; }
}

# --- server.properties ----------------------------------------------------------
write_config() {
  local dir="$1" tls="$2" p_plain="$3" p_ctrl="$4" p_ssl="$5"
  local listeners="PLAINTEXT://127.0.0.1:$p_plain,CONTROLLER://127.0.0.1:$p_ctrl"
  local advertised="PLAINTEXT://127.0.0.1:$p_plain"
  if [[ $tls == 1 ]]; then
    listeners+=",SSL://127.0.0.1:$p_ssl"
    advertised+=",SSL://127.0.0.1:$p_ssl"
  fi
  {
    cat <<EOF
# Generated by scripts/kafka/broker.sh -- single-node KRaft test broker.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$p_ctrl
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listeners=$listeners
advertised.listeners=$advertised
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL
log.dirs=$dir/data
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
background.threads=2
log.flush.interval.messages=9223372036854775807
EOF
    if [[ $tls == 1 ]]; then
      cat <<EOF
ssl.client.auth=required
ssl.truststore.type=PEM
ssl.truststore.location=$dir/tls/ca.pem
ssl.keystore.type=PEM
EOF
      printf 'ssl.keystore.key='; pem_prop "$dir/tls/broker.key"
      printf 'ssl.keystore.certificate.chain='; pem_prop "$dir/tls/broker.pem"
    fi
  } >"$dir/server.properties"
  chmod 600 "$dir/server.properties"
}

# --- commands -----------------------------------------------------------------
cmd_start() {
  local dir="" tls="" a same_ports=0
  for a in "$@"; do
    case "$a" in
      --tls) tls=1 ;;
      --plain) tls=0 ;;
      --same-ports) same_ports=1 ;;
      -*) die "start: unknown option $a" ;;
      *) [[ -z $dir ]] || usage; dir="$a" ;;
    esac
  done
  [[ -n $dir ]] || usage
  dir="$(abs_dir "$dir")"
  local pid
  if pid="$(running_pid "$dir")"; then
    die "a broker is already running in $dir (pid $pid)"
  fi
  [[ -n $tls ]] || tls=0

  local cp
  cp="$(kafka_classpath)"

  # Ports: reuse those of a previous start in DIR (restart keeps them), else pick.
  local p_plain="" p_ctrl="" p_ssl=""
  if [[ -f $dir/ports.env ]]; then
    # shellcheck disable=SC1091
    source "$dir/ports.env"
  fi
  if [[ -z $p_plain || -z $p_ctrl ]]; then
    read -r p_plain p_ctrl p_ssl < <(free_ports 3)
  elif [[ $tls == 1 && -z $p_ssl ]]; then
    read -r p_ssl < <(free_ports 1)
  fi
  local p check=("$p_plain" "$p_ctrl")
  if [[ $tls == 1 ]]; then check+=("$p_ssl"); fi
  for p in "${check[@]}"; do
    if port_in_use "$p"; then
      # restart must keep its ports; a plain start may move to new ones.
      [[ $same_ports == 0 ]] || die "port 127.0.0.1:$p (from $dir/ports.env) is in use"
      read -r p_plain p_ctrl p_ssl < <(free_ports 3)
      break
    fi
  done
  printf 'p_plain=%s\np_ctrl=%s\np_ssl=%s\n' "$p_plain" "$p_ctrl" "$p_ssl" >"$dir/ports.env"
  echo "$tls" >"$dir/tls_mode"

  if [[ $tls == 1 ]]; then gen_tls "$dir"; fi
  write_config "$dir" "$tls" "$p_plain" "$p_ctrl" "$p_ssl"

  # Format the log dir once; restarts keep the data.
  if [[ ! -f $dir/data/meta.properties ]]; then
    [[ -f $dir/cluster_id ]] || new_cluster_id >"$dir/cluster_id"
    if ! java_tool kafka.tools.StorageTool format -t "$(<"$dir/cluster_id")" \
        -c "$dir/server.properties" >"$dir/format.log" 2>&1; then
      cat "$dir/format.log" >&2
      die "kafka-storage format failed in $dir"
    fi
  fi

  # Class-data sharing: the first broker run on a machine dumps an AppCDS
  # archive when it exits (stop moves it into the cache); later starts map it,
  # which cuts JVM start-up by ~1 s. ASSAY_KAFKA_CDS=0 turns this off.
  local cds_opts=() jsa
  rm -f "$dir/cds_dump"
  if [[ ${ASSAY_KAFKA_CDS:-1} != 0 ]]; then
    jsa="$(cds_archive_path "$cp")"
    if [[ -s $jsa ]]; then
      cds_opts=(-XX:SharedArchiveFile="$jsa")
    elif mkdir -p "$CACHE_DIR" 2>/dev/null && [[ -w $CACHE_DIR ]]; then
      local tmpjsa="$jsa.$$.$RANDOM.tmp"
      cds_opts=(-XX:ArchiveClassesAtExit="$tmpjsa")
      printf '%s\n%s\n' "$tmpjsa" "$jsa" >"$dir/cds_dump"
    fi
  fi

  rm -f "$dir/bootstrap" "$dir/bootstrap_tls" "$dir/pid"
  # Every earlier log of this directory is kept, numbered in start order (broker.log.1, .2, ...;
  # the last 64): a failure after several restarts (the chaos test restarts the broker) can need
  # the log of the broker that was running when it began, not only the one before this start.
  if [[ -f $dir/broker.log ]]; then
    local n=0 f
    for f in "$dir"/broker.log.[0-9]*; do
      [[ -e $f ]] || continue
      f="${f##*.}"
      if ((f > n)); then n=$f; fi
    done
    n=$((n + 1))
    mv -f "$dir/broker.log" "$dir/broker.log.$n"
    if ((n > 64)); then rm -f "$dir/broker.log.$((n - 64))"; fi
  fi
  # Detached from our session and stdio, so ctest (which waits for the pipes
  # of a test's children) is not held by the broker.
  setsid java "${JVM_COMMON_OPTS[@]}" ${cds_opts[@]+"${cds_opts[@]}"} -Xms64m -Xmx"$HEAP" \
    -Dlog4j2.configurationFile="$HERE/broker-log4j2.properties" \
    -Djava.net.preferIPv4Stack=true \
    -Dassay.kafka.dir="$dir" \
    -cp "$cp" kafka.Kafka "$dir/server.properties" \
    </dev/null >"$dir/broker.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/pid"

  # Ready = the server logged its start-up and the client listener(s) accept.
  local deadline=$((SECONDS + START_TIMEOUT))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null || ! broker_alive "$pid" "$dir"; then
      echo "broker in $dir exited during start-up; last log lines:" >&2
      tail -n 40 "$dir/broker.log" >&2 || true
      rm -f "$dir/pid"
      finish_cds_dump "$dir" 1
      exit 1
    fi
    if grep -q "Kafka Server started" "$dir/broker.log" 2>/dev/null && port_in_use "$p_plain" \
       && { [[ $tls == 0 ]] || port_in_use "$p_ssl"; }; then
      break
    fi
    if ((SECONDS >= deadline)); then
      echo "broker in $dir not ready after ${START_TIMEOUT}s; last log lines:" >&2
      tail -n 40 "$dir/broker.log" >&2 || true
      cmd_stop "$dir" >/dev/null 2>&1 || true
      exit 1
    fi
    sleep 0.2
  done
  echo "127.0.0.1:$p_plain" >"$dir/bootstrap"
  if [[ $tls == 1 ]]; then echo "127.0.0.1:$p_ssl" >"$dir/bootstrap_tls"; fi
}

cmd_stop() {
  [[ $# == 1 ]] || usage
  [[ -d $1 ]] || return 0
  local dir pid
  dir="$(cd "$1" && pwd -P)"
  if ! pid="$(running_pid "$dir")"; then
    rm -f "$dir/pid"
    finish_cds_dump "$dir" 1
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT)) killed=0
  while broker_alive "$pid" "$dir"; do
    if ((SECONDS >= deadline)); then
      echo "broker in $dir (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT}s; sending SIGKILL" >&2
      killed=1
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do broker_alive "$pid" "$dir" || break; sleep 0.1; done
      break
    fi
    sleep 0.1
  done
  rm -f "$dir/pid"
  finish_cds_dump "$dir" "$killed"
}

# After a broker that was dumping a CDS archive exited: publish the archive
# (only if the JVM exited by itself, so the file is complete).
finish_cds_dump() {
  local dir="$1" killed="$2" tmpjsa jsa
  [[ -f $dir/cds_dump ]] || return 0
  { read -r tmpjsa; read -r jsa; } <"$dir/cds_dump" || true
  rm -f "$dir/cds_dump"
  [[ -n ${tmpjsa:-} && -n ${jsa:-} ]] || return 0
  if [[ $killed == 0 && -s $tmpjsa ]]; then
    if mv -f "$tmpjsa" "$jsa" 2>/dev/null; then
      # drop archives of this Kafka version made for an older JVM/classpath
      find "$(dirname "$jsa")" -maxdepth 1 -name "kafka-$KAFKA_VERSION-broker-*.jsa" \
        ! -name "$(basename "$jsa")" -mmin +60 -delete 2>/dev/null || true
    else
      rm -f "$tmpjsa"
    fi
  else
    rm -f "$tmpjsa"
  fi
}

cmd_restart() {
  [[ $# == 1 ]] || usage
  local dir="$1" mode=0
  [[ -f $dir/tls_mode ]] && mode="$(<"$dir/tls_mode")"
  cmd_stop "$dir"
  if [[ $mode == 1 ]]; then cmd_start "$dir" --tls --same-ports; else cmd_start "$dir" --plain --same-ports; fi
}

cmd_status() {
  [[ $# == 1 ]] || usage
  [[ -d $1 ]] || return 1
  local dir
  dir="$(cd "$1" && pwd -P)"
  running_pid "$dir" >/dev/null
}

cmd_create_topic() {
  [[ $# == 3 ]] || usage
  local dir="$1" name="$2" parts="$3" out
  [[ -s $dir/bootstrap ]] || die "no broker bootstrap in $dir (not started?)"
  [[ $parts =~ ^[0-9]+$ ]] || die "PARTITIONS must be a number"
  if ! out="$(java_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$(<"$dir/bootstrap")" \
      --create --if-not-exists --topic "$name" --partitions "$parts" --replication-factor 1 2>&1)"; then
    echo "$out" >&2
    die "could not create topic $name"
  fi
}

cmd="${1:-}"
[[ -n $cmd ]] || usage
shift
case "$cmd" in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  restart) cmd_restart "$@" ;;
  status) cmd_status "$@" ;;
  create-topic) cmd_create_topic "$@" ;;
  run-class) [[ $# -ge 1 ]] || usage; java_tool "$@" ;;
  -h|--help|help) usage ;;
  *) usage ;;
esac
