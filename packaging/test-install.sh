#!/usr/bin/env bash
# Installs the built Debian packages on a fresh Debian 12 root and checks what a user would:
# that apt resolves their dependencies from the archive, that the system user, the state folder
# and the conffile are there, that `sandhost validate /etc/sandhost/sandhost.yaml` passes, that
# `sandhost exec` of an installed example plugin succeeds (as root and as the service's user),
# that a host serving the packaged configuration runs a job enqueued by the CLI, that
# `systemd-analyze verify` accepts both units, that the -dev package's pkg-config and CMake files
# are found, and that a purge removes the job store.
#
# Usage: packaging/test-install.sh [BUILD_DIR]     (default: build; as root)
#   The packages are BUILD_DIR/sandhost_*.deb and sandhost-dev_*.deb; when missing they are
#   made first (cpack -G DEB in BUILD_DIR). The fresh root comes from debootstrap (minbase,
#   bookworm) with the mirror of this machine's apt sources; the bare root is kept in
#   BUILD_DIR/test-install/base (or $SANDHOST_TEST_ROOT_CACHE) and copied for every run, so only
#   the first run pays for debootstrap.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath "${1:-build}")
base=${SANDHOST_TEST_ROOT_CACHE:-$build/test-install/base}
started=$SECONDS
step() { echo "== [$((SECONDS - started)) s] $*"; }
fail() { echo "test-install: FAILED: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || fail "needs root (debootstrap, chroot, mounts)"
command -v debootstrap >/dev/null || .ci/ensure-packages debootstrap

shopt -s nullglob
packages=("$build"/sandhost_*.deb)
if ((${#packages[@]} == 0)); then
    step "making the packages (cpack -G DEB in $build)"
    (cd "$build" && cpack -G DEB >"$build/cpack.log" 2>&1) || { tail -20 "$build/cpack.log"; fail "cpack"; }
fi
runtime=$(ls -t "$build"/sandhost_*.deb | head -1)
dev=$(ls -t "$build"/sandhost-dev_*.deb | head -1)
[[ -f $runtime && -f $dev ]] || fail "no packages in $build"
step "packages: $(basename "$runtime") $(basename "$dev")"
dpkg-deb --field "$runtime" Depends | sed 's/^/   Depends: /'

# The mirror this machine installs from (deb822 sources first, then sources.list).
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1 || true)
[[ -n $mirror ]] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[[ -n $mirror ]] || fail "no Debian mirror in this machine's apt sources"

if [[ ! -f $base/.sandhost-base-ok ]]; then
    step "debootstrap bookworm (minbase) from $mirror into $base (once)"
    rm -rf "$base"
    mkdir -p "$base"
    debootstrap --variant=minbase bookworm "$base" "$mirror" >"$base.log" 2>&1 || { tail -5 "$base.log"; fail "debootstrap"; }
    # The same sources as this machine (updates and security included), when it has deb822 ones.
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
        cp /etc/apt/sources.list.d/debian.sources "$base/etc/apt/sources.list.d/"
        rm -f "$base/etc/apt/sources.list"
    fi
    touch "$base/.sandhost-base-ok"
fi

root=$(mktemp -d /tmp/sandhost-test-install-XXXXXX)
cleanup() {
    for mount in "$root/dev" "$root/proc"; do umount "$mount" 2>/dev/null || true; done
    rm -rf "$root"
}
trap cleanup EXIT
step "fresh root $root"
cp -a "$base/." "$root/"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mkdir -p "$root/tmp/packages"
cp "$runtime" "$dev" "$root/tmp/packages/"

# Runs a bash script in the root; a failing command stops it and the test.
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 /bin/bash -ec "$1"; }

# systemd for systemd-analyze, man-db so that it can check the units' Documentation=, pkg-config
# for the -dev package's files.
step "apt-get install the packages (dependencies from the archive), systemd, man-db and pkg-config"
in_root "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    /tmp/packages/$(basename "$runtime") /tmp/packages/$(basename "$dev") systemd man-db pkg-config >/tmp/apt.log 2>&1 \
    || { tail -20 /tmp/apt.log; exit 1; }"

step "the system user, its state folder and the conffile"
in_root 'id sandhost
[ "$(stat -c "%a %U %G" /var/lib/sandhost)" = "700 sandhost sandhost" ] || { stat /var/lib/sandhost; exit 1; }
dpkg-query -W -f="\${Conffiles}\n" sandhost | grep -q "^ /etc/sandhost/sandhost.yaml " || { echo "not a conffile"; exit 1; }
ls -l /usr/bin/sandhost /usr/lib/sandhost/sandhost-worker /usr/lib/sandhost/plugins/'

step "sandhost validate /etc/sandhost/sandhost.yaml"
in_root 'sandhost validate /etc/sandhost/sandhost.yaml'

step "sandhost exec of an installed example plugin (as root and as the sandhost user)"
in_root 'sandhost exec legacy_c checksum --payload "{\"data\": \"Wikipedia\"}"
runuser -u sandhost -- sandhost exec legacy_c mean --payload "{\"values\": [1, 2, 4.5]}"
runuser -u sandhost -- sandhost exec hello word_count --payload "{\"text\": \"installed from a package\"}"'

step "a host serving the packaged configuration runs a job enqueued by the CLI"
in_root 'cd /var/lib/sandhost
# setpriv execs the host itself (runuser would stay in between and turn SIGTERM into its own
# exit status 143).
setpriv --reuid=sandhost --regid=sandhost --init-groups sandhost run --config /etc/sandhost/sandhost.yaml --drain 5s \
    2>/tmp/host.log &
host=$!
trap "kill -TERM $host 2>/dev/null; wait $host" EXIT
id=$(runuser -u sandhost -- sandhost enqueue --config /etc/sandhost/sandhost.yaml default legacy_c.payment \
    --payload "{\"loan\": {\"principal\": 1200, \"annual_rate\": 0, \"months\": 12}}")
runuser -u sandhost -- sandhost wait --config /etc/sandhost/sandhost.yaml "$id" --json | grep -q "\"result\":\"100\"" \
    || { cat /tmp/host.log; exit 1; }
echo "job $id completed with result 100"
kill -TERM $host
wait $host || { echo "the host exited with status $?"; cat /tmp/host.log; exit 1; }
trap - EXIT'

step "systemd-analyze verify of both units (commands, users, man pages)"
in_root 'cp /etc/sandhost/sandhost.yaml /etc/sandhost/second.yaml
cd /lib/systemd/system
systemd-analyze verify sandhost.service sandhost@second.service
rm /etc/sandhost/second.yaml
echo "sandhost.service and sandhost@second.service: verified"'

step "the -dev package: pkg-config and CMake files"
in_root 'pkg-config --modversion sandhost-plugin sandhost-client
pkg-config --cflags --libs sandhost-plugin
test -f /usr/lib/cmake/sandhost/sandhostConfig.cmake && test -f /usr/lib/libsandhost-sdk.a && test -f /usr/include/sandhost/client.h'

step "apt-get purge removes the job store"
in_root 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq sandhost-dev sandhost >/tmp/purge.log 2>&1 || { tail /tmp/purge.log; exit 1; }
[ ! -e /var/lib/sandhost ] && [ ! -e /etc/sandhost/sandhost.yaml ] && [ ! -e /usr/bin/sandhost ]'

step "test-install: every check passed"
