#!/usr/bin/env bash
# tools/gen-plugin-readme against the in-tree skel plugin (a sink only):
# up to date, --check on a stale table (exit 1 + diff), rewrite, and the
# exact messages for broken markers (exit 2).
# usage: test_gen_readme.sh CEBRIDGE PLUGIN_DIR SOURCE_DIR
set -euo pipefail
ceb=$1 pdir=$2 src=$3
gen=("${PYTHON:-python3}" "$src/tools/gen-plugin-readme" --cebridge "$ceb" --plugin-dir "$pdir")
work=$(mktemp -d /tmp/ceb_genreadme_XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
readme=$work/README.md

# expect STATUS STDERR_SUBSTRING -- args...
expect() {
    local want=$1 msg=$2 rc=0
    shift 2
    "${gen[@]}" "$@" >"$work/out" 2>"$work/err" || rc=$?
    [[ $rc -eq $want ]] || fail "$* -> exit $rc, want $want: $(cat "$work/err")"
    [[ -z $msg || $(cat "$work/err") == *"$msg"* ]] || fail "$* -> stderr: $(cat "$work/err"), want: $msg"
}

cp "$src/tools/new-plugin.d/README.md" "$readme"
expect 0 "" --check --readme "$readme" skel

sed -i 's/| `max_line` | size | `"64KiB"`/| `max_line` | size | `"1KiB"`/' "$readme"
cp "$readme" "$work/stale"
expect 1 "README.md is out of date; rerun without --check to rewrite it" --check --readme "$readme" skel
grep -q '^-| `max_line` | size | `"1KiB"`' "$work/out" || fail "no diff printed: $(cat "$work/out")"
cmp -s "$readme" "$work/stale" || fail "--check wrote the README"
expect 0 "" --readme "$readme" skel
cmp -s "$readme" "$src/tools/new-plugin.d/README.md" || fail "rewrite did not restore the table"

printf 'intro\n<!-- options:begin sink -->\nold\n<!-- options:end -->\ntail\n' >"$readme"
expect 0 "" --readme "$readme" skel
[[ $(head -3 "$readme") == $'intro\n<!-- options:begin sink -->\n### Sink options' ]] ||
    fail "role block: $(cat "$readme")"
[[ $(tail -2 "$readme") == $'<!-- options:end -->\ntail' ]] || fail "text after the block changed"

printf 'x\n<!-- options:begin source -->\n<!-- options:end -->\n' >"$readme"
expect 2 "$readme:2: the plugin has no source role" --readme "$readme" skel
printf 'x\n<!-- options:begin -->\nrow\n' >"$readme"
expect 2 "$readme:2: <!-- options:begin --> without <!-- options:end -->" --readme "$readme" skel
printf '<!-- options:end -->\n' >"$readme"
expect 2 "$readme:1: <!-- options:end --> without a begin marker" --readme "$readme" skel
printf 'no markers\n' >"$readme"
expect 2 "$readme: no <!-- options:begin --> marker" --readme "$readme" skel
printf '<!-- options:begin -->\n<!-- options:end -->\n' >"$readme"
expect 2 "plugin nosuch: no such plugin in" --readme "$readme" nosuch
echo "gen-plugin-readme: OK"
