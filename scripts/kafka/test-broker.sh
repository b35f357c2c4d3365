#!/usr/bin/env bash
# Smoke test for the real-Kafka test broker scripts:
#   fetch -> plain broker: create topic (4 partitions), produce/consume 10
#   messages, restart keeps data -> TLS broker: client cert accepted, no cert
#   and rogue (non-CA) cert rejected -> stop both (stop twice is safe).
# Uses kcat when installed, else (or with --java-clients) the Kafka console
# tools on the broker's classpath. Exits 0 only if every check passed; ends
# with a line "N passed, N failed".
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BROKER="$HERE/broker.sh"

CLIENT=kcat
if [[ ${1:-} == --java-clients ]] || ! command -v kcat >/dev/null 2>&1; then CLIENT=java; fi

PASS=0 FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }
not() { ! "$@"; }
since() { # seconds since $1 (an $EPOCHREALTIME value), one decimal
  local now=$EPOCHREALTIME
  awk -v a="$1" -v b="$now" 'BEGIN{printf "%.1f", b - a}'
}
check() { # check DESCRIPTION CMD...
  local d="$1"; shift
  if "$@"; then ok "$d"; else bad "$d"; fi
}

WORK="$(mktemp -d "${TMPDIR:-/tmp}/assay-kafka-smoke.XXXXXX")"
P="$WORK/plain" T="$WORK/tls"
cleanup() {
  "$BROKER" stop "$P" || true
  "$BROKER" stop "$T" || true
  if [[ $FAIL != 0 || -n ${KEEP_WORK:-} ]]; then
    echo "(work dir kept: $WORK)"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

echo "# client: $CLIENT; work dir: $WORK"

check "fetch.sh (java 17+, maven, classpath)" "$HERE/fetch.sh" --quiet

# --- plain broker -----------------------------------------------------------
t0=$EPOCHREALTIME
if "$BROKER" start "$P"; then
  ok "start plain broker ($(since "$t0")s) at $(<"$P/bootstrap")"
else
  bad "start plain broker"
  echo "$PASS passed, $FAIL failed"
  exit 1
fi
B="$(<"$P/bootstrap")"
start_again() { "$BROKER" start "$P" 2>/dev/null; }
check "start is refused while running" not start_again
check "create-topic smoke 4" "$BROKER" create-topic "$P" smoke 4

partitions() { # partitions BOOTSTRAP TOPIC
  if [[ $CLIENT == kcat ]]; then
    kcat -L -b "$1" -t "$2" -m 10 2>/dev/null | grep -c '^ *partition '
  else
    "$BROKER" run-class org.apache.kafka.tools.TopicCommand --bootstrap-server "$1" \
      --describe --topic "$2" 2>/dev/null | grep -c 'Partition: '
  fi
}
check "topic has 4 partitions" test "$(partitions "$B" smoke)" = 4

produce() { # produce BOOTSTRAP TOPIC  (stdin "key:value" lines)
  if [[ $CLIENT == kcat ]]; then
    kcat -P -b "$1" -t "$2" -K: -X acks=all
  else
    "$BROKER" run-class org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$1" --topic "$2" \
      --reader-property parse.key=true --reader-property key.separator=: >/dev/null
  fi
}
consume() { # consume BOOTSTRAP TOPIC N -> values on stdout
  if [[ $CLIENT == kcat ]]; then
    kcat -C -b "$1" -t "$2" -o beginning -e -q -c "$3" -f '%s\n'
  else
    "$BROKER" run-class org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$1" \
      --topic "$2" --from-beginning --max-messages "$3" --timeout-ms 30000 2>/dev/null
  fi
}
expected="$(seq 1 10 | sed 's/^/msg-/')"
produce_10() { seq 1 10 | sed 's/.*/k&:msg-&/' | produce "$B" smoke; }
check "produce 10 messages" produce_10
got="$(consume "$B" smoke 10 | sort -V || true)"
check "consume the 10 messages back" test "$got" = "$expected"

t0=$EPOCHREALTIME
if "$BROKER" restart "$P"; then
  ok "restart plain broker ($(since "$t0")s)"
else
  bad "restart plain broker"
fi
check "restart kept the port" test "$(<"$P/bootstrap")" = "$B"
got="$(consume "$B" smoke 10 | sort -V || true)"
check "messages survive restart" test "$got" = "$expected"

# --- TLS broker -------------------------------------------------------------
t0=$EPOCHREALTIME
if "$BROKER" start "$T" --tls; then
  ok "start TLS broker ($(since "$t0")s) at $(<"$T/bootstrap_tls") (plain $(<"$T/bootstrap"))"
  S="$(<"$T/bootstrap_tls")" C="$T/tls"
  check "tls/ has ca, broker, client and rogue PEM files" test -s "$C/ca.pem" -a -s "$C/broker.pem" -a -s "$C/broker.key" \
    -a -s "$C/client.pem" -a -s "$C/client.key" -a -s "$C/rogue.pem" -a -s "$C/rogue.key"
  signed_by_ca() { openssl verify -CAfile "$C/ca.pem" -purpose sslclient "$1" >/dev/null 2>&1; }
  check "client cert is signed by the CA" signed_by_ca "$C/client.pem"
  check "rogue cert is NOT signed by the CA" not signed_by_ca "$C/rogue.pem"

  tls_metadata() { # tls_metadata CERT KEY  ("" "" = no client cert)
    if [[ $CLIENT == kcat ]]; then
      local args=(-L -b "$S" -m 8 -X security.protocol=ssl -X ssl.ca.location="$C/ca.pem")
      [[ -n $1 ]] && args+=(-X ssl.certificate.location="$1" -X ssl.key.location="$2")
      kcat "${args[@]}" >"$WORK/md.out" 2>&1 && grep -q "broker 1 at 127.0.0.1" "$WORK/md.out"
    else
      local cfg="$WORK/tls-client.properties"
      {
        printf 'security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location=%s\n' "$C/ca.pem"
        if [[ -n $1 ]]; then
          echo "ssl.keystore.type=PEM"
          printf 'ssl.keystore.key='; awk 'NR>1{printf " \\\n"} {printf "%s", $0} END{printf "\n"}' "$2"
          printf 'ssl.keystore.certificate.chain='; awk 'NR>1{printf " \\\n"} {printf "%s", $0} END{printf "\n"}' "$1"
        fi
      } >"$cfg"
      echo "default.api.timeout.ms=8000" >>"$cfg"
      echo "request.timeout.ms=4000" >>"$cfg"
      timeout 30 "$BROKER" run-class org.apache.kafka.tools.TopicCommand --bootstrap-server "$S" \
        --command-config "$cfg" --list >"$WORK/md.out" 2>&1
    fi
  }
  check "TLS: client with CA-signed cert gets metadata" tls_metadata "$C/client.pem" "$C/client.key"
  # Rejected = the client gets no metadata AND the broker logged a failed TLS
  # authentication for it (so a dead broker cannot pass for a rejection).
  auth_failures() { grep -c 'Failed authentication with .*SSL handshake failed' "$T/broker.log" || true; }
  tls_rejected() {
    local before
    before="$(auth_failures)"
    ! tls_metadata "$@" && (( $(auth_failures) > before ))
  }
  check "TLS: client without a cert is rejected (handshake)" tls_rejected "" ""
  check "TLS: client with rogue (non-CA) cert is rejected (handshake)" tls_rejected "$C/rogue.pem" "$C/rogue.key"
  if [[ $CLIENT == kcat ]]; then
    tls_roundtrip() {
      local tls=(-X security.protocol=ssl -X ssl.ca.location="$C/ca.pem"
                 -X ssl.certificate.location="$C/client.pem" -X ssl.key.location="$C/client.key")
      "$BROKER" create-topic "$T" tlstopic 4 &&
        seq 1 5 | kcat -P -b "$S" -t tlstopic "${tls[@]}" &&
        test "$(kcat -C -b "$S" -t tlstopic -o beginning -e -q -c 5 "${tls[@]}" | wc -l)" = 5
    }
    check "TLS: produce+consume over SSL with client cert" tls_roundtrip
  fi
else
  bad "start TLS broker"
fi

# --- stop ------------------------------------------------------------------
check "stop plain broker" "$BROKER" stop "$P"
check "stop TLS broker" "$BROKER" stop "$T"
check "stop twice is a no-op" "$BROKER" stop "$P"
check "stop of a never-started dir is a no-op" "$BROKER" stop "$WORK/nonexistent"
check "no broker processes left" not pgrep -f "kafka.Kafka $WORK/"

echo "$PASS passed, $FAIL failed"
[[ $FAIL == 0 ]]
