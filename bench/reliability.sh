#!/usr/bin/env bash
# Reliability runs, long forms (the short forms are go tests: see
# bench/README.md). Each starts `parley serve` through bench/loadgen on a
# fresh data directory, drives the booking conversation at C concurrent
# customers, re-delivers every webhook that did not get a 200 (as Meta does:
# after the Retry-After of a 503 or 429, otherwise after a backoff that
# doubles from 20 ms to 1 s), and exits non-zero if any conversation was lost, got stuck, received its
# replies out of order, or left something queued. Duplicate sends, deliveries
# that got no answer, the peak RSS and the peak outbox depth are reported.
#
#   bench/reliability.sh            # crash x10, SIGTERM x5, Graph faults 20s/10s/10s
#   bench/reliability.sh --quick    # crash x3, SIGTERM x2, faults 5s/3s/3s (about a minute)
#
# Writes bench/RELIABILITY.md. Stops every process it starts (loadgen
# stops the servers it spawned).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
QUICK=0
[[ "${1:-}" == "--quick" ]] && QUICK=1
if [[ $QUICK == 1 ]]; then
	KILLS=3 TERMS=2 FAULTS="500:5s,429:3s,slow:3s" DURATION=10s FAULT_DURATION=15s
else
	KILLS=10 TERMS=5 FAULTS="500:20s,429:10s,slow:10s" DURATION=30s FAULT_DURATION=45s
fi
C="${C:-16}"
OUT="$(mktemp -d /tmp/parley-reliability.XXXXXX)"
(cd "$ROOT" && go build -o "$OUT/parley" ./cmd/parley && go build -o "$OUT/loadgen" ./bench/loadgen)

LG_PID=""
cleanup() { [[ -n "$LG_PID" ]] && kill "$LG_PID" 2>/dev/null || true; }
trap cleanup EXIT

status=0
declare -a rows
run() { # $1 name, rest: loadgen flags
	local name="$1"
	shift
	echo "== $name: loadgen $*"
	set +e
	(cd "$ROOT" && exec "$OUT/loadgen" -spawn "$OUT/parley" -flows flows -conversations "$C" "$@") >"$OUT/$name.txt" 2>"$OUT/$name.log" &
	LG_PID=$!
	wait "$LG_PID"
	local rc=$?
	LG_PID=""
	set -e
	grep -v 'level=' "$OUT/$name.log" | grep -v '^fake Graph' | tail -5 || true
	local r
	r="$(grep '^RESULT ' "$OUT/$name.txt" | tail -1 || true)"
	echo "$r"
	[[ $rc != 0 ]] && status=1
	rows+=("$name|$([[ $rc == 0 ]] && echo pass || echo FAIL)|${r#RESULT }")
}

run crash -duration "$DURATION" -chaos-cycles "$KILLS" -chaos-signal KILL -chaos-min-gap 500ms -chaos-max-gap 3s
run sigterm -duration "$DURATION" -chaos-cycles "$TERMS" -chaos-signal TERM -chaos-min-gap 1s -chaos-max-gap 4s
run graph-faults -duration "$FAULT_DURATION" -turn-timeout 3m -graph-faults "$FAULTS"

{
	echo "# Reliability runs"
	echo
	echo "Written by \`bench/reliability.sh$([[ $QUICK == 1 ]] && echo ' --quick')\` on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, C=$C,"
	echo "Parley at $(git -C "$ROOT" rev-parse --short HEAD). Kills: $KILLS, SIGTERMs: $TERMS, Graph faults: $FAULTS."
	echo
	echo "| run | result | conversations | stuck | inbound lost | out of order | duplicate sends | re-deliveries | no answer | stops | left queued | Graph calls refused | peak outbox | peak RSS MiB |"
	echo "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
	for row in "${rows[@]}"; do
		IFS='|' read -r name res json <<<"$row"
		f() { sed -E "s/.*\"$1\":([0-9.]+).*/\1/" <<<"$json"; }
		if [[ -z "$json" ]]; then
			echo "| $name | $res | – | – | – | – | – | – | – | – | – | – | – | – |"
		else
			printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.0f |\n' "$name" "$res" "$(f conversations)" "$(f stuck)" \
				"$(f inbound_lost)" "$(f out_of_order)" "$(f duplicate_sends)" "$(f redelivered)" "$(f in_flight_dropped)" \
				"$(f cycles)" "$(f left_queued)" "$(f graph_refused)" "$(f outbox_peak)" "$(f server_rss_peak_mib)"
		fi
	done
	echo
	echo "\"no answer\": deliveries whose connection was reset before a response (under SIGTERM: connections still"
	echo "in the accept queue when the listener closed; under SIGKILL: everything in flight). They are re-delivered,"
	echo "as Meta does, and are not a failure; lost, stuck, out of order and left queued are. \"re-deliveries\": every"
	echo "delivery sent again after no answer, a refused connection or another status than 200; the driver waits as"
	echo "long as a 503's or 429's Retry-After says (a draining server answers 503 with Retry-After: 1), otherwise"
	echo "20 ms doubling to 1 s."
} >"$ROOT/bench/RELIABILITY.md"
echo "wrote $ROOT/bench/RELIABILITY.md (raw output in $OUT)"
exit $status
