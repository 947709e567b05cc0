#!/usr/bin/env bash
# The plugin scaffold end to end (DESIGN §3 "tools/ has a scaffold that
# creates a working, tested sink plugin project"):
#
#   1. install this build into a temporary prefix;
#   2. tools/new-plugin into a temporary directory;
#   3. configure it against the prefix (find_package(cebridge)), build it,
#      run its ctest (cmocka tests under the test host + README drift);
#   4. build the same plugin the pkg-config way, as its README says;
#   5. the installed cebridge: --describe finds its own plugins, --check
#      accepts a drop-in using the new plugin, and a file source routes
#      three events through it (the daemon exits when the input ends).
#
# usage: test_scaffold.sh BUILD_DIR SOURCE_DIR [SANITIZE]
set -euo pipefail

build=$1
src=$2
sanitize=${3:-}
name=scaffold_demo

work=$(mktemp -d /tmp/ceb_scaffold_XXXXXX)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
proj=$work/proj

step() { echo "== $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
# Run quietly; show the output only when the command fails.
quiet() {
    local log=$work/last.log
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        fail "$*"
    fi
}

cflags=()
sanflags=""
if [[ -n $sanitize ]]; then
    for s in ${sanitize//,/ }; do sanflags+=" -fsanitize=$s"; done
    sanflags+=" -fno-omit-frame-pointer"
    cflags=(-DCMAKE_C_FLAGS="$sanflags" -DCMAKE_EXE_LINKER_FLAGS="$sanflags"
            -DCMAKE_MODULE_LINKER_FLAGS="$sanflags" -DCMAKE_SHARED_LINKER_FLAGS="$sanflags")
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
fi

step "install $build into $prefix"
quiet cmake --install "$build" --prefix "$prefix"
for f in bin/cebridge bin/cesql bin/cebridge-gen-plugin-readme lib/cebridge/plugins/file.so \
         include/cebridge/cebridge.h include/cebridge/testhost.h \
         lib/pkgconfig/cebridge.pc lib/pkgconfig/cebridge-testhost.pc \
         lib/cmake/cebridge/cebridgeConfig.cmake lib/cmake/cebridge/CebPlugin.cmake; do
    [[ -e $prefix/$f ]] || fail "not installed: $f"
done

step "new-plugin: bad names are refused"
for bad in Bad 9lives with-dash "" test; do
    if out=$("$src/tools/new-plugin" "$bad" "$work/bad" 2>&1); then
        fail "new-plugin accepted '$bad'"
    fi
    [[ $out == *"invalid plugin name"* ]] || fail "new-plugin '$bad': unexpected message: $out"
done
[[ ! -e $work/bad ]] || fail "new-plugin created a directory for a bad name"

step "new-plugin $name $proj"
quiet "$src/tools/new-plugin" "$name" "$proj"
for f in CMakeLists.txt $name.c tests/test_$name.c examples/$name.json README.md; do
    [[ -f $proj/$f ]] || fail "new-plugin did not create $f"
done
if grep -rn "skel" "$proj"; then fail "template name left in the project"; fi
if "$src/tools/new-plugin" "$name" "$proj" >/dev/null 2>&1; then
    fail "new-plugin overwrote a non-empty directory"
fi

step "configure, build and test it against the installed package"
quiet cmake -S "$proj" -B "$proj/build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DSCAFFOLD_DEMO_WERROR=ON "${cflags[@]}"
quiet cmake --build "$proj/build" -j2
quiet ctest --test-dir "$proj/build" --output-on-failure
tests=$(ctest --test-dir "$proj/build" -N)   # not piped into grep -q: SIGPIPE + pipefail
[[ $tests == *"${name}_readme"* ]] || fail "README drift test not registered: $tests"
so=$proj/build/plugins/$name.so
[[ -f $so ]] || fail "$so not built"

step "pkg-config build"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
mkdir -p "$work/pc"
# shellcheck disable=SC2046,SC2086
quiet cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $sanflags -fPIC -shared -fvisibility=hidden \
    -Wl,--no-undefined -o "$work/pc/$name.so" "$proj/$name.c" $(pkg-config --cflags --libs cebridge)
[[ $(nm -D --defined-only "$work/pc/$name.so" | awk '$2 == "T" {print $3}') == ceb_plugin_entry ]] ||
    fail "the pkg-config build exports more than ceb_plugin_entry"
upper=${name^^}
# shellcheck disable=SC2046,SC2086
quiet cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $sanflags \
    -D"${upper}_PLUGIN_SO=\"$work/pc/$name.so\"" -o "$work/pc/test_$name" "$proj/tests/test_$name.c" \
    $(pkg-config --cflags --libs cebridge-testhost cmocka) \
    -Wl,-rpath,"$(pkg-config --variable=libdir cebridge)"
quiet "$work/pc/test_$name"

ceb=$prefix/bin/cebridge
cd "$work"   # no ./conf.d here

step "installed cebridge finds its plugins relative to itself"
"$ceb" --describe >"$work/describe.txt" 2>/dev/null || fail "--describe failed"
grep -q "^plugins in $(realpath "$prefix")/lib/cebridge/plugins:" "$work/describe.txt" ||
    fail "--describe: unexpected plugin directory: $(head -1 "$work/describe.txt")"
grep -Eq "^ +file +" "$work/describe.txt" || fail "--describe does not list file"
"$ceb" --describe "$name" --plugin-dir "$proj/build/plugins" >"$work/plugin.txt" ||
    fail "--describe $name failed"
grep -q "fail_on" "$work/plugin.txt" || fail "--describe $name lacks its options"
"$ceb" --describe "$name" --plugin-dir "$work/pc" >/dev/null || fail "pkg-config build does not load"

step "--check with the plugin straight from its build directory"
mkdir -m 0700 "$work/sinkonly"
printf '{ "sinks": { "out": { "plugin": "%s", "path": "%s/x.log", "max_line": "1KiB" } } }\n' \
    "$name" "$work" >"$work/sinkonly/50-sink.json"
out=$("$ceb" --check -c "$work/sinkonly" --plugin-dir "$proj/build/plugins" 2>/dev/null) ||
    fail "--check with --plugin-dir $proj/build/plugins failed"
[[ $out == "configuration OK: 1 files, 0 sources, 1 sinks, 0 routes" ]] || fail "--check: $out"

step "--check and a run through the new plugin"
# --plugin-dir takes one directory: the installed file.so beside the new plugin.
mkdir -m 0755 "$work/plugins" "$work/conf"
ln -s "$prefix/lib/cebridge/plugins/file.so" "$work/plugins/file.so"
ln -s "$so" "$work/plugins/$name.so"
cat >"$work/conf/50-$name.json" <<EOF
{
  "sources": { "in": { "plugin": "file", "path": "$work/in.jsonl" } },
  "sinks": {
    "out": { "plugin": "$name", "path": "$work/out.log",
             "prefix": "{type} {subject}: ", "fail_on": "missing" },
    "dlq": { "plugin": "file", "path": "$work/dead.jsonl" }
  },
  "routes": { "all": { "from": "in", "to": "out", "dead_letter": "dlq" } }
}
EOF
out=$("$ceb" --check -c "$work/conf" --plugin-dir "$work/plugins" 2>&1) || fail "--check: $out"
[[ $out == "configuration OK: 1 files, 1 sources, 2 sinks, 1 routes" ]] || fail "--check: $out"
out=$("$ceb" --check -c "$proj/examples/$name.json" --plugin-dir "$work/plugins" 2>&1) ||
    fail "--check of the project's example: $out"

# An invalid option value is reported by the installed core with file and field.
sed 's/"fail_on": "missing"/"fail_on": "always"/' "$work/conf/50-$name.json" >"$work/bad.json"
if out=$("$ceb" --check -c "$work/bad.json" --plugin-dir "$work/plugins" 2>&1); then
    fail "--check accepted fail_on always"
fi
[[ $out == *"sinks.out.fail_on: expected one of: never, missing (got \"always\")"* ]] ||
    fail "--check: unexpected message: $out"

for i in 1 2 3; do
    printf '{"specversion":"1.0","id":"e%d","source":"/scaffold","type":"dev.scaffold.t","subject":"s%d","data":{"i":%d}}\n' \
        "$i" "$i" "$i"
done >"$work/in.jsonl"
# One event without a subject: fail_on missing makes it permanent -> dead letter.
printf '{"specversion":"1.0","id":"e4","source":"/scaffold","type":"dev.scaffold.t"}\n' >>"$work/in.jsonl"
timeout 30 "$ceb" -c "$work/conf" --plugin-dir "$work/plugins" --log-level warn \
    >"$work/run.out" 2>"$work/run.err" || { cat "$work/run.err" >&2; fail "cebridge run failed ($?)"; }
[[ $(wc -l <"$work/out.log") -eq 3 ]] || { cat "$work/out.log" >&2; fail "expected 3 lines in out.log"; }
for i in 1 2 3; do
    grep -q "^dev.scaffold.t s$i: {.*\"id\":\"e$i\"" "$work/out.log" || fail "event e$i not written"
done
[[ $(wc -l <"$work/dead.jsonl") -eq 1 ]] && grep -q '"id":"e4"' "$work/dead.jsonl" ||
    fail "e4 was not dead-lettered: $(cat "$work/dead.jsonl" 2>&1)"
if grep -q "ERROR: AddressSanitizer\|runtime error:" "$work/run.err"; then
    cat "$work/run.err" >&2
    fail "sanitizer report"
fi
echo "scaffold: OK"
