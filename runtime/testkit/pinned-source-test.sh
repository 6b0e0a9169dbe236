#!/usr/bin/env bash
# Tests of runtime/testkit/pinned-source.sh, run by .ci/test: every way a third-party source
# can arrive (its variable, the offline mirror, the cache, a git fetch) is held to the pinned
# digest; a copy that is not the pinned commit's tree is refused with a message naming what
# was wrong, and never kept. Offline: the "upstream" here is a git repository on disk
# (file://), the real pins are checked against the vendored copies when the mirror exists.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The machine's mirror, for the checks of the real pins; the tests' own mirror and cache.
repo_mirror=${NETBOOT_VENDOR_DIR:-$here/../../../shared/vendor}
export NETBOOT_SOURCES_CACHE=$work/cache NETBOOT_VENDOR_DIR=$work/empty-mirror
mkdir -p "$NETBOOT_VENDOR_DIR"
# shellcheck source=pinned-source.sh
source "$here/pinned-source.sh"
failures=0
pass() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# expect_refused NAME CMD...: CMD fails, says each of $want_lines, keeps nothing in the cache.
expect_refused() {
  local name=$1 out line
  shift
  if out=$("$@" 2>&1); then fail "$name: accepted; printed: $out"; return; fi
  for line in "${want_lines[@]}"; do
    grep -qF -- "$line" <<<"$out" || { fail "$name: message lacks \"$line\": $out"; return; }
  done
  if compgen -G "$NETBOOT_SOURCES_CACHE/*.tar*" >/dev/null; then
    fail "$name: left $(ls "$NETBOOT_SOURCES_CACHE") in the cache"; rm -f "$NETBOOT_SOURCES_CACHE"/*.tar*; return
  fi
  pass "$name"
}

# An upstream on disk: one commit with fixed dates, so its id and archive are the same on
# every run.
upstream=$work/upstream
git init -q "$upstream"
printf 'int main(void) { return 0; }\n' >"$upstream/main.c"
git -C "$upstream" add main.c
GIT_AUTHOR_DATE='1700000000 +0000' GIT_COMMITTER_DATE='1700000000 +0000' \
  git -C "$upstream" -c user.name=test -c user.email=test@example.invalid commit -qm one
commit=$(git -C "$upstream" rev-parse HEAD)
good=$(git -C "$upstream" -c tar.umask=0002 archive --format=tar --prefix=demo/ "$commit" | sha256sum | cut -d' ' -f1)
demo() { pinned_tar "demo" DEMO_TARBALL demo.tar.xz "$1" "$commit" demo "$2"; }

# 1. Fetched at the pinned commit, verified, cached; then served from the cache with the
#    upstream gone.
if tar=$(demo "file://$upstream" "$good" 2>"$work/err") && [ "$(sha256sum <"$tar" | cut -d' ' -f1)" = "$good" ] &&
  grep -q "fetching demo" "$work/err"; then
  pass "fetch at the pinned commit is accepted and cached"
else
  fail "fetch at the pinned commit: $(cat "$work/err")"
fi
if tar=$(demo "file://$work/gone" "$good" 2>"$work/err") && [ ! -s "$work/err" ]; then
  pass "a verified cached copy is used without fetching"
else
  fail "cached copy: $(cat "$work/err")"
fi
# 2. A cached copy altered afterwards is not trusted: with the upstream gone, it is an error.
printf 'x' >>"$tar"
want_lines=("no copy of demo to use" "set DEMO_TARBALL" "put demo.tar.xz in $NETBOOT_VENDOR_DIR" "file://$work/gone")
expect_refused "an altered cached copy is not used" demo "file://$work/gone" "$good"
# 3. The fetched commit's tree does not have the pinned digest (a wrong pin, or an upstream
#    that serves other bytes): refused, not cached.
want_lines=("refusing file://$upstream at $commit" "sha256 of its uncompressed tar: $good" "expected")
expect_refused "a fetch whose digest differs is refused" demo "file://$upstream" "$(printf '0%.0s' {1..64})"
# 4. A commit the upstream does not have.
rm -rf "$upstream/.git/objects/"??
want_lines=("no copy of demo to use" "file://$upstream (commit $commit): that failed")
expect_refused "an upstream without the commit is an error naming it" demo "file://$upstream" "$good"

# 5. The real pins, with the vendored copies (when this machine has the mirror): accepted
#    from the mirror and from the variable; a copy with one byte changed, or the same files
#    re-packed by another tar, is refused from either place.
if [ -f "$repo_mirror/storage-testbench.tar.xz" ]; then
  vendored=$repo_mirror/storage-testbench.tar.xz
  if GCS_TESTBENCH_TARBALL=$vendored pinned_source storage-testbench >/dev/null; then
    pass "the vendored storage-testbench is accepted from GCS_TESTBENCH_TARBALL"
  else
    fail "the vendored storage-testbench is refused"
  fi
  cp "$vendored" "$NETBOOT_VENDOR_DIR/"
  if tar=$(pinned_source storage-testbench) && tar -tf "$tar" storage-testbench/setup.py >/dev/null; then
    pass "the offline mirror's storage-testbench is accepted"
  else
    fail "the offline mirror's storage-testbench is refused"
  fi
  rm -f "$NETBOOT_SOURCES_CACHE"/*.tar
  mkdir "$work/tree"
  tar -xf "$vendored" -C "$work/tree"
  tar -C "$work/tree" -cJf "$work/repacked.tar.xz" storage-testbench
  printf '\n# changed\n' >>"$work/tree/storage-testbench/setup.py"
  tar -C "$work/tree" -czf "$work/tampered.tar.gz" storage-testbench
  want_lines=("refusing GCS_TESTBENCH_TARBALL=$work/tampered.tar.gz" "not storage-testbench (commit e8c85072463f1f8378d850db457df598fdcb17a7)"
    "expected (git archive --format=tar --prefix=storage-testbench/ e8c85072463f1f8378d850db457df598fdcb17a7): 2f73cbeb")
  expect_refused "a changed storage-testbench is refused from the variable" \
    env GCS_TESTBENCH_TARBALL="$work/tampered.tar.gz" bash -c 'source "$1"; pinned_source storage-testbench' - "$here/pinned-source.sh"
  cp "$work/repacked.tar.xz" "$NETBOOT_VENDOR_DIR/storage-testbench.tar.xz"
  want_lines=("refusing $NETBOOT_VENDOR_DIR/storage-testbench.tar.xz (the offline mirror)")
  expect_refused "the same files re-packed by another tar are refused from the mirror" pinned_source storage-testbench
  rm -f "$NETBOOT_VENDOR_DIR/storage-testbench.tar.xz"
else
  echo "skipped: no $repo_mirror/storage-testbench.tar.xz (the vendored copy checks)"
fi
if [ -f "$repo_mirror/ipxe-2.0.0.tar.xz" ]; then
  if IPXE_TARBALL=$repo_mirror/ipxe-2.0.0.tar.xz pinned_source ipxe >/dev/null; then
    pass "the vendored iPXE is accepted"
  else
    fail "the vendored iPXE is refused"
  fi
fi
  rm -f "$NETBOOT_SOURCES_CACHE"/*.tar
# 6. A variable naming nothing, or something that is not a tar.
want_lines=("IPXE_TARBALL=$work/nothing.tar.xz: no such file")
expect_refused "a variable naming a missing file is an error" env IPXE_TARBALL="$work/nothing.tar.xz" \
  bash -c 'source "$1"; pinned_source ipxe' - "$here/pinned-source.sh"
printf '\xfd7zXZ\x00 not really xz' >"$work/broken.tar.xz"
want_lines=("IPXE_TARBALL=$work/broken.tar.xz: cannot decompress it")
expect_refused "a file that does not decompress is an error" env IPXE_TARBALL="$work/broken.tar.xz" \
  bash -c 'source "$1"; pinned_source ipxe' - "$here/pinned-source.sh"

[ "$failures" = 0 ] || { echo "$failures pinned-source test(s) failed" >&2; exit 1; }
echo "pinned-source: all tests passed"
