#!/usr/bin/env bash
# Benchmarks you can rerun: Parley, a bare relay (bench/relay: signature,
# decode, fixed replies, no flow, no storage) and the Bot Framework peer
# (../shared/peers, or PEERS=DIR), measured in one sitting with one load
# generator, on loopback only. Writes bench/RESULTS.md and bench/chart.svg.
#
#   bench/run.sh --quick                 # about 2-3 minutes
#   bench/run.sh                         # the full run (about 15 minutes)
#   bench/run.sh --scale-target 1000000  # scale test up to a million stored conversations
#   bench/run.sh --scale-only            # only the scale test, in steps (SCALE_STEPS, default 1000 10000 100000):
#                                        # at each step a measured phase of Parley and one of the relay; writes bench/SCALE.md
#                                        # SCALE_FILL_MODE=http|seed|auto (auto: bench/seed for steps >= 100000),
#                                        # SCALE_DEADLINE=HH:MM (UTC): seeding stops then, the step is measured where it got
#   DEBUG_ADDR=127.0.0.1:6061 bench/run.sh --quick  # also CPU and heap profiles of Parley at C=64 (in $OUT)
#
# Every process it starts is stopped by its PID on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
QUICK=0
SCALE_TARGET=0
SCALE_ONLY=0
while [[ $# -gt 0 ]]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--scale-only) SCALE_ONLY=1 ;;
	--scale-target) SCALE_TARGET="$2"; shift ;;
	--scale-target=*) SCALE_TARGET="${1#*=}" ;;
	-h | --help) sed -n '2,17p' "$0"; exit 0 ;;
	*) echo "bench/run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
	shift
done

if [[ $QUICK == 1 ]]; then
	LEVELS="${LEVELS:-1 16 64 256}" WARMUP="${WARMUP:-1s}" DURATION="${DURATION:-3s}"
	RATE_DURATION="${RATE_DURATION:-5s}" BATCHES="${BATCHES:-1000 5000}"
	SCALE_BUDGET="${SCALE_BUDGET:-20}" SCALE_PHASE="${SCALE_PHASE:-5s}"
else
	LEVELS="${LEVELS:-1 16 64 256}" WARMUP="${WARMUP:-5s}" DURATION="${DURATION:-20s}"
	RATE_DURATION="${RATE_DURATION:-20s}" BATCHES="${BATCHES:-1000 5000}"
	SCALE_BUDGET="${SCALE_BUDGET:-300}" SCALE_PHASE="${SCALE_PHASE:-20s}"
fi
RATE="${RATE:-1000}"
[[ $SCALE_TARGET -gt 0 ]] && SCALE_BUDGET=$((1 << 30))
# --scale-only: fill to each step in chunks of at most SCALE_FILL conversations
# (each chunk a recorded phase), then measure SCALE_PHASE of Parley and of the
# relay (on RELAY_PORT, Parley idle) at C=64.
SCALE_STEPS="${SCALE_STEPS:-1000 10000 100000}" SCALE_FILL="${SCALE_FILL:-10000}"
# How a step is reached: http (the load generator at C=64, as above), seed
# (the server stopped, bench/seed runs the booking conversations through the
# same server code in-process on its data directory, the server restarted
# and warmed up for SCALE_WARMUP before the measured phase) or auto: seed for
# steps of 100,000 and more. SCALE_DEADLINE (HH:MM UTC) stops a seeding then.
SCALE_FILL_MODE="${SCALE_FILL_MODE:-auto}" SCALE_WARMUP="${SCALE_WARMUP:-5s}" SCALE_DEADLINE="${SCALE_DEADLINE:-}"
MASTER_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=
PEERS="${PEERS:-$ROOT/../shared/peers}"
OUT="${OUT:-$(mktemp -d /tmp/parley-bench.XXXXXX)}"
PORT="${PORT:-18080}" RELAY_PORT="${RELAY_PORT:-18081}" GRAPH_PORT="${GRAPH_PORT:-18788}" BF_PORT="${BF_PORT:-13978}"
SECRET="loadgen-app-secret" PNID="100000000000001"
BIN="$OUT/bin" ROWS="$OUT/rows.jsonl"
mkdir -p "$BIN"
: >"$ROWS"
COMMANDS=()
STARTED="$(date -u '+%Y-%m-%d %H:%M UTC')"
LOADAVG="$(cut -d" " -f1-3 /proc/loadavg)"

# --- processes: every one we start is recorded and stopped by PID ---------
PIDS=()
SERVER_PID=""
stop_pid() {
	local pid="$1"
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}
cleanup() {
	for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { # $1 port, $2 pid, $3 log
	for _ in $(seq 3000); do # a server opening a large data directory takes a while
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	echo "bench/run.sh: the server on port $1 did not start; its log ($3):" >&2
	tail -20 "$3" >&2
	exit 1
}
stop_server() {
	[[ -n "$SERVER_PID" ]] && stop_pid "$SERVER_PID"
	SERVER_PID=""
}

DATA=""
start_server() { # $1: parley | relay | botframework, $2: log name, $3: "same" (parley: keep DATA)
	local log="$OUT/$2.log"
	for p in "$PORT" "$BF_PORT"; do
		port_free "$p" || { echo "bench/run.sh: port $p is in use; set PORT/BF_PORT" >&2; exit 1; }
	done
	case "$1" in
	parley)
		[[ ${3:-} == same ]] || DATA="$(mktemp -d "$OUT/data.XXXXXX")"
		local extra=()
		[[ -n "${DEBUG_ADDR:-}" ]] && extra+=(--debug-addr "$DEBUG_ADDR")
		PARLEY_WHATSAPP_APP_SECRET="$SECRET" PARLEY_WHATSAPP_ACCESS_TOKEN=bench-token \
			PARLEY_WHATSAPP_VERIFY_TOKEN=bench-verify PARLEY_WHATSAPP_PHONE_NUMBER_ID="$PNID" \
			PARLEY_WHATSAPP_FLOW=booking PARLEY_WHATSAPP_GRAPH_URL="http://127.0.0.1:$GRAPH_PORT" \
			PARLEY_MASTER_KEY="$MASTER_KEY" \
			"$BIN/parley" serve --addr "127.0.0.1:$PORT" --flows "$ROOT/flows" --data "$DATA" \
			--web-chat off "${extra[@]}" >"$log" 2>&1 &
		SERVER_PID=$!
		;;
	relay)
		"$BIN/relay" -addr "127.0.0.1:$PORT" -graph "http://127.0.0.1:$GRAPH_PORT" -secret "$SECRET" >"$log" 2>&1 &
		SERVER_PID=$!
		;;
	botframework)
		(cd "$OUT/peers/botframework" && PORT="$BF_PORT" exec node index.js) >"$log" 2>&1 &
		SERVER_PID=$!
		;;
	esac
	PIDS+=("$SERVER_PID")
	if [[ $1 == botframework ]]; then wait_port "$BF_PORT" "$SERVER_PID" "$log"; else wait_port "$PORT" "$SERVER_PID" "$log"; fi
	if [[ $1 == parley ]]; then
		for _ in $(seq 3000); do
			curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break
			sleep 0.1
		done
	fi
}

# row SYSTEM MODE C EXTRA-JSON < loadgen output: the RESULT line, tagged
row() {
	local line
	line="$(grep '^RESULT ' | tail -1 || true)"
	if [[ -z "$line" ]]; then
		echo "bench/run.sh: no RESULT from $1 $2 C=$3" >&2
		return
	fi
	echo "{\"system\":\"$1\",\"mode\":\"$2\",\"c\":$3${4:+,$4},${line#RESULT \{}" >>"$ROWS"
}

# --- build -------------------------------------------------------------
echo "== build (into $BIN)"
(cd "$ROOT" && go build -o "$BIN/parley" ./cmd/parley && go build -o "$BIN/relay" ./bench/relay &&
	go build -o "$BIN/loadgen" ./bench/loadgen && go build -o "$BIN/report" ./bench/report &&
	go build -o "$BIN/seed" ./bench/seed)
HAVE_PEER=0
if [[ -d "$PEERS/loadgen" ]]; then
	cp -r "$PEERS" "$OUT/peers"
	(cd "$OUT/peers/loadgen" && go build -o "$BIN/peer-loadgen" .)
	if [[ $SCALE_ONLY == 1 ]]; then
		: # the scale steps measure Parley and the relay only
	elif command -v node >/dev/null && (cd "$OUT/peers/botframework" && npm ci --no-audit --no-fund --loglevel=error >"$OUT/npm.log" 2>&1); then
		HAVE_PEER=1
	else
		echo "bench/run.sh: no Node.js or npm ci failed ($OUT/npm.log): the Bot Framework peer is left out" >&2
	fi
else
	echo "bench/run.sh: no peers folder at $PEERS (set PEERS=DIR): using bench/loadgen for the levels, no peer" >&2
fi

# --- closed loop: C = LEVELS, a fresh server per level ---------------------
systems=(parley relay)
[[ $HAVE_PEER == 1 ]] && systems+=(botframework)
[[ $SCALE_ONLY == 1 ]] && systems=()
for sys in "${systems[@]}"; do
	for C in $LEVELS; do
		echo
		echo "== $sys C=$C (warm-up $WARMUP, measured $DURATION)"
		start_server "$sys" "$sys-c$C"
		prof_pid=""
		if [[ $sys == parley && $C == 64 && -n "${DEBUG_ADDR:-}" ]]; then
			secs="${DURATION%s}"
			(sleep "${WARMUP%s}"; curl -fs -o "$OUT/cpu.pprof" "http://$DEBUG_ADDR/debug/pprof/profile?seconds=$secs";
				curl -fs -o "$OUT/heap.pprof" "http://$DEBUG_ADDR/debug/pprof/heap") &
			prof_pid=$!
			PIDS+=("$prof_pid")
		fi
		if [[ -x "$BIN/peer-loadgen" ]]; then
			args=(-c "$C" -duration "$DURATION" -warmup "$WARMUP" -pid "$SERVER_PID" -expect 2,1,1,1,1,1)
			if [[ $sys == botframework ]]; then
				args+=(-protocol botframework -target "http://127.0.0.1:$BF_PORT/api/messages" -final-contains 'ada{n}@example.com')
			else
				args+=(-protocol whatsapp -target "http://127.0.0.1:$PORT/webhook/whatsapp" -listen "127.0.0.1:$GRAPH_PORT"
					-app-secret "$SECRET" -phone-number-id "$PNID")
				[[ $sys == parley ]] && args+=(-final-contains 'ada{n}@example.com')
			fi
			COMMANDS+=("peer-loadgen ${args[*]}")
			"$BIN/peer-loadgen" "${args[@]}" | tee "$OUT/$sys-c$C.txt" | row "$sys" levels "$C" || true
		else
			args=(-target "http://127.0.0.1:$PORT" -graph "127.0.0.1:$GRAPH_PORT" -conversations "$C" -duration "$DURATION" -pid "$SERVER_PID")
			COMMANDS+=("loadgen ${args[*]}")
			"$BIN/loadgen" "${args[@]}" | tee "$OUT/$sys-c$C.txt" | row "$sys" levels "$C" || true
		fi
		[[ -n "$prof_pid" ]] && wait "$prof_pid" 2>/dev/null || true
		stop_server
	done
done

# --- open loop: RATE turns/s offered ---------------------------------------
systems=(parley relay)
[[ $SCALE_ONLY == 1 ]] && systems=()
for sys in "${systems[@]}"; do
	echo
	echo "== $sys open loop at $RATE turns/s ($RATE_DURATION)"
	start_server "$sys" "$sys-rate"
	args=(-target "http://127.0.0.1:$PORT" -graph "127.0.0.1:$GRAPH_PORT" -secret "$SECRET" -rate "$RATE" -conversations 256 -duration "$RATE_DURATION" -pid "$SERVER_PID")
	COMMANDS+=("loadgen ${args[*]}")
	"$BIN/loadgen" "${args[@]}" | tee "$OUT/$sys-rate.txt" | row "$sys" rate 256 "\"rate\":$RATE" || true
	stop_server
done

# --- batch: one signed webhook of N messages -------------------------------
for sys in "${systems[@]}"; do
	for n in $BATCHES; do
		echo
		echo "== $sys batch of $n"
		start_server "$sys" "$sys-batch$n"
		args=(-target "http://127.0.0.1:$PORT" -graph "127.0.0.1:$GRAPH_PORT" -secret "$SECRET" -batch "$n" -pid "$SERVER_PID")
		COMMANDS+=("loadgen ${args[*]}")
		"$BIN/loadgen" "${args[@]}" | tee "$OUT/$sys-batch$n.txt" | row "$sys" batch 0 || true
		stop_server
	done
done

# --- scale: one Parley fed at C=64 while stored conversations accumulate ----
# scale_phase PORT PID ARGS...: one peer-loadgen phase at C=64 against the
# server on PORT (whose CPU and RSS it reads from PID); sets out, n and f.
scale_phase() {
	local port="$1" pid="$2"
	shift 2
	args=(-protocol whatsapp -target "http://127.0.0.1:$port/webhook/whatsapp" -listen "127.0.0.1:$GRAPH_PORT"
		-app-secret "$SECRET" -phone-number-id "$PNID" -c 64 -pid "$pid" -expect 2,1,1,1,1,1 "$@")
	out="$("$BIN/peer-loadgen" "${args[@]}" || true)"
	n="$(grep '^RESULT ' <<<"$out" | sed -E 's/.*"conversations":([0-9]+).*/\1/' || echo 0)"
	f="$(grep '^RESULT ' <<<"$out" | sed -E 's/.*"failed_conversations":([0-9]+).*/\1/' || echo 0)"
}
echo
stored=0
if [[ $SCALE_ONLY == 1 ]]; then
	[[ -x "$BIN/peer-loadgen" ]] || { echo "bench/run.sh: --scale-only needs the peers' loadgen (-n): set PEERS=DIR" >&2; exit 1; }
	port_free "$RELAY_PORT" || { echo "bench/run.sh: port $RELAY_PORT is in use; set RELAY_PORT" >&2; exit 1; }
	echo "== parley scale in steps of $SCALE_STEPS stored conversations (fill chunks of $SCALE_FILL, measured phases of $SCALE_PHASE, relay at each step)"
	start_server parley parley-scale
	"$BIN/relay" -addr "127.0.0.1:$RELAY_PORT" -graph "http://127.0.0.1:$GRAPH_PORT" -secret "$SECRET" >"$OUT/relay-scale.log" 2>&1 &
	relay_pid=$!
	PIDS+=("$relay_pid")
	wait_port "$RELAY_PORT" "$relay_pid" "$OUT/relay-scale.log"
	SEEDED_STEPS=()
	seeded=0 # conversations bench/seed ran: the next seeding continues its numbers
	for step in $SCALE_STEPS; do
		mode="$SCALE_FILL_MODE"
		[[ $mode == auto ]] && if ((step >= 100000)); then mode=seed; else mode=http; fi
		filled=0 warm=()
		if [[ $mode == seed ]] && ((stored < step)); then
			filled=1
			stop_server
			seed_args=(-data "$DATA" -flows "$ROOT/flows" -n $((step - stored)) -first "$seeded" -progress 30s)
			if [[ -n $SCALE_DEADLINE ]]; then
				left=$(($(date -u -d "$SCALE_DEADLINE" +%s) - $(date +%s)))
				((left > 0)) || left=1
				seed_args+=(-for "${left}s")
			fi
			echo "$(date -u +%H:%M:%S) fill to $step: seed ${seed_args[*]} (load average $(cut -d" " -f1-3 /proc/loadavg))"
			t0=$SECONDS
			seed_out="$(PARLEY_MASTER_KEY="$MASTER_KEY" PARLEY_WHATSAPP_FLOW=booking PARLEY_WHATSAPP_PHONE_NUMBER_ID="$PNID" \
				"$BIN/seed" "${seed_args[@]}" | tee "$OUT/seed-$step.log" >&2)" || { echo "bench/run.sh: bench/seed failed ($OUT/seed-$step.log)" >&2; exit 1; }
			k="$(grep '^SEEDED ' "$OUT/seed-$step.log" | cut -d" " -f2)"
			secs=$((SECONDS - t0 > 0 ? SECONDS - t0 : 1))
			seeded=$((seeded + k)) stored=$((stored + k))
			disk="$(du -sB1 "$DATA" | cut -f1)"
			echo "$(date -u +%H:%M:%S) fill: seeded $k in ${secs}s, stored $stored, $disk bytes on disk"
			echo "{\"system\":\"parley\",\"mode\":\"scale\",\"c\":0,\"fill\":\"seed\",\"stored\":$stored,\"disk_bytes\":$disk,\"seeded\":$k,\"seed_s\":$secs,\"load1\":$(cut -d" " -f1 /proc/loadavg)}" >>"$ROWS"
			COMMANDS+=("scale fill to $step: seed ${seed_args[*]}")
			SEEDED_STEPS+=("$step")
			start_server parley parley-scale-$step same
			warm=(-warmup "$SCALE_WARMUP")
		fi
		while [[ $mode != seed ]] && ((stored < step)); do
			filled=1
			scale_phase "$PORT" "$SERVER_PID" -n $((step - stored < SCALE_FILL ? step - stored : SCALE_FILL))
			stored=$((stored + ${n:-0} + ${f:-0})) # a failed conversation stored some of its turns too
			disk="$(du -sB1 "$DATA" | cut -f1)"
			echo "$(date -u +%H:%M:%S) fill: stored $stored, $disk bytes on disk"
			row parley scale 64 "\"stored\":$stored,\"disk_bytes\":$disk,\"fill\":\"http\"" <<<"$out"
			[[ ${n:-0} -gt 0 ]] || { echo "bench/run.sh: a fill phase completed no conversation" >&2; break 2; }
		done
		[[ $filled == 1 && $mode != seed ]] && COMMANDS+=("scale fill to $step: peer-loadgen ${args[*]}")
		before=$stored
		load1="$(cut -d" " -f1 /proc/loadavg)"
		scale_phase "$PORT" "$SERVER_PID" "${warm[@]}" -duration "$SCALE_PHASE"
		stored=$((stored + ${n:-0} + ${f:-0}))
		disk="$(du -sB1 "$DATA" | cut -f1)"
		echo "$(date -u +%H:%M:%S) step $step: stored $stored, $disk bytes on disk, $(grep -o '"turns_per_s":[0-9.]*' <<<"$out" || true)"
		row parley scale 64 "\"stored\":$stored,\"disk_bytes\":$disk,\"step\":$step,\"stored_before\":$before,\"fill\":\"$mode\",\"load1\":$load1" <<<"$out"
		COMMANDS+=("scale step $step: peer-loadgen ${args[*]}")
		if [[ -n "${DEBUG_ADDR:-}" ]]; then # Parley idle after the step: what its memory holds
			curl -fs -o "$OUT/heap-$step.pprof" "http://$DEBUG_ADDR/debug/pprof/heap" || true
			cp "/proc/$SERVER_PID/smaps_rollup" "$OUT/smaps-$step.txt" 2>/dev/null || true
		fi
		scale_phase "$RELAY_PORT" "$relay_pid" -warmup 2s -duration "$SCALE_PHASE"
		row relay scale-relay 64 "\"step\":$step,\"load1\":$(cut -d" " -f1 /proc/loadavg)" <<<"$out"
		COMMANDS+=("relay at step $step: peer-loadgen ${args[*]}")
		echo "$(date -u +%H:%M:%S) relay at step $step: $(grep -o '"turns_per_s":[0-9.]*' <<<"$out" || true)"
	done
	stop_pid "$relay_pid"
else
	echo "== parley scale: phases of $SCALE_PHASE at C=64 for ${SCALE_BUDGET}s${SCALE_TARGET:+ or until $SCALE_TARGET stored}"
	start_server parley parley-scale
	t0=$SECONDS
	while ((SECONDS - t0 < SCALE_BUDGET)); do
		if [[ -x "$BIN/peer-loadgen" ]]; then
			scale_phase "$PORT" "$SERVER_PID" -duration "$SCALE_PHASE"
		else
			args=(-target "http://127.0.0.1:$PORT" -graph "127.0.0.1:$GRAPH_PORT" -secret "$SECRET" -conversations 64 -duration "$SCALE_PHASE" -pid "$SERVER_PID")
			out="$("$BIN/loadgen" "${args[@]}" || true)"
			n="$(grep '^RESULT ' <<<"$out" | sed -E 's/.*"conversations":([0-9]+).*/\1/' || echo 0)"
			f=0
		fi
		# a failed conversation stored some of its turns too
		stored=$((stored + ${n:-0} + ${f:-0}))
		disk="$(du -sB1 "$DATA" | cut -f1)" # blocks in use, not the preallocated size
		echo "stored $stored, $disk bytes on disk"
		row parley scale 64 "\"stored\":$stored,\"disk_bytes\":$disk" <<<"$out"
		[[ $SCALE_TARGET -gt 0 && $stored -ge $SCALE_TARGET ]] && break
	done
	COMMANDS+=("scale phases: ${args[*]}")
fi
stop_server

# --- RESULTS.md and the chart --------------------------------------------
machine() {
	echo "- $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
	echo "- $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) memory; $(uname -sr); $(go version | cut -d' ' -f3-)"
	echo "- Node.js $(node --version 2>/dev/null || echo 'missing'); load average at the start: $LOADAVG"
	echo "- Parley at $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet || echo ' (uncommitted changes)')"
}
if [[ $SCALE_ONLY == 1 ]]; then
	SCALE_MD="$ROOT/bench/SCALE.md"
	{
		echo "## Scale: stored conversations up to $stored (\`bench/run.sh --scale-only\`, a sitting of its own)"
		echo
		echo "Written by \`bench/run.sh --scale-only\` (started $STARTED, finished $(date -u '+%H:%M UTC'); load average at the end:"
		echo "$(cut -d" " -f1-3 /proc/loadavg)). Do not edit by hand: rerun the script. ${BENCH_NOTE:-}"
		echo
		machine
		echo
		echo "One Parley server (signed webhooks, durable inbox, encrypted vault on disk, fake Graph API) on one data directory,"
		echo "fed at C=64 with the booking flow by the peers' load generator. Steps $SCALE_STEPS: the server is filled to each"
		echo "step in phases of at most $SCALE_FILL conversations (every phase recorded below), then measured for $SCALE_PHASE;"
		echo "right after it, the bare relay (started with Parley, idle until then) is measured for $SCALE_PHASE after a 2 s warm-up on"
		echo "another port while Parley idles. Bytes on disk are the blocks in use (\`du -sB1\`) of the data directory after each phase."
		if [[ ${#SEEDED_STEPS[@]} -gt 0 ]]; then
			echo
			echo "Steps ${SEEDED_STEPS[*]} were not filled over HTTP but seeded (SCALE_FILL_MODE=$SCALE_FILL_MODE): the server was stopped,"
			echo "\`bench/seed\` ran the booking conversations to their confirmation through the same server code in-process on its"
			echo "data directory (\`server.New\` as \`parley serve\` builds it, signed webhooks handed to its HTTP handler, a fake Graph API"
			echo "answering the sends, customer numbers 1996xxxxxxxx, nothing fsynced until the vault closed; its fidelity test finds the"
			echo "same kinds and counts of records as conversations served by \`parley serve\`), then the server was started again on"
			echo "the same directory and measured after a $SCALE_WARMUP warm-up (whose conversations are not counted as stored)."
			echo "The seeding rows (turns/s \"–\") say how many were seeded.${SCALE_DEADLINE:+ Seeding was cut off at $SCALE_DEADLINE UTC: a step short of its number is measured where the seeding got.}"
		fi
		echo
		"$BIN/report" -rows "$ROWS"
		echo "Commands:"
		echo
		echo '```'
		printf '%s\n' "${COMMANDS[@]}"
		echo '```'
	} >"$SCALE_MD.tmp"
	mv "$SCALE_MD.tmp" "$SCALE_MD"
	echo
	echo "wrote $SCALE_MD (raw output in $OUT)"
	exit 0
fi
RESULTS="$ROOT/bench/RESULTS.md"
{
	echo "# Benchmark results"
	echo
	echo "Written by \`bench/run.sh$([[ $QUICK == 1 ]] && echo ' --quick')\` (started $STARTED, finished $(date -u '+%H:%M UTC'))."
	echo "Do not edit by hand: rerun the script. ${BENCH_NOTE:-}"
	echo
	echo "## Machine"
	echo
	machine
	echo
	echo "## Settings"
	echo
	echo "Levels C = $LEVELS, warm-up $WARMUP, measured $DURATION per level, a fresh server (and data directory) per level;"
	echo "open loop $RATE turns/s for $RATE_DURATION; batches of $BATCHES; scale phases of $SCALE_PHASE at C=64 for ${SCALE_BUDGET}s."
	echo "Latency runs from sending the inbound webhook to receiving the turn's last expected reply at the fake Graph API"
	echo "(or Bot Framework connector); in the open loop, from the time the turn was due, so a late send counts. Server"
	echo "CPU is user+system time from /proc/PID/stat over the measured phase divided by the turns; peak RSS is sampled"
	echo "from /proc/PID/status every 50 ms."
	echo
	echo "## Results"
	echo
	echo "![turns/s and p99 against C](chart.svg)"
	echo
	"$BIN/report" -rows "$ROWS" -svg "$ROOT/bench/chart.svg"
	echo "## Commands"
	echo
	echo '```'
	printf '%s\n' "${COMMANDS[@]}"
	echo '```'
	echo
	[[ -f "$ROOT/bench/SCALE.md" ]] && { cat "$ROOT/bench/SCALE.md"; echo; }
	[[ -f "$ROOT/bench/findings.md" ]] && cat "$ROOT/bench/findings.md"
} >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
echo
echo "wrote $RESULTS and $ROOT/bench/chart.svg (raw output in $OUT)"
