#!/usr/bin/env bash
# Checks the layering of src/: every folder is a layer, listed here from the
# bottom up, and a file may include only headers of its own layer or of a
# layer below it. Modules (a .c and its .h count as one) must not include
# each other in a cycle, inside a layer or across. Prints each violation and
# exits 1; prints a one-line summary and exits 0 otherwise.
# Usage: tools/layers.sh [SRC_DIR]
set -u
src=${1:-src}
layers="base proto net cache upstream serve"

# One "FROM TO" line per project include: module paths without extension,
# e.g. "net/worker serve/respd". main.c is the top (its layer is "main").
edges=$(cd "$src" && for f in $(find . -name '*.[ch]' | sed 's|^\./||' | sort); do
    from=${f%.*}
    sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]+"([^"]+)\.h".*/\1/p' "$f" |
        while read -r to; do
            [ "$to" != "$from" ] && echo "$from $to"
        done
done | sort -u)

awk -v layers="$layers" '
function layer(m,   l) { l = m; sub(/\/.*/, "", l); return (m ~ /\//) ? l : "main" }
function visit(m,   i, n, t, parts) {
    state[m] = 1; stack[++depth] = m
    n = split(adj[m], parts, " ")
    for (i = 1; i <= n; i++) {
        t = parts[i]
        if (t == "") continue
        if (state[t] == 1) {
            msg = ""
            for (j = 1; j <= depth; j++) if (stack[j] == t) break
            for (; j <= depth; j++) msg = msg stack[j] " -> "
            print "include cycle: " msg t; bad++
        } else if (state[t] == 0) visit(t)
    }
    depth--; state[m] = 2
}
BEGIN {
    n = split(layers, ls, " ")
    for (i = 1; i <= n; i++) rank[ls[i]] = i
    rank["main"] = n + 1
}
NF == 2 {
    from = $1; to = $2; modules[from] = 1; modules[to] = 1
    adj[from] = adj[from] " " to
    lf = layer(from); lt = layer(to)
    if (!(lt in rank)) { print from ": includes \"" to ".h\" outside every layer"; bad++; next }
    if (rank[lt] > rank[lf]) {
        print from " (" lf ") includes " to " (" lt "): a layer above it"; bad++
    }
    edges++
}
END {
    for (m in modules) state[m] = 0
    for (m in modules) if (state[m] == 0) visit(m)
    if (bad > 0) { print bad " layering violation(s)"; exit 1 }
    printf "layers: %d includes between %d modules, no cycle, none upward\n", edges, length(modules)
}' <<<"$edges"
