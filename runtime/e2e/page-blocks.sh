# shellcheck shell=bash
# docs/getting-started.md's marked shell blocks, for the tests that run them as written
# (getting-started.sh on loopback, the LAN matrix's row 24). A block is marked by the line
# `<!-- getting-started-test: ROLE [service] -->` just before its ```sh fence: ROLE is whose
# machine runs it (workstation, origin, pi), `service` a server that keeps running.
# The caller sets PAGE_ENV (the page's variables, NAME=value) before running blocks.

# page_blocks PAGE DIR: writes each marked block to DIR/NN-ROLE.sh and prints
# "ROLE<TAB>KIND<TAB>FILE" per block (KIND: run | service), in page order.
page_blocks() {
  mkdir -p "$2"
  awk -v dir="$2" '
    /^<!-- getting-started-test: / { role = $3; kind = ($4 == "service" ? "service" : "run"); want = 1; next }
    want && /^```sh$/ { n++; file = sprintf("%s/%02d-%s.sh", dir, n, role); printf "%s\t%s\t%s\n", role, kind, file; inside = 1; want = 0; next }
    inside && /^```$/ { inside = 0; close(file); next }
    inside { print > file }
  ' "$1"
}

# page_run DIR FILE [COMMAND PREFIX...]: runs the block in DIR with the page's variables
# (behind the prefix, e.g. `ip netns exec NS`); its output on stdout and stderr.
page_run() {
  local dir=$1 file=$2; shift 2
  (cd "$dir" && "$@" env "${PAGE_ENV[@]}" bash -euo pipefail "$file")
}

# page_service DIR FILE LOG [COMMAND PREFIX...]: starts a service block in the background,
# the block's one command exec'd so that $! afterwards is the server itself.
page_service() {
  local dir=$1 file=$2 log=$3; shift 3
  (cd "$dir" && exec "$@" env "${PAGE_ENV[@]}" bash -euo pipefail -c "exec $(cat "$file")") >"$log" 2>&1 &
}
