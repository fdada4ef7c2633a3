#!/usr/bin/env bash
# Installs the built Debian packages on a fresh Debian 12 root and checks what a user would:
# that apt resolves their dependencies from the archive, that the system user, the state folder
# and the conffile are there, that `sandhost validate /etc/sandhost/sandhost.yaml` passes, that
# `sandhost exec` of an installed example plugin succeeds (as root and as the service's user),
# that a host serving the packaged configuration runs a job enqueued by the CLI, that
# `systemd-analyze verify` accepts the units, that outside projects build against the -dev
# package (a plugin with find_package(sandhost) and one with pkg-config, installed in the local
# plugin folder and run; the example client programs in C++ and C, and a C program linked with
# pkg-config sandhost-client, each enqueueing a job that the host runs), that the store is backed
# up beside the running host and compacted after it, and that a purge removes the job store.
#
# Usage: packaging/test-install.sh [BUILD_DIR]     (default: build, built; as root, or via sudo)
#   The packages are made first from BUILD_DIR (cpack -G DEB there: sandhost_VERSION_ARCH.deb
#   and sandhost-dev_VERSION_ARCH.deb). The fresh root comes from debootstrap (minbase,
#   bookworm) with the mirror of this machine's apt sources; the bare root is kept in
#   BUILD_DIR/test-install/base (or $SANDHOST_TEST_ROOT_CACHE, which may also name a bare root
#   made by another tool and marked with a .fresh-ok file) and copied for every run, so only the
#   first run pays for debootstrap. About two minutes then, most of it apt.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath "${1:-build}")
base=${SANDHOST_TEST_ROOT_CACHE:-$build/test-install/base}
started=$SECONDS
step() { echo "== [$((SECONDS - started)) s] $*"; }
fail() { echo "test-install: FAILED: $*" >&2; exit 1; }

# debootstrap, chroot and the mounts need root.
[[ $(id -u) -eq 0 ]] || exec sudo "$0" "$@"
command -v debootstrap >/dev/null || .ci/ensure-packages debootstrap
[[ -f $build/CPackConfig.cmake ]] || fail "$build is not a configured build folder"

step "making the packages (cpack -G DEB in $build)"
rm -f "$build"/sandhost_*.deb "$build"/sandhost-dev_*.deb
(cd "$build" && cpack -G DEB >"$build/cpack.log" 2>&1) || { tail -20 "$build/cpack.log"; fail "cpack"; }
runtime=$(ls "$build"/sandhost_*.deb)
dev=$(ls "$build"/sandhost-dev_*.deb)
step "packages: $(basename "$runtime") $(basename "$dev")"
dpkg-deb --field "$runtime" Depends | sed 's/^/   Depends: /'

# The mirror this machine installs from (deb822 sources first, then sources.list).
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1 || true)
[[ -n $mirror ]] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[[ -n $mirror ]] || fail "no Debian mirror in this machine's apt sources"

if [[ ! -f $base/.sandhost-base-ok && ! -f $base/.fresh-ok ]]; then
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
# The root is thrown away: dpkg need not sync every file it unpacks.
echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/sandhost-test-install"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mkdir -p "$root/tmp/packages"
cp "$runtime" "$dev" "$root/tmp/packages/"

# Runs a bash script in the root; a failing command stops it and the test.
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 /bin/bash -ec "$1"; }

# systemd for systemd-analyze, man-db so that it can check the units' Documentation=, pkg-config,
# CMake and the compilers for the outside projects.
step "apt-get install the packages (dependencies from the archive), systemd, man-db, pkg-config, cmake, gcc, g++"
in_root "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    /tmp/packages/$(basename "$runtime") /tmp/packages/$(basename "$dev") systemd man-db pkg-config \
    cmake make gcc g++ libc6-dev >/tmp/apt.log 2>&1 || { tail -20 /tmp/apt.log; exit 1; }"

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

step "the -dev package: pkg-config and CMake files"
in_root 'pkg-config --modversion sandhost-plugin sandhost-client
pkg-config --cflags --libs sandhost-plugin
test -f /usr/lib/cmake/sandhost/sandhostConfig.cmake && test -f /usr/lib/libsandhost-sdk.a && test -f /usr/include/sandhost/client.h'

step "outside plugins built against the -dev package: find_package(sandhost), and pkg-config"
in_root 'cp -r /usr/share/doc/sandhost/examples /tmp/outside && cd /tmp/outside
quietly() { "$@" >/tmp/outside/build.log 2>&1 || { cat /tmp/outside/build.log; exit 1; }; }
quietly cmake -S plugin -B plugin-build -DCMAKE_BUILD_TYPE=Release
quietly cmake --build plugin-build
mkdir -p /usr/local/lib/sandhost/plugins
cp plugin-build/shout.so /usr/local/lib/sandhost/plugins/shout.so
# The packaged configuration lists that folder too; exec looks in the folders it is given.
runuser -u sandhost -- sandhost exec --plugin-dir /usr/local/lib/sandhost/plugins shout shout --payload "{\"text\": \"found by cmake\"}"
cc $(pkg-config --cflags sandhost-plugin) -o shout-pc.so plugin/shout.c $(pkg-config --libs sandhost-plugin)
sandhost exec ./shout-pc.so shout --payload "{\"text\": \"built with pkg-config\", \"times\": 2}"'

step "outside client programs: the C++ and C examples with find_package(sandhost), a C one with pkg-config"
in_root 'cd /tmp/outside
quietly() { "$@" >/tmp/outside/build.log 2>&1 || { cat /tmp/outside/build.log; exit 1; }; }
for example in client_cpp client_c; do
    quietly cmake -S $example -B $example-build -DCMAKE_BUILD_TYPE=Release
    quietly cmake --build $example-build
done
cc -o client-pc client_c/main.c $(pkg-config --cflags --libs sandhost-client)
ldd client-pc | grep -q "libsandhost-client.so.1 => /" || { ldd client-pc; exit 1; }
chmod 755 /tmp/outside && chmod -R a+rX /tmp/outside'

step "a host serving the packaged configuration runs jobs enqueued by the CLI and by the client programs"
in_root 'cd /var/lib/sandhost
# setpriv execs the host itself (runuser would stay in between and turn SIGTERM into its own
# exit status 143).
setpriv --reuid=sandhost --regid=sandhost --init-groups sandhost run --config /etc/sandhost/sandhost.yaml --drain 5s \
    2>/tmp/host.log &
host=$!
trap "kill -TERM $host 2>/dev/null; wait $host" EXIT
id=$(runuser -u sandhost -- sandhost enqueue --config /etc/sandhost/sandhost.yaml default legacy_c.payment \
    --payload "{\"loan\": {\"principal\": 1200, \"annual_rate\": 0, \"months\": 12}}")
runuser -u sandhost -- sandhost wait --config /etc/sandhost/sandhost.yaml "$id" --json | grep -q "\"result\":100" \
    || { cat /tmp/host.log; exit 1; }
echo "job $id completed with result 100"
# The store is the sandhost user'"'"'s (0700), so the programs run as that user.
expect_result() {
    local expected=$1 got
    shift
    got=$(runuser -u sandhost -- env SANDHOST_WAIT_SECONDS=60 "$@" /etc/sandhost/sandhost.yaml default "$task" "$payload") \
        && [ "$got" = "$expected" ] || { echo "$1: expected $expected, got $got"; cat /tmp/host.log; exit 1; }
}
task=legacy_c.mean payload="{\"values\": [1, 2, 4.5]}" expect_result 2.5 /tmp/outside/client_cpp-build/client_cpp
task=hello.word_count payload="{\"text\": \"a C program\"}" expect_result "{\"words\":3}" /tmp/outside/client_c-build/client_c
task=legacy_c.checksum payload="{\"data\": \"Wikipedia\"}" expect_result 300286872 /tmp/outside/client-pc
echo "client_cpp, client_c and client-pc: jobs completed with the expected results"
# A backup while the host runs; compact once it has stopped (refused before).
# (What sandhost-backup.service runs; systemd would make the folder.)
install -d -m 0700 -o sandhost -g sandhost /var/lib/sandhost/backups
runuser -u sandhost -- sandhost backup --config /etc/sandhost/sandhost.yaml --keep 7 /var/lib/sandhost/backups --json \
    | grep -q "\"jobs\":4}" || { echo "the backup does not hold the 4 jobs"; exit 1; }
! runuser -u sandhost -- sandhost compact --config /etc/sandhost/sandhost.yaml 2>/dev/null || { echo "compact ran beside the host"; exit 1; }
kill -TERM $host
wait $host || { echo "the host exited with status $?"; cat /tmp/host.log; exit 1; }
trap - EXIT
runuser -u sandhost -- sandhost compact --config /etc/sandhost/sandhost.yaml --json | grep -q "\"jobs\":4}"
echo "sandhost backup beside the host and compact after it: 4 jobs each"'

step "systemd-analyze verify of the units (commands, users, man pages)"
in_root 'cp /etc/sandhost/sandhost.yaml /etc/sandhost/second.yaml
cd /lib/systemd/system
systemd-analyze verify sandhost.service sandhost@second.service sandhost-backup.service sandhost-backup.timer
rm /etc/sandhost/second.yaml
echo "sandhost.service, sandhost@second.service and the backup service and timer: verified"'

step "apt-get purge removes the job store"
in_root 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq sandhost-dev sandhost >/tmp/purge.log 2>&1 || { tail /tmp/purge.log; exit 1; }
[ ! -e /var/lib/sandhost ] && [ ! -e /etc/sandhost/sandhost.yaml ] && [ ! -e /usr/bin/sandhost ]'

step "test-install: every check passed"
