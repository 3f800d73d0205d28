#!/bin/sh
# Install what veofs needs to build, run and test on Debian 12 / Ubuntu.
set -eu
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
	ca-certificates gcc meson ninja-build pkg-config \
	libfuse3-dev fuse3 libcurl4-openssl-dev libjansson-dev libinih-dev \
	libmicrohttpd-dev libcriterion-dev \
	python3 ffmpeg scdoc attr libglib2.0-bin gvfs gvfs-daemons dbus \
	emacs-nox vim rsync inotify-tools samba smbclient >/dev/null
