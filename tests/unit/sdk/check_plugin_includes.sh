#!/bin/sh
# Fail if any file under plugins/ includes a core/ header, or adds core/ to
# its include path (DESIGN §1: plugins include only <cebridge/*.h>).
dir="$1"
[ -d "$dir" ] || { echo "ok: no plugins directory"; exit 0; }
bad=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^">]*/)?core/' "$dir" \
      --include='*.c' --include='*.h' --include='*.cc' --include='*.inc' 2>/dev/null)
cm=$(grep -rnE '(include_directories|INCLUDE_DIRECTORIES)[^)]*core' "$dir" \
     --include='CMakeLists.txt' --include='*.cmake' 2>/dev/null)
if [ -n "$bad$cm" ]; then
    echo "FAIL: plugins must include only <cebridge/*.h>, never core/ headers:"
    [ -n "$bad" ] && echo "$bad"
    [ -n "$cm" ] && echo "$cm"
    exit 1
fi
echo "ok: no plugin includes a core/ header"
