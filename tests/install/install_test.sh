#!/usr/bin/env bash
# install_test.sh BUILD_DIR SOURCE_DIR CMAKE CC CXX PKG_CONFIG
#
# Installs the build to a temporary prefix and uses it from outside the project:
#  1. the layout, and that the install wrote nothing outside the prefix;
#  2. `sandhost exec` of an installed example plugin, found by the default plugin folder;
#  3. examples/plugin built with find_package(sandhost) + sandhost_add_plugin(), and the same
#     source built with cc and `pkg-config sandhost-plugin`: each exports only its entry symbol
#     and runs;
#  4. examples/client_cpp and examples/client_c built with find_package(sandhost), each
#     enqueueing a job through a host run from the prefix and printing its result;
#  5. the prefix moved elsewhere (the original removed): exec, pkg-config --define-prefix, and
#     find_package from the new place still work, and nothing points back.
# Prints each step with its time; exits non-zero at the first failure.
set -euo pipefail
build=$1 source=$2 cmake=$3 cc=$4 cxx=$5 pkg_config=$6

work=$(mktemp -d /tmp/sandhost-install-test-XXXXXX)
host_pid=
cleanup() {
    if [[ -n $host_pid ]]; then kill -TERM "$host_pid" 2>/dev/null || true; wait "$host_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
started=$SECONDS
step() { echo "== [$((SECONDS - started)) s] $*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
expect_eq() { [[ $1 == "$2" ]] || fail "$3: expected '$2', got '$1'"; }

# An outside project, configured and built quietly (its log shown when it fails).
build_project() {
    local src=$1 dir=$2 prefix=$3
    if ! { "$cmake" -S "$src" -B "$dir" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
        -DCMAKE_BUILD_TYPE=Release && "$cmake" --build "$dir"; } >"$dir.log" 2>&1; then
        cat "$dir.log" >&2
        fail "building $src against $prefix"
    fi
}

only_entry_exported() {
    local symbols
    symbols=$(nm -D --defined-only "$1" | awk '{print $3}')
    expect_eq "$symbols" "sh_plugin_entry" "exports of $1"
}

# Serves CONFIG with the prefix's sandhost until stop_host.
start_host() {
    "$1/bin/sandhost" run --config "$2" --drain 5s 2>"$work/host.log" &
    host_pid=$!
}
stop_host() {
    kill -TERM "$host_pid"
    wait "$host_pid" || fail "the host exited with $? (log: $(tail -5 "$work/host.log"))"
    host_pid=
}

write_config() {
    cat >"$1" <<YAML
host:
  name: install-test
  store: sqlite:$work/store.db
  plugin_dirs: [$2/lib/sandhost/plugins, $work/plugins]
  log: {level: warn}
sandbox: {timeout: 30s}
queues:
  default:
    tasks: ["legacy_c.*", "hello.*", "shout.*"]
    concurrency: 2
    retry: {max_attempts: 1}
YAML
}

prefix=$work/prefix
step "cmake --install to $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$work/install.log"
outside=$(grep -v "^$prefix/" "$build/install_manifest.txt" || true)
[[ -z $outside ]] || fail "the install wrote outside its prefix: $outside"
for file in bin/sandhost lib/sandhost/sandhost-worker lib/sandhost/plugins/legacy_c.so lib/sandhost/plugins/hello.so \
    include/sandhost/plugin.h include/sandhost/sdk.h include/sandhost/payload.h include/sandhost/client.h \
    include/sandhost/client.hpp include/sandhost/embed.hpp lib/libsandhost-sdk.a lib/libsandhost-client.so \
    lib/cmake/sandhost/sandhostConfig.cmake lib/cmake/sandhost/sandhostConfigVersion.cmake \
    lib/pkgconfig/sandhost-plugin.pc lib/pkgconfig/sandhost-client.pc share/sandhost/plugin.map \
    share/man/man1/sandhost.1.gz share/man/man5/sandhost.yaml.5.gz share/bash-completion/completions/sandhost \
    share/doc/sandhost/examples/sandhost.yaml share/doc/sandhost/examples/client_c/main.c \
    share/doc/sandhost/examples/sandhost-alerts.yml; do
    [[ -e $prefix/$file ]] || fail "not installed: $file"
done
[[ ! -e $prefix/lib/sandhost/plugins/misbehave.so ]] || fail "the misbehave fixture was installed"
[[ ! -e $prefix/etc && ! -e $prefix/lib/systemd ]] || fail "system files were installed to a prefix"

step "sandhost exec of an installed plugin, from the default plugin folder"
expect_eq "$("$prefix/bin/sandhost" exec legacy_c checksum --payload '{"data":"Wikipedia"}' --json | grep -o '"result":[0-9]*')" \
    '"result":300286872' "exec legacy_c checksum"

step "an outside plugin with find_package(sandhost) and sandhost_add_plugin()"
mkdir -p "$work/plugins"
build_project "$source/examples/plugin" "$work/plugin-cmake" "$prefix"
only_entry_exported "$work/plugin-cmake/shout.so"
cp "$work/plugin-cmake/shout.so" "$work/plugins/shout.so"
"$prefix/bin/sandhost" exec "$work/plugins/shout.so" shout --payload '{"text":"hey","times":2}' --json | grep -q '"result":"HEY HEY"' ||
    fail "the CMake-built plugin did not run"

step "an outside plugin with cc and pkg-config sandhost-plugin"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
# shellcheck disable=SC2046
"$cc" $("$pkg_config" --cflags sandhost-plugin) -o "$work/shout-pc.so" "$source/examples/plugin/shout.c" \
    $("$pkg_config" --libs sandhost-plugin)
only_entry_exported "$work/shout-pc.so"
"$prefix/bin/sandhost" exec "$work/shout-pc.so" shout --payload '{"text":"pc"}' --json | grep -q '"result":"PC"' ||
    fail "the pkg-config-built plugin did not run"

step "the example client programs (C++ and C) enqueue through a host run from the prefix"
build_project "$source/examples/client_cpp" "$work/client_cpp" "$prefix"
build_project "$source/examples/client_c" "$work/client_c" "$prefix"
config=$work/sandhost.yaml
write_config "$config" "$prefix"
start_host "$prefix" "$config"
export SANDHOST_WAIT_SECONDS=120
# Reads the queue's latency first (an hour's: it does not hold back).
expect_eq "$(SANDHOST_MAX_LATENCY_SECONDS=3600 "$work/client_cpp/client_cpp" "$config" default legacy_c.mean '{"values":[1,2,4.5]}')" "2.5" "client_cpp"
expect_eq "$("$work/client_c/client_c" "$config" default shout.shout '{"text":"from c"}')" '"FROM C"' "client_c"
set +e
"$work/client_c/client_c" "$config" default legacy_c.parse '{"line":"no equals"}' >/dev/null 2>"$work/crash.err"
status=$?
set -e
expect_eq "$status" 1 "client_c exit status for a job that crashed"
grep -q "dead (last attempt: crashed)" "$work/crash.err" || fail "client_c did not say how the job ended: $(cat "$work/crash.err")"
stop_host

step "the prefix moved elsewhere"
moved=$work/elsewhere/sandhost
mkdir -p "$(dirname "$moved")"
cp -a "$prefix" "$moved"
rm -rf "$prefix" "$work/client_cpp" "$work/client_c"
# Only the pkg-config files name where they were installed; --define-prefix moves them.
if grep -rl --binary-files=text --exclude='*.pc' "$prefix" "$moved" >/dev/null; then
    fail "files still name the old prefix: $(grep -rl --binary-files=text --exclude='*.pc' "$prefix" "$moved" | head -3)"
fi
expect_eq "$("$moved/bin/sandhost" exec legacy_c mean --payload '{"values":[2,4]}' --json | grep -o '"result":[0-9.]*')" \
    '"result":3' "exec from the moved prefix"
export PKG_CONFIG_PATH=$moved/lib/pkgconfig
# shellcheck disable=SC2046
"$cc" $("$pkg_config" --define-prefix --cflags sandhost-plugin) -o "$work/plugins/shout.so" "$source/examples/plugin/shout.c" \
    $("$pkg_config" --define-prefix --libs sandhost-plugin)
only_entry_exported "$work/plugins/shout.so"
build_project "$source/examples/client_c" "$work/client_c" "$moved"
write_config "$config" "$moved"
start_host "$moved" "$config"
expect_eq "$("$work/client_c/client_c" "$config" default shout.shout '{"text":"moved"}')" '"MOVED"' "client_c from the moved prefix"
stop_host
step "done"
