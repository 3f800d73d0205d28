#!/usr/bin/env bash
# Build the libFuzzer targets with clang and run each for a while.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 60); TARGETs default to all of them. Runs at
# most $FUZZ_JOBS targets at once (default 2). The build goes to
# $FUZZ_BUILD (default build-fuzz in the source tree). New inputs the fuzzer
# finds go to $FUZZ_BUILD/fuzz-corpus/TARGET, never into the seed corpus;
# crashes, leaks and timeouts to $FUZZ_BUILD/fuzz-artifacts/TARGET/, logs
# to $FUZZ_BUILD/fuzz-logs/TARGET.log. Exits 1 when any target found
# something.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(prompt video_object config cli mp4_check http_headers task_record chat_sse chat_scrape)
build=${FUZZ_BUILD:-$src/build-fuzz}
jobs=${FUZZ_JOBS:-2}

if [ ! -f "$build/build.ninja" ]; then
	CC=${CC:-clang} meson setup "$build" "$src" -Dfuzzing=true \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fsanitize=fuzzer-no-link --buildtype=debugoptimized
fi
ninja -C "$build" $(printf 'tests/fuzz/fuzz_%s ' "${targets[@]}")

mkdir -p "$build/fuzz-logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_one() {
	local t=$1 work=$build/fuzz-corpus/$1 art=$build/fuzz-artifacts/$1/
	mkdir -p "$work" "$art"
	# stdin from /dev/null: a fuzzed api_key_file=/dev/stdin must not wait
	# on the terminal.
	"$build/tests/fuzz/fuzz_$t" "$work" "$src/tests/fuzz/corpus/$t" \
		-max_total_time="$seconds" -max_len=65536 -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$art" </dev/null >"$build/fuzz-logs/$t.log" 2>&1
}

status=0
pids=()
names=()
wait_one() {
	local rc=0
	wait "${pids[0]}" || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "fuzz_${names[0]}: FOUND SOMETHING (exit $rc), see $build/fuzz-logs/${names[0]}.log"
		status=1
	else
		echo "fuzz_${names[0]}: ok: $(grep -E '^(#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units)' \
			"$build/fuzz-logs/${names[0]}.log" | tail -1)"
	fi
	pids=("${pids[@]:1}")
	names=("${names[@]:1}")
}
for t in "${targets[@]}"; do
	[ ${#pids[@]} -lt "$jobs" ] || wait_one
	echo "fuzz_$t: running for ${seconds}s"
	run_one "$t" &
	pids+=($!)
	names+=("$t")
done
while [ ${#pids[@]} -gt 0 ]; do
	wait_one
done
exit "$status"
