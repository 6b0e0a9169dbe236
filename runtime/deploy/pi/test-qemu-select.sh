#!/usr/bin/env bash
# Tests of common.sh's qemu-user choice and binfmt_misc registration (root), run by .ci/test
# before test-emulated.sh: the pinned emulator is chosen whatever is installed; an emulator
# that hangs on the threaded probe, or fails it, is passed over for the next candidate, and
# named with what it did when none is left; a
# registration for the same executables made after ours (by a package, by hand) is put
# behind ours again by binfmt_setup. Fakes stand in for broken emulators: a hanging one
# (as bookworm-backports' qemu-aarch64 10.0.2 was seen to hang at a thread spawn) and a
# failing one.
#
#   runtime/deploy/pi/test-qemu-select.sh [TARGET]     # default aarch64-unknown-linux-gnu
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
target=${1:-aarch64-unknown-linux-gnu}
arch=$(qemu_arch "$target")
var=NETBOOT_QEMU_$(tr '[:lower:]' '[:upper:]' <<<"$arch")
unset "$var"
export QEMU_PROBE_SECONDS=3

work=$(mktemp -d)
stray=/proc/sys/fs/binfmt_misc/netboot-test-hang
cleanup() {
  if [ -e "$stray" ]; then echo -1 >"$stray"; fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/bin"
printf '#!/bin/sh\nexec sleep 600\n' >"$work/bin/qemu-$arch-static"
printf '#!/bin/sh\necho "qemu: Unsupported syscall: 435" >&2\nexit 1\n' >"$work/bin/qemu-$arch"
chmod +x "$work/bin/"*
failures=0
pass() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# select_in_subshell: qemu_select in a subshell (it dies on failure); prints QEMU_USER and
# the messages.
select_in_subshell() { (qemu_select "$target" && echo "QEMU_USER=$QEMU_USER") 2>&1; }

# 1. The variable names a hanging emulator: that is an error naming it, no other is tried.
out=$(env "$var=$work/bin/qemu-$arch-static" bash -c 'source "$1"; qemu_select "$2"' - \
  "$PI_DIR/common.sh" "$target" 2>&1) && fail "a hanging $var was accepted: $out"
if grep -qF "$var=$work/bin/qemu-$arch-static does not run a threaded $arch program: hung" <<<"$out"; then
  pass "a hanging emulator named by $var is refused, named"
else
  fail "message: $out"
fi

# 2. The pinned emulator (bookworm's qemu-user-static, from the cache or apt-get download)
#    is chosen whatever qemu-user is on PATH.
out=$(PATH=$work/bin:$PATH select_in_subshell)
pinned=$(sed -n 's/^QEMU_USER=//p' <<<"$out")
if [[ "$pinned" == "$PI_CACHE"/qemu-user-static-*/usr/bin/qemu-$arch-static ]]; then
  pass "bookworm's qemu-user-static is chosen, whatever is on PATH"
else
  fail "pinned: $out"
fi

# 3. Without the pinned one (an apt suite that does not exist, an empty cache), PATH's are
#    probed: the hanging qemu-<arch>-static is passed over for a qemu-<arch> that works.
mkdir -p "$work/good" && ln -s "$pinned" "$work/good/qemu-$arch"
out=$(PATH=$work/good:$work/bin:$PATH PI_CACHE=$work/cache QEMU_USER_PINNED=qemu-user-static/no-such-suite select_in_subshell)
if grep -qx "QEMU_USER=$work/good/qemu-$arch" <<<"$out"; then
  pass "without the pinned emulator, a hanging one on PATH is passed over for one that works"
else
  fail "PATH: $out"
fi

# 4. No good emulator at all: the error lists every candidate with what it did, and the fix.
out=$(PATH=$work/bin:$PATH PI_CACHE=$work/cache QEMU_USER_PINNED=qemu-user-static/no-such-suite select_in_subshell) &&
  fail "no good emulator, but: $out"
for want in "no qemu-user here runs a threaded $arch program" \
  "qemu-user-static/no-such-suite: apt-get download failed" \
  "$work/bin/qemu-$arch-static: hung (no exit within 3 s)" \
  "$work/bin/qemu-$arch: exit 1: qemu: Unsupported syscall: 435" "Set $var to a qemu-$arch that does"; do
  grep -qF -- "$want" <<<"$out" || { fail "the error lacks \"$want\": $out"; break; }
done && pass "with no good emulator, the error names each candidate, what it did, and the fix"

# 5. binfmt_misc: a registration for the same executables made after ours, whose emulator
#    hangs, takes the binaries the tests start; binfmt_setup puts ours first again.
binfmt_setup "$target"
if qemu_probe "$target"; then
  pass "a target binary started directly runs (netboot-qemu-$arch)"
else
  fail "direct start after binfmt_setup: $QEMU_PROBE_RESULT"
fi
magic=$(sed -n 's/^magic //p' "/proc/sys/fs/binfmt_misc/netboot-qemu-$arch" | sed 's/../\\x&/g')
mask=$(sed -n 's/^mask //p' "/proc/sys/fs/binfmt_misc/netboot-qemu-$arch" | sed 's/../\\x&/g')
printf ':netboot-test-hang:M::%s:%s:%s:F' "$magic" "$mask" "$work/bin/qemu-$arch-static" >/proc/sys/fs/binfmt_misc/register
if qemu_probe "$target"; then
  fail "a later hanging registration did not take over (this test no longer shows the hazard)"
else
  pass "a later registration takes over ($QEMU_PROBE_RESULT)"
fi
binfmt_setup "$target"
if qemu_probe "$target"; then
  pass "binfmt_setup again: a target binary started directly runs under $QEMU_USER"
else
  fail "binfmt_setup did not put netboot-qemu-$arch first: $QEMU_PROBE_RESULT"
fi

[ "$failures" = 0 ] || { echo "$failures qemu-select test(s) failed" >&2; exit 1; }
echo "qemu-select: all tests passed"
