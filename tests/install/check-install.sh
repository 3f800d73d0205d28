#!/bin/sh
# Install the build into a temporary DESTDIR and check that everything a
# user is promised after `meson install` is there and points where it
# should: programs, man pages, the systemd user unit, the notify hook, the
# mount helper links and the example configuration.
#
# usage: check-install.sh BUILD_DIR SOURCE_DIR MESON MAN_PAGES(yes|no) \
#        PREFIX BINDIR SBINDIR MANDIR DATADIR SYSCONFDIR USERUNITDIR
# The directories are absolute (meson joins them with the prefix);
# USERUNITDIR is where contrib/meson.build chose to put the user unit.
set -u

if [ $# -ne 11 ]; then
	echo "usage: $0 BUILD SOURCE MESON MAN PREFIX BINDIR SBINDIR MANDIR DATADIR SYSCONFDIR USERUNITDIR" >&2
	exit 2
fi
build=$1 source=$2 meson=$3 man=$4 prefix=$5 bindir=$6 sbindir=$7 mandir=$8
datadir=$9
shift 9
sysconfdir=$1 userunitdir=$2

if [ "$man" != yes ]; then
	echo "SKIP: scdoc not found, so the man pages are not built (contrib/install-deps.sh installs it)"
	exit 77
fi

dest=$(mktemp -d "${TMPDIR:-/tmp}/veofs-install.XXXXXX") || exit 1
trap 'rm -rf "$dest"' EXIT INT TERM

failures=0
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}
ok() {
	echo "ok: $*"
}

echo "installing $build (source $source) into $dest"
# meson test has already built everything this test depends on; with its
# --no-rebuild the user asked for what is built, not for a build.
if ! "$meson" install -C "$build" --no-rebuild --destdir "$dest" >"$dest.log" 2>&1; then
	cat "$dest.log"
	rm -f "$dest.log"
	echo "FAIL: meson install failed"
	exit 1
fi
rm -f "$dest.log"

file_at() { # PATH WHAT
	if [ -f "$dest$1" ] && [ -s "$dest$1" ]; then
		ok "$2: $1"
	else
		fail "$2 missing or empty: $1"
	fi
}

exec_at() { # PATH WHAT
	if [ -f "$dest$1" ] && [ -x "$dest$1" ]; then
		ok "$2: $1 (executable)"
	else
		fail "$2 missing or not executable: $1"
	fi
}

veofs=$bindir/veofs
exec_at "$veofs" "program"
exec_at "$bindir/veofs-sim" "program"

for page in man1/veofs.1 man1/veofs-sim.1 man5/veofs.conf.5; do
	file_at "$mandir/$page" "man page"
	if [ -f "$dest$mandir/$page" ] && ! grep -q '^\.TH' "$dest$mandir/$page"; then
		fail "$mandir/$page is not a roff man page (no .TH)"
	fi
done

unit=$userunitdir/veofs@.service
case $unit in
$prefix/*) ;;
*) fail "user unit $unit is outside the prefix $prefix" ;;
esac
file_at "$unit" "systemd user unit"
if [ -f "$dest$unit" ]; then
	exec_start=$(sed -n 's/^ExecStart=//p' "$dest$unit")
	if [ "$exec_start" = "$veofs -f %f" ]; then
		ok "unit runs $exec_start"
	else
		fail "unit ExecStart is '$exec_start', expected '$veofs -f %f'"
	fi
	case $exec_start in
	/*) ;;
	*) fail "unit ExecStart is not an absolute path: '$exec_start'" ;;
	esac
	grep -qx 'Type=notify' "$dest$unit" || fail "unit is not Type=notify"
	grep -qx 'NotifyAccess=main' "$dest$unit" || fail "unit lacks NotifyAccess=main"
	grep -q '^ExecStop=.*fusermount3 -u %f$' "$dest$unit" ||
		fail "unit does not unmount with fusermount3 -u %f"
	grep -qx 'Restart=on-failure' "$dest$unit" || fail "unit lacks Restart=on-failure"
	# Each of these would hide the mount from the user's session.
	for hiding in PrivateTmp ProtectHome ProtectSystem PrivateMounts; do
		if grep -q "^$hiding=" "$dest$unit"; then
			fail "unit sets $hiding, which hides the mount"
		fi
	done
	if grep -q '@[A-Z_]*@' "$dest$unit"; then
		fail "unit has an unsubstituted @VARIABLE@"
	fi
fi

hook=$datadir/veofs/hooks/notify
exec_at "$hook" "notify hook"

for helper in mount.veofs mount.fuse.veofs; do
	link=$sbindir/$helper
	if [ ! -L "$dest$link" ]; then
		fail "mount helper link missing: $link"
		continue
	fi
	target=$(readlink "$dest$link")
	if [ "$target" = "$veofs" ]; then
		ok "mount helper $link -> $target"
	else
		fail "mount helper $link points to '$target', expected '$veofs'"
	fi
done

file_at "$sysconfdir/veofs/veofs.conf.example" "example configuration"
file_at "$datadir/doc/veofs/veofs.conf.example" "example configuration"
if [ -e "$dest$sysconfdir/veofs/veofs.conf" ]; then
	fail "$sysconfdir/veofs/veofs.conf installed: it would replace a user's configuration"
fi
if [ -f "$dest$sysconfdir/veofs/veofs.conf.example" ] &&
   ! cmp -s "$source/conf/veofs.conf" "$dest$sysconfdir/veofs/veofs.conf.example"; then
	fail "the installed example differs from conf/veofs.conf"
fi

if [ "$failures" -ne 0 ]; then
	echo "$failures check(s) failed; installed files:"
	(cd "$dest" && find . | sort)
	exit 1
fi
echo "all installed files are in place"
exit 0
