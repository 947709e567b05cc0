#!/bin/sh
# Compile every public header alone: check_headers.sh CC INCLUDE_DIR [EXTRA_INCLUDE_DIRS]
# Fails (exit 1) naming each header that does not compile on its own.
cc="$1"; inc="$2"; extra="$3"
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
flags="-std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -pedantic"
xinc=""
for d in $(echo "$extra" | tr ';' ' '); do xinc="$xinc -I$d"; done
fail=0; n=0
for h in "$inc"/cebridge/*.h; do
    name=$(basename "$h")
    printf '#include <cebridge/%s>\n#include <cebridge/%s>\nint ceb_header_test_%s;\n' \
        "$name" "$name" "$(echo "$name" | tr -c 'a-z0-9\n' '_')" > "$tmp/t.c"
    if ! "$cc" $flags -I"$inc" $xinc -c "$tmp/t.c" -o "$tmp/t.o" 2> "$tmp/err"; then
        echo "FAIL: cebridge/$name does not compile on its own:"; cat "$tmp/err"; fail=1
    fi
    n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "no headers found in $inc/cebridge"; exit 1; }
[ "$fail" -eq 0 ] && echo "ok: $n headers compile alone ($flags)"
exit $fail
