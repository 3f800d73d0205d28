#!/usr/bin/env bash
# One full veofs lifecycle under valgrind memcheck, against veofs-sim:
# mount, submit prompts, wait for a video and read it, rmdir a task, read
# every task file, unmount. Prints valgrind's summary and exits with its
# status: 99 when it saw an invalid access, an uninitialised read or a
# definite leak, 0 when clean.
#
#   tests/fuzz/memcheck.sh [BUILD_DIR]
#
# BUILD_DIR (default build-memcheck in the source tree) is a plain build
# without sanitizers, set up here if missing. Needs valgrind, fusermount3
# and /dev/fuse. Logs stay in the work directory it prints.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build-memcheck}
timeout_s=${MEMCHECK_TIMEOUT:-300}

if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" "$src" --buildtype=debug -Db_sanitize=none
fi
ninja -C "$build" src/veofs src/veofs-sim

work=$(mktemp -d /tmp/veofs-memcheck.XXXXXX)
mnt=$work/mnt
mkdir -p "$mnt" "$work/state"
echo "work directory: $work"

sim_pid=
vg_pid=
cleanup() {
	if mountpoint -q "$mnt" 2>/dev/null; then
		fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" || true
	fi
	[ -z "$vg_pid" ] || kill "$vg_pid" 2>/dev/null || true
	[ -z "$sim_pid" ] || kill "$sim_pid" 2>/dev/null || true
}
trap cleanup EXIT

wait_for() { # SECONDS DESCRIPTION COMMAND...
	local limit=$1 what=$2
	shift 2
	for _ in $(seq $((limit * 5))); do
		if "$@"; then
			return 0
		fi
		sleep 0.2
	done
	echo "timed out waiting for $what" >&2
	return 1
}

"$build/src/veofs-sim" --listen 127.0.0.1:0 --duration 3 </dev/null >"$work/sim.log" 2>&1 &
sim_pid=$!
wait_for 20 "veofs-sim to listen" grep -q "listening on http://" "$work/sim.log"
root=$(grep -o "http://127\.0\.0\.1:[0-9]*" "$work/sim.log" | head -1)

valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
	--track-fds=yes --num-callers=30 --log-file="$work/valgrind.log" \
	"$build/src/veofs" -f \
	-o "base_url=$root/v1,state_dir=$work/state,interval=1" "$mnt" \
	</dev/null >"$work/veofs.log" 2>&1 &
vg_pid=$!
wait_for 120 "the mount" test -d "$mnt/new"

printf 'A calico cat playing a piano on stage.\n' >"$mnt/new/cat.prompt"
printf -- '---\nseconds: 4\nsize: 9x16\n---\nA dog surfing.\n' >"$mnt/new/dog.prompt"
printf -- '---\nseconds: 5\n---\nRefused: bad seconds.\n' >"$mnt/new/bad.prompt" || true
printf 'scratch' >"$mnt/new/.cat.prompt.swp"
rm -f "$mnt/new/.cat.prompt.swp"

wait_for "$timeout_s" "task cat to complete" grep -q "^completed" "$mnt/cat/status"
wait_for 60 "cat/video.mp4" test -s "$mnt/cat/video.mp4"
cp "$mnt/cat/video.mp4" "$work/cat.mp4"
head -c 8 "$work/cat.mp4" | grep -q ftyp
# bounded: a directory listing that never ends is a bug to report, not wait on
timeout 60 ls -la "$mnt" "$mnt/cat" "$mnt/new" >"$work/listing.txt"
for f in prompt status progress id events task.json; do
	cat "$mnt/cat/$f" >/dev/null
done
getfattr -d "$mnt/cat/video.mp4" >/dev/null 2>&1 || true
dd if="$mnt/cat/video.mp4" of=/dev/null bs=1000 skip=3 count=2 status=none

rmdir "$mnt/dog"
test ! -e "$mnt/dog"

fusermount3 -u "$mnt"
rc=0
wait "$vg_pid" || rc=$?
vg_pid=

echo "video: $(stat -c %s "$work/cat.mp4") bytes"
grep -E "ERROR SUMMARY|in use at exit|All heap blocks|definitely lost|indirectly lost|possibly lost|FILE DESCRIPTORS|Open file descriptor|Invalid|uninitialised" \
	"$work/valgrind.log" || true
echo "veofs under valgrind exited with $rc (99: memcheck found errors); full log: $work/valgrind.log"
exit "$rc"
