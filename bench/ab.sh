#!/usr/bin/env bash
# A/B in one sitting: two parley binaries (before, after) and the relay, each
# on a fresh data directory at C=64, alternated ROUNDS times, so a change's
# before/after figures (and their ratio to the relay) come from the same
# machine state. Prints one line per run and the medians.
#
#   go build -o /tmp/before ./cmd/parley   # on the old commit
#   go build -o /tmp/after ./cmd/parley
#   bench/ab.sh /tmp/before /tmp/after
#   BATCH=5000 bench/ab.sh /tmp/before /tmp/after   # one signed batch instead
#
# Needs the peers' load generator (PEERS=DIR, default ../shared/peers) and
# stops every process it starts by PID.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BEFORE="$1" AFTER="$2"
C="${C:-64}" DURATION="${DURATION:-8s}" WARMUP="${WARMUP:-2s}" ROUNDS="${ROUNDS:-2}"
PORT="${PORT:-18080}" GRAPH_PORT="${GRAPH_PORT:-18788}"
PEERS="${PEERS:-$ROOT/../shared/peers}"
OUT="$(mktemp -d /tmp/parley-ab.XXXXXX)"
cp -r "$PEERS/loadgen" "$OUT/loadgen"
(cd "$OUT/loadgen" && go build -o "$OUT/peer-loadgen" .)
(cd "$ROOT" && go build -o "$OUT/relay" ./bench/relay && go build -o "$OUT/batch-loadgen" ./bench/loadgen)

PID=""
stop() { if [[ -n "$PID" ]]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi; PID=""; }
trap stop EXIT

start() { # $1: binary or "relay"
	local data
	data="$(mktemp -d "$OUT/data.XXXXXX")"
	if [[ $1 == relay ]]; then
		"$OUT/relay" -addr "127.0.0.1:$PORT" -graph "http://127.0.0.1:$GRAPH_PORT" >"$OUT/server.log" 2>&1 &
	else
		PARLEY_WHATSAPP_APP_SECRET=loadgen-app-secret PARLEY_WHATSAPP_ACCESS_TOKEN=t PARLEY_WHATSAPP_VERIFY_TOKEN=v \
			PARLEY_WHATSAPP_PHONE_NUMBER_ID=100000000000001 PARLEY_WHATSAPP_FLOW=booking \
			PARLEY_WHATSAPP_GRAPH_URL="http://127.0.0.1:$GRAPH_PORT" \
			PARLEY_MASTER_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY= \
			"$1" serve --addr "127.0.0.1:$PORT" --flows "$ROOT/flows" --data "$data" --web-chat off >"$OUT/server.log" 2>&1 &
	fi
	PID=$!
	for _ in $(seq 300); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && return 0; sleep 0.1; done
	echo "server did not start:" >&2; cat "$OUT/server.log" >&2; exit 1
}

if [[ -n "${BATCH:-}" ]]; then # one signed webhook of BATCH first messages per run
	printf '%-8s %10s %14s %10s %8s\n' run ack-ms last-reply-ms cpu-s rss-MiB
	for r in $(seq "$ROUNDS"); do
		for name in relay before after; do
			bin="relay"; [[ $name == before ]] && bin="$BEFORE"; [[ $name == after ]] && bin="$AFTER"
			start "$bin"
			"$OUT/batch-loadgen" -target "http://127.0.0.1:$PORT" -graph "127.0.0.1:$GRAPH_PORT" -secret loadgen-app-secret \
				-batch "$BATCH" -pid "$PID" 2>/dev/null | grep '^RESULT ' | sed "s/^RESULT /$name /" >>"$OUT/rows"
			stop
			tail -1 "$OUT/rows" | python3 -c 'import json,sys; n,j=sys.stdin.read().split(" ",1); r=json.loads(j); print("%-8s %10.0f %14.0f %10.2f %8.0f" % (n, r.get("batch_ack_ms", 0), r.get("batch_replies_ms", 0), r.get("server_cpu_s", 0), r.get("server_rss_peak_mib", 0)))'
		done
	done
	echo "(raw rows in $OUT/rows)"
	exit 0
fi

printf '%-8s %10s %8s %12s %8s\n' run turns/s p99-ms cpu-ms/turn rss-MiB
for r in $(seq "$ROUNDS"); do
	for name in relay before after; do
		bin="relay"; [[ $name == before ]] && bin="$BEFORE"; [[ $name == after ]] && bin="$AFTER"
		start "$bin"
		"$OUT/peer-loadgen" -protocol whatsapp -target "http://127.0.0.1:$PORT/webhook/whatsapp" \
			-listen "127.0.0.1:$GRAPH_PORT" -phone-number-id 100000000000001 -c "$C" \
			-duration "$DURATION" -warmup "$WARMUP" -pid "$PID" | grep '^RESULT ' | sed "s/^RESULT /$name /" >>"$OUT/rows"
		stop
		tail -1 "$OUT/rows" | sed -E 's/^([a-z]+) .*"bot_cpu_ms_per_turn":([0-9.]+).*"bot_rss_peak_mib":([0-9.]+).*"turn_p99_ms":([0-9.]+).*"turns_per_s":([0-9.]+).*/\1 \5 \4 \2 \3/' |
			awk '{printf "%-8s %10s %8s %12s %8s\n", $1, $2, $3, $4, $5}'
	done
done
echo "(raw rows in $OUT/rows)"
