#!/usr/bin/env bash
# netboot-proxy's whole test suite (unit tests, the integration tests against netboot-serve
# in tests/proxy.rs, the doc tests) and its TFTP server's (netboot-tftp, tests/tftp.rs) built for an ARM
# target and run under qemu-user on an x86_64 Debian/Ubuntu machine:
#
#   runtime/deploy/pi/test-emulated.sh                                   # aarch64
#   runtime/deploy/pi/test-emulated.sh armv7-unknown-linux-gnueabihf     # 32-bit
#   runtime/deploy/pi/test-emulated.sh aarch64-unknown-linux-gnu -- tftp # args after -- go to cargo test
#
# How: cargo runs each test binary through CARGO_TARGET_<TRIPLE>_RUNNER
# (`<qemu-user> -L /usr/<gnu triple>`), where the qemu-user is bookworm's qemu-user-static
# unpacked into the cache (or $NETBOOT_QEMU_AARCH64 / $NETBOOT_QEMU_ARM), checked first with
# a threaded probe (common.sh, qemu_select): the installed qemu packages do not matter. The
# integration tests start target binaries themselves (netboot-proxy via
# CARGO_BIN_EXE_netboot-proxy, and the netboot-serve built beside it, which this script
# builds for the target first); those reach the same qemu through binfmt_misc, where this
# script registers it as netboot-qemu-<arch> (root; a container must be privileged), with
# QEMU_LD_PREFIX pointing qemu at the target's loader and libc. The
# peers the tests start (curl, tftp-hpa, atftp, openssl, python3) are the host's own
# x86_64 programs, run natively.
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

target=${1:-aarch64-unknown-linux-gnu}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift

cross_setup "$target"
binfmt_setup "$target"
# The tests' peers (the same as .ci/packages).
apt_install curl openssl tftp-hpa atftp python3

cross_env "$target"
emulation_env "$target"
cd "$REPO" || exit

start=$(date +%s)
log "cargo build --target $target -p netboot-serve (the origin tests/proxy.rs starts)"
heavy cargo build --locked --target "$target" -p netboot-serve
log "cargo test --target $target -p netboot-tftp -p netboot-proxy --no-run"
heavy cargo test --locked --target "$target" -p netboot-tftp -p netboot-proxy --no-run
built=$(date +%s)
log "built in $((built - start)) s; running the tests under $QEMU_USER"
# Not niced: the tests have timeouts, and emulation is slow enough already.
cargo test --locked --target "$target" -p netboot-tftp -p netboot-proxy "$@"
log "tests ran in $(( $(date +%s) - built )) s under emulation (build $((built - start)) s)"
