#!/usr/bin/env bash
# What a turn costs Badger at steady state: one parley server filled with
# FILL conversations (default 6,000) at C=64 by the peers' load generator,
# then measured for MEASURE (default 15s) with a CPU profile, Badger's own
# counters (expvar at --debug-addr /debug/vars, both databases together)
# read before and after the measured phase, and the table files of each
# database counted after a graceful stop.
#
#   bench/writes.sh [BINARY]      # default: parley built from this tree
#   PARLEY_MEMORY_LIMIT=0 bench/writes.sh   # the same without the Go memory limit
#
# Prints, per measured turn: user bytes written (keys and values as Parley
# wrote them), bytes flushed to L0, bytes written by compactions, LSM reads;
# CPU per turn of the fill and of the measured phase; the share of CPU in
# the garbage collector, compactions, flushes and table reads (go tool pprof
# -focus); bytes on disk per stored conversation. Files stay in $OUT.
# Ports: PORT, GRAPH_PORT, DEBUG_ADDR. Every process it starts is stopped by
# its PID.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FILL="${FILL:-6000}" MEASURE="${MEASURE:-15s}"
PORT="${PORT:-18080}" GRAPH_PORT="${GRAPH_PORT:-18788}" DEBUG_ADDR="${DEBUG_ADDR:-127.0.0.1:6061}"
PEERS="${PEERS:-$ROOT/../shared/peers}"
OUT="${OUT:-$(mktemp -d /tmp/parley-writes.XXXXXX)}"
mkdir -p "$OUT/data"
BIN="${1:-}"
if [[ -z $BIN ]]; then
	BIN="$OUT/parley"
	(cd "$ROOT" && go build -o "$BIN" ./cmd/parley)
fi
cp -r "$PEERS/loadgen" "$OUT/loadgen-src"
(cd "$OUT/loadgen-src" && go build -o "$OUT/peer-loadgen" .)

PID=""
stop() { if [[ -n $PID ]]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi; PID=""; }
trap stop EXIT
PARLEY_WHATSAPP_APP_SECRET=loadgen-app-secret PARLEY_WHATSAPP_ACCESS_TOKEN=t PARLEY_WHATSAPP_VERIFY_TOKEN=v \
	PARLEY_WHATSAPP_PHONE_NUMBER_ID=100000000000001 PARLEY_WHATSAPP_FLOW=booking \
	PARLEY_WHATSAPP_GRAPH_URL="http://127.0.0.1:$GRAPH_PORT" \
	PARLEY_MASTER_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY= \
	"$BIN" serve --addr "127.0.0.1:$PORT" --flows "$ROOT/flows" --data "$OUT/data" --web-chat off \
	--debug-addr "$DEBUG_ADDR" >"$OUT/server.log" 2>&1 &
PID=$!
for _ in $(seq 300); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
LG=("$OUT/peer-loadgen" -protocol whatsapp -target "http://127.0.0.1:$PORT/webhook/whatsapp" -listen "127.0.0.1:$GRAPH_PORT"
	-phone-number-id 100000000000001 -c 64 -pid "$PID")
echo "== fill: $FILL conversations (load average $(cut -d' ' -f1-3 /proc/loadavg))"
"${LG[@]}" -n "$FILL" | grep '^RESULT ' >"$OUT/fill.json"
curl -fs -o "$OUT/vars-before.json" "http://$DEBUG_ADDR/debug/vars"
(curl -fs -o "$OUT/cpu.pprof" "http://$DEBUG_ADDR/debug/pprof/profile?seconds=${MEASURE%s}") &
prof=$!
echo "== measure: $MEASURE"
"${LG[@]}" -duration "$MEASURE" | grep '^RESULT ' >"$OUT/measure.json"
wait "$prof"
curl -fs -o "$OUT/vars-after.json" "http://$DEBUG_ADDR/debug/vars"
stop # a graceful stop flushes the memtables: the table files then hold everything
shares=""
for f in gcBgMarkWorker gcAssist 'levelsController..compactBuildTables|subcompact' 'flushMemtable' \
	'levelsController..get|table..\*Table..block' 'DB..writeRequests'; do
	shares+="$f $(go tool pprof -top -focus="$f" "$OUT/cpu.pprof" 2>/dev/null | grep -m1 'Showing nodes' | grep -o '[0-9.]*%' | head -1)"$'\n'
done
python3 - "$OUT" "$shares" <<'EOF'
import json, os, sys
out, shares = sys.argv[1], sys.argv[2]
res = lambda n: json.loads(open(f"{out}/{n}.json").read().split(" ", 1)[1])
fill, meas = res("fill"), res("measure")
a, b = json.load(open(f"{out}/vars-after.json")), json.load(open(f"{out}/vars-before.json"))
turns = meas["turns"]
d = lambda k: a[k] - b[k]
comp = sum(a["badger_write_bytes_compaction"].values()) - sum(b["badger_write_bytes_compaction"].values())
print(f"per measured turn ({turns} turns): user bytes {d('badger_write_bytes_user')/turns:.0f}, "
      f"puts {d('badger_put_num_user')/turns:.1f}, L0 bytes {d('badger_write_bytes_l0')/turns:.0f}, "
      f"compaction bytes {comp/turns:.0f}, gets {d('badger_get_num_user')/turns:.1f}")
print(f"CPU ms/turn: fill {fill['bot_cpu_ms_per_turn']}, measured {meas['bot_cpu_ms_per_turn']}; "
      f"turns/s {meas['turns_per_s']}; p99 {meas['turn_p99_ms']} ms; peak RSS {meas['bot_rss_peak_mib']} MiB")
print("CPU share in the measured phase: " + ", ".join(l.replace(" ", " ", 1) for l in shares.strip().split("\n")))
stored = fill["conversations"] + meas["conversations"]
tot = 0
for db in ("db", "inbox"):
    n = sum(os.path.getsize(f"{out}/data/{db}/{f}") for f in os.listdir(f"{out}/data/{db}") if f.endswith(".sst"))
    n += sum(os.stat(f"{out}/data/{db}/{f}").st_blocks * 512 for f in os.listdir(f"{out}/data/{db}") if f.endswith(".vlog"))
    tot += n
    print(f"{db}: {n} bytes of tables and value log, {n/stored:.0f} per stored conversation")
print(f"disk per stored conversation: {tot/stored:.0f} bytes ({stored} conversations)")
EOF
echo "(files in $OUT; load average $(cut -d' ' -f1-3 /proc/loadavg))"
