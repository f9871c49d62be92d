#!/usr/bin/env bash
# Side-by-side publish benchmark: gorocket (gorocketctl bench producer against a fresh
# `gorocketctl local up` cluster) and NATS JetStream (natsbench with a nats-server child), with
# the same load, one after the other (never concurrently: they would share the 2 cores).
#
#   test/natsbench/run.sh [-w publishers] [-s bytes] [-d duration] [-W async-window] [-m "sync async batch"] [-f "async sync"]
#   test/natsbench/run.sh -r [-w publishers] [-s bytes] [-d duration] [-n rounds]
#
# For each flush setting and each mode it prints the two reports (same format). Flush pairs:
#   async: gorocket ASYNC_FLUSH   vs nats-server sync_interval default (2m)
#   sync:  gorocket SYNC_FLUSH    vs nats-server sync_interval always
# Batch mode has no NATS counterpart and runs for gorocket only.
#
# -r compares replication instead (ASYNC_FLUSH, sync publishers), -n rounds of: gorocket one master
# without slave, master + slave ASYNC_MASTER, master + slave SYNC_MASTER; NATS one server (R1) and a
# two-server JetStream cluster with an R2 stream. Every process shares the same cores.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
W=4 S=1024 D=10s WINDOW=64 MODES="sync async" FLUSHES="async sync" REPL="" ROUNDS=3
while getopts "w:s:d:W:m:f:rn:" opt; do
	case $opt in
	w) W=$OPTARG ;; s) S=$OPTARG ;; d) D=$OPTARG ;; W) WINDOW=$OPTARG ;;
	m) MODES=$OPTARG ;; f) FLUSHES=$OPTARG ;; r) REPL=1 ;; n) ROUNDS=$OPTARG ;;
	*) sed -n '2,17p' "$0"; exit 2 ;;
	esac
done

BIN="$ROOT/bin"
mkdir -p "$BIN"
echo "building gorocket binaries and natsbench into $BIN" >&2
(cd "$ROOT" && for p in nameserver:gorocket-namesrv broker:gorocket-broker gorocketctl:gorocketctl; do
	CGO_ENABLED=0 go build -trimpath -o "$BIN/${p#*:}" "./cmd/${p%%:*}"
done)
(cd "$ROOT/test/natsbench" && CGO_ENABLED=0 go build -trimpath -o "$BIN/natsbench" .)

WORK="$(mktemp -d)"
LOCAL_PID=""
cleanup() {
	if [ -n "$LOCAL_PID" ] && kill -0 "$LOCAL_PID" 2>/dev/null; then
		kill -TERM "$LOCAL_PID" && wait "$LOCAL_PID" || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

# start_gorocket FLUSH: starts a one-master cluster, sets NS to its nameserver address.
# settle writes back the page cache the previous run dirtied, so that kernel writeback does not
# compete with the next run for the two cores (every run starts from the same state).
settle() {
	sync
	sleep 1
}

# start_gorocket FLUSH [local up args...]
start_gorocket() {
	local dir="$WORK/gorocket-$1" out="$WORK/local-up-$1.out" flush=$1
	shift
	rm -rf "$dir" # a fresh store for every run
	settle
	"$BIN/gorocketctl" local up --dir "$dir" --base-port 0 --flush "$flush" --status-interval 0 "$@" >"$out" 2>"$WORK/local-up-$flush.err" &
	LOCAL_PID=$!
	for _ in $(seq 1 600); do
		if grep -q "press Ctrl-C to stop" "$out"; then
			NS=$(sed -n 's/^nameserver: //p' "$out")
			return 0
		fi
		kill -0 "$LOCAL_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "local up did not start:" >&2
	cat "$out" "$WORK/local-up-$flush.err" >&2
	exit 1
}

stop_gorocket() {
	kill -TERM "$LOCAL_PID"
	wait "$LOCAL_PID"
	LOCAL_PID=""
}

if [ -n "$REPL" ]; then
	for round in $(seq 1 "$ROUNDS"); do
		for topo in "--slaves 0" "--slaves 1 --mode async" "--slaves 1 --mode sync"; do
			echo
			echo "######## round=$round gorocket $topo publishers=$W size=$S duration=$D ########"
			# shellcheck disable=SC2086 # topo is a list of arguments
			start_gorocket async --masters 1 $topo
			"$BIN/gorocketctl" bench producer -n "$NS" -t BenchTopic -c DefaultCluster --queues 8 -w "$W" -s "$S" -d "$D" \
				--mode sync --log-level warn
			stop_gorocket
		done
		for r in 1 2; do
			echo
			echo "######## round=$round nats replicas=$r publishers=$W size=$S duration=$D ########"
			settle
			"$BIN/natsbench" -w "$W" -s "$S" -d "$D" --mode sync --replicas "$r" 2> >(grep -v "started\|retrying" >&2)
		done
	done
	exit 0
fi

for flush in $FLUSHES; do
	case $flush in
	async) nats_sync=default ;;
	sync) nats_sync=always ;;
	*) echo "unknown flush $flush (want async or sync)" >&2; exit 2 ;;
	esac
	for mode in $MODES; do
		echo
		echo "######## flush=$flush mode=$mode publishers=$W size=$S duration=$D ########"
		start_gorocket "$flush"
		echo "# gorocket (${flush^^}_FLUSH): gorocketctl bench producer -n $NS -t BenchTopic -c DefaultCluster --queues 8 -w $W -s $S -d $D --mode $mode --window $WINDOW --batch-size 16"
		"$BIN/gorocketctl" bench producer -n "$NS" -t BenchTopic -c DefaultCluster --queues 8 -w "$W" -s "$S" -d "$D" \
			--mode "$mode" --window "$WINDOW" --batch-size 16 --log-level warn
		stop_gorocket
		if [ "$mode" = batch ]; then
			continue
		fi
		settle
		echo "# nats (sync_interval=$nats_sync): natsbench -w $W -s $S -d $D --mode $mode --window $WINDOW --sync $nats_sync"
		"$BIN/natsbench" -w "$W" -s "$S" -d "$D" --mode "$mode" --window "$WINDOW" --sync "$nats_sync" 2> >(grep -v "nats-server started" >&2)
	done
done
