#!/usr/bin/env bash
# shellcheck disable=SC2154  # UNIT_* are read from the installed unit (a generated file, sourced)
# Installs a netboot-proxy package into a throw-away Debian bookworm root of its
# architecture and starts the packaged unit's ExecStart= the way systemd would (no systemd
# here): the unit's Environment= lines, then its EnvironmentFile= (the conffile, edited as
# an operator would), the credentials copied into a private directory for %d, as the
# package's user with only the unit's capability, no_new_privs and its UMask. Then it
# checks that the proxy answers: /healthz says `ok sha256:<release> origin=up` against a
# dummy origin (a Python HTTPS server that verifies the proxy's client certificate, serving
# a one-route bundle), TFTP on port 69 serves boot.ipxe, SIGHUP and SIGTERM behave. Also:
# the package's files, user, cache directory and conffile; the unit under systemd-analyze;
# a reinstall keeps an edited conffile; purge removes the cache and the conffile. Each
# check prints PASS/FAIL, and the last line counts them.
#
#   runtime/deploy/pi/test-deb.sh                  # amd64: what CI runs
#   runtime/deploy/pi/test-deb.sh arm64            # or armhf: a root of that architecture,
#                                                  # run under qemu-user (binfmt_misc)
#   runtime/deploy/pi/test-deb.sh path/to/netboot-proxy_<version>_<arch>.deb
#
# An architecture name takes $CARGO_TARGET_DIR/pi/dist/netboot-proxy_*_<arch>.deb, built
# first (build-deb.sh) when it is missing. The bookworm root is debootstrapped once per
# architecture into $NETBOOT_PI_CACHE (amd64: about 2 min; arm64 under emulation: longer)
# and unpacked fresh for every run. NETBOOT_PI_KEEP=1 keeps the work directory.
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

[ "$(id -u)" = 0 ] || die "run as root (chroot, mount)"
apt_install debootstrap curl openssl python3 util-linux

deb=${1:-amd64}
case "$deb" in
  amd64 | arm64 | armhf)
    want=$deb
    deb=$(ls "$CARGO_TARGET_DIR"/pi/dist/netboot-proxy_*_"$want".deb 2>/dev/null | sort -V | tail -n1 || true)
    if [ -z "$deb" ]; then
      case "$want" in
        amd64) t=x86_64-unknown-linux-gnu ;; arm64) t=aarch64-unknown-linux-gnu ;; armhf) t=armv7-unknown-linux-gnueabihf ;;
      esac
      bash "$PI_DIR/build-deb.sh" "$t"
      deb=$(ls "$CARGO_TARGET_DIR"/pi/dist/netboot-proxy_*_"$want".deb | sort -V | tail -n1)
    fi
    ;;
esac
[ -f "$deb" ] || die "no package at $deb"
deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")
arch=$(dpkg-deb -f "$deb" Architecture)
if [ "$arch" != "$(dpkg --print-architecture)" ]; then
  # A foreign root: its programs (dpkg's maintainer scripts, the proxy) run under
  # qemu-user through binfmt_misc.
  case "$arch" in
    arm64) binfmt_setup aarch64-unknown-linux-gnu ;;
    armhf) binfmt_setup armv7-unknown-linux-gnueabihf ;;
    *) die "no emulation for $arch" ;;
  esac
fi

fails=0
passes=0
pass() { printf 'PASS: %s\n' "$*"; passes=$((passes + 1)); }
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }

# --- the throw-away root -------------------------------------------------------------
# minbase plus systemd and procps: what the package depends on beyond libc (systemd for
# systemd-sysusers, procps for the unit's /bin/kill), which every Raspberry Pi OS and
# standard Debian install has; systemd-analyze also checks the unit. Cached as a tarball;
# each run unpacks a fresh copy.
base=$PI_CACHE/bookworm-$arch-systemd-procps.tar
if [ ! -f "$base" ]; then
  log "debootstrap bookworm $arch (once, cached in $base)"
  mkdir -p "$PI_CACHE"
  tmp=$(mktemp -d "$PI_CACHE/debootstrap.XXXXXX")
  start=$(date +%s)
  debootstrap --arch="$arch" --variant=minbase --include=systemd,procps bookworm "$tmp" >"$tmp.log" 2>&1 \
    || { tail -n 30 "$tmp.log" >&2; rm -rf "$tmp"; die "debootstrap failed (log: $tmp.log)"; }
  rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*
  chmod 755 "$tmp"   # mktemp's 0700 would become the root directory's mode
  tar -C "$tmp" -cf "$base.part" . && mv "$base.part" "$base"
  rm -rf "$tmp" "$tmp.log"
  log "debootstrap took $(( $(date +%s) - start )) s"
fi

work=$(mktemp -d /tmp/netboot-deb-test.XXXXXX)
root=$work/root
proxy_pid=
origin_pid=
cleanup() {
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null || true
  [ -n "$origin_pid" ] && kill "$origin_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  mountpoint -q "$root/proc" && umount "$root/proc"
  if [ "${NETBOOT_PI_KEEP:-0}" = 1 ] || [ "$fails" -gt 0 ]; then
    echo "work directory kept: $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
mkdir -p "$root"
tar -C "$root" -xf "$base"
chmod 755 "$root"
# What netbase gives every real install (minbase has none): `localhost` resolves.
[ -s "$root/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
mount -t proc proc "$root/proc"
in_root() { chroot "$root" "$@"; }

# --- install ---------------------------------------------------------------------------
cp "$deb" "$root/tmp/"
log "dpkg -i $(basename "$deb") in the bookworm root"
in_root dpkg -i "/tmp/$(basename "$deb")" >"$work/dpkg-install.log" 2>&1 \
  || { cat "$work/dpkg-install.log"; die "dpkg -i failed"; }
pass "dpkg -i installs the package (Depends satisfied by a minimal bookworm with systemd)"

check "binary at /usr/bin/netboot-proxy runs" in_root /usr/bin/netboot-proxy --version
# The test clock (the `test-clock` feature, src/clock.rs) is for the proxy's tests only: the
# shipped binary does not even contain the variable's name (and ignores it when started below).
check "the packaged binary has no test clock (no NETBOOT_PROXY_TEST_CLOCK in it)" \
  sh -c "! grep -aq NETBOOT_PROXY_TEST_CLOCK '$root/usr/bin/netboot-proxy'"
check "man page installed" test -f "$root/usr/share/man/man1/netboot-proxy.1.gz"
check "unit installed" test -f "$root/lib/systemd/system/netboot-proxy.service"
check "unit enabled (multi-user.target.wants)" \
  test -L "$root/etc/systemd/system/multi-user.target.wants/netboot-proxy.service"
check "sysusers.d entry installed" test -f "$root/usr/lib/sysusers.d/netboot-proxy.conf"
check "system user netboot-proxy created" in_root getent passwd netboot-proxy
check "its shell is nologin" sh -c "chroot '$root' getent passwd netboot-proxy | grep -q ':/usr/sbin/nologin$'"
owner=$(in_root stat -c '%U:%G %a' /var/cache/netboot-proxy 2>/dev/null || true)
check "/var/cache/netboot-proxy is netboot-proxy:netboot-proxy 700 (is: $owner)" \
  test "$owner" = "netboot-proxy:netboot-proxy 700"
check "/etc/netboot-proxy/netboot-proxy.env is a conffile" \
  grep -qx ' */etc/netboot-proxy/netboot-proxy.env.*' "$root/var/lib/dpkg/status"

# The unit's syntax and hardening, as systemd 252 (bookworm) reads it.
if in_root systemd-analyze verify /lib/systemd/system/netboot-proxy.service >"$work/verify.log" 2>&1 \
  && ! grep -q . "$work/verify.log"; then
  pass "systemd-analyze verify: no warnings"
else
  cat "$work/verify.log"; fail "systemd-analyze verify"
fi
exposure=$(in_root systemd-analyze security --offline=yes /lib/systemd/system/netboot-proxy.service 2>/dev/null \
  | sed -n 's/.*Overall exposure level for netboot-proxy.service: \([0-9.]*\) \(.*\)/\1 \2/p')
echo "systemd-analyze security --offline=yes: ${exposure:-?}"
check "hardening exposure below 2.0 (is: ${exposure:-?})" \
  awk -v e="${exposure%% *}" 'BEGIN { exit !(e != "" && e < 2.0) }'

# Every setting of the repository's unit (runtime/deploy/systemd/netboot-proxy.service)
# is in the packaged one, except the lines the package changes on purpose.
unit_missing=$(grep -v '^\s*#' "$REPO/runtime/deploy/systemd/netboot-proxy.service" | grep -v '^\s*$' \
  | grep -vx -e 'ExecStart=/usr/local/bin/netboot-proxy' -e 'DynamicUser=yes' \
  | while IFS= read -r line; do grep -qxF -- "$line" "$root/lib/systemd/system/netboot-proxy.service" || echo "$line"; done)
check "the packaged unit keeps every other line of runtime/deploy/systemd/netboot-proxy.service${unit_missing:+ (missing: $unit_missing)}" \
  test -z "$unit_missing"

# --- a dummy origin ----------------------------------------------------------------------
# openssl certificates and a one-route bundle served by the proxy tests' Python HTTPS
# origin, which requires the proxy's client certificate (common.sh).
pki=$work/pki
make_pki "$pki"
manifest=$(make_bundle "$work/bundle")
printf '#!ipxe\necho netboot-proxy package test\n' >"$work/boot.ipxe.expected"
start_origin "$work/bundle" "$pki" "$work/origin.log"
origin_pid=$ORIGIN_PID
origin_port=$ORIGIN_PORT

# --- configure as an operator would ------------------------------------------------------
install -m 0600 "$pki/client.pem" "$pki/client.key" "$root/etc/netboot-proxy/"
install -m 0600 "$pki/ca.pem" "$root/etc/netboot-proxy/origin-ca.pem"
# TFTP on the real port 69 (privileged: proves the unit's one capability is enough) when
# nothing else has it, else an ephemeral port; HTTP on an ephemeral port (the ready line
# says which).
tftp_port=69
if ss -Hlun "sport = :69" | grep -q .; then tftp_port=0; echo "note: UDP 69 is in use here; TFTP on an ephemeral port"; fi
env_file=$root/etc/netboot-proxy/netboot-proxy.env
sed -i -e "s|^NETBOOT_PROXY_ORIGIN=.*|NETBOOT_PROXY_ORIGIN=https://localhost:$origin_port|" \
  -e "s|^NETBOOT_PROXY_TFTP_LISTEN=.*|NETBOOT_PROXY_TFTP_LISTEN=127.0.0.1:$tftp_port|" \
  -e "s|^NETBOOT_PROXY_HTTP_LISTEN=.*|NETBOOT_PROXY_HTTP_LISTEN=127.0.0.1:0|" \
  -e "s|^NETBOOT_PROXY_ADMIN_LISTEN=.*|NETBOOT_PROXY_ADMIN_LISTEN=127.0.0.1:0|" \
  -e "s|^#NETBOOT_PROXY_POLL_INTERVAL=.*|NETBOOT_PROXY_POLL_INTERVAL=1s|" "$env_file"

# --- what systemd would run ----------------------------------------------------------------
# Reads the installed unit: ExecStart=, Environment= (%C and %d expanded as systemd does
# for a system service), EnvironmentFile= (later, so it overrides), User=, Group=, UMask=,
# AmbientCapabilities=, NoNewPrivileges=; LoadCredential= files are copied to the
# credentials directory, readable by the service's user only. Any other specifier fails.
creds=/run/credentials/netboot-proxy.service
python3 - "$root" "$creds" >"$work/unit.env" <<'EOF'
import re, shlex, sys
root, creds = sys.argv[1:3]
unit = open(f"{root}/lib/systemd/system/netboot-proxy.service").read().splitlines()
def spec(v):
    v = v.replace("%C", "/var/cache").replace("%d", creds).replace("%%", "%")
    if "%" in v: sys.exit(f"unexpanded specifier in {v!r}")
    return v
env, files, out = {}, [], {"CREDS": []}
for line in unit:
    if not line or line.startswith(("#", "[")): continue
    k, _, v = line.partition("=")
    if k == "Environment":
        for item in shlex.split(v):
            name, _, val = item.partition("="); env[name] = spec(val)
    elif k == "EnvironmentFile": files.append(v)
    elif k == "LoadCredential": out["CREDS"].append(v)
    elif k in ("ExecStart", "User", "Group", "UMask", "AmbientCapabilities", "NoNewPrivileges"): out[k] = v
for f in files:
    optional = f.startswith("-")
    try: text = open(root + f.lstrip("-")).read()
    except FileNotFoundError:
        if optional: continue
        raise
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")): continue
        name, _, val = line.partition("=")
        env[name.strip()] = val.strip().strip('"')
for k, v in out.items():
    if k == "CREDS": print("UNIT_CREDS=" + shlex.quote(" ".join(v)))
    else: print(f"UNIT_{k}=" + shlex.quote(v))
print("UNIT_ENV=(" + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items()) + ")")
EOF
# shellcheck disable=SC1091  # written just above
source "$work/unit.env"
echo "ExecStart=$UNIT_ExecStart  User=$UNIT_User  UMask=$UNIT_UMask  AmbientCapabilities=$UNIT_AmbientCapabilities"
printf '  %s\n' "${UNIT_ENV[@]}"
mkdir -p "$root$creds"
for c in $UNIT_CREDS; do install -m 0400 "$root${c#*:}" "$root$creds/${c%%:*}"; done
in_root chown -R "$UNIT_User:$UNIT_Group" "$creds"
chmod 0500 "$root$creds"
caps=$(tr '[:upper:]' '[:lower:]' <<<"${UNIT_AmbientCapabilities#CAP_}")
nnp=()
[ "$UNIT_NoNewPrivileges" = yes ] && nnp=(--no-new-privs)
# shellcheck disable=SC2086
chroot "$root" env -i "${UNIT_ENV[@]}" NETBOOT_PROXY_TEST_CLOCK=/tmp/test-clock sh -c 'umask "$0"; exec "$@"' "$UNIT_UMask" \
  setpriv --reuid="$UNIT_User" --regid="$UNIT_Group" --clear-groups \
  --inh-caps="-all,+$caps" --ambient-caps="-all,+$caps" --bounding-set="-all,+$caps" "${nnp[@]}" \
  -- $UNIT_ExecStart 2>"$work/proxy.log" &
proxy_pid=$!

ready=
for _ in $(seq 200); do
  if grep -q 'netboot-proxy ready' "$work/proxy.log"; then ready=1; break; fi
  kill -0 "$proxy_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$ready" ]; then cat "$work/proxy.log"; fail "the proxy started (ready line)"; exit 1; fi
ready_line=$(grep -m1 'netboot-proxy ready' "$work/proxy.log")
pass "the packaged ExecStart started with the unit's environment: $ready_line"
# The clock is chosen before the ready line: a build with the test clock would have said so.
check "NETBOOT_PROXY_TEST_CLOCK in its environment is ignored (no test clock in its log)" \
  sh -c "! grep -q 'test clock' '$work/proxy.log'"
http_addr=$(sed -n 's/.* listen=\([0-9.:]*\).*/\1/p' <<<"$ready_line")
tftp_addr=$(sed -n 's/.* tftp=\([0-9.:]*\).*/\1/p' <<<"$ready_line")
# The process to inspect: setpriv exec'd into the proxy, so $proxy_pid is the proxy.
status=/proc/$proxy_pid/status
check "runs as netboot-proxy (uid $(awk '/^Uid:/ {print $2}' "$status"))" \
  test "$(awk '/^Uid:/ {print $2}' "$status")" = "$(in_root id -u netboot-proxy)"
check "CapEff, CapBnd and CapAmb are CAP_NET_BIND_SERVICE only (0x400), NoNewPrivs 1" \
  sh -c "grep -q '^CapEff:.*0000000000000400' $status && grep -q '^CapBnd:.*0000000000000400' $status \
    && grep -q '^CapAmb:.*0000000000000400' $status && grep -q '^NoNewPrivs:.*1' $status"

health=
for _ in $(seq 100); do
  health=$(curl -s --max-time 2 "http://$http_addr/healthz" || true)
  [[ $health == ok* ]] && break
  sleep 0.2
done
echo "GET /healthz: $health"
check "/healthz: ok $manifest origin=up" test "$health" = "ok $manifest origin=up"
check "TFTP $tftp_addr/boot.ipxe: the dispatcher, byte for byte" \
  sh -c "curl -s --max-time 10 -o '$work/boot.ipxe' 'tftp://$tftp_addr/boot.ipxe' && cmp -s '$work/boot.ipxe' '$work/boot.ipxe.expected'"
check "LAN HTTP /boot.ipxe: the dispatcher" \
  sh -c "curl -sf --max-time 10 'http://$http_addr/boot.ipxe' | cmp -s - '$work/boot.ipxe.expected'"
check "the origin, which requires a client certificate, served the proxy (its access log)" grep -q '"GET /current' "$work/origin.log"
bad=$(find "$root/var/cache/netboot-proxy" ! -user "$(in_root id -u netboot-proxy)" | head -n3)
check "the cache is written as netboot-proxy, files 0600/dirs 0700 by UMask=0077${bad:+ (not: $bad)}" \
  sh -c "[ -z '$bad' ] && [ -n \"\$(find '$root/var/cache/netboot-proxy' -mindepth 1 -print -quit)\" ] \
    && [ -z \"\$(find '$root/var/cache/netboot-proxy' -mindepth 1 -perm /077 -print -quit)\" ]"
kill -HUP "$proxy_pid"
for _ in $(seq 50); do grep -q 'SIGHUP: looking at the origin now' "$work/proxy.log" && break; sleep 0.1; done
check "SIGHUP (systemctl reload): looks at the origin, still serving" \
  sh -c "grep -q 'SIGHUP: looking at the origin now' '$work/proxy.log' \
    && curl -sf --max-time 5 'http://$http_addr/healthz' | grep -q '^ok'"
kill -TERM "$proxy_pid"
code=0
wait "$proxy_pid" || code=$?
proxy_pid=
check "SIGTERM: exit 0 (was $code)" test "$code" = 0

# --- upgrade and purge ----------------------------------------------------------------------
cp "$env_file" "$work/env.edited"
in_root dpkg -i "/tmp/$(basename "$deb")" >"$work/dpkg-reinstall.log" 2>&1 \
  || { cat "$work/dpkg-reinstall.log"; fail "reinstall"; }
check "reinstalling keeps the edited conffile" cmp -s "$env_file" "$work/env.edited"
in_root dpkg --purge netboot-proxy >"$work/dpkg-purge.log" 2>&1 || { cat "$work/dpkg-purge.log"; fail "purge"; }
check "purge removes /var/cache/netboot-proxy" test ! -e "$root/var/cache/netboot-proxy"
check "purge removes the conffile" test ! -e "$env_file"
check "purge leaves the administrator's key in /etc/netboot-proxy" test -f "$root/etc/netboot-proxy/client.key"

echo "package test: $passes passed, $fails failed"
if [ "$fails" -gt 0 ]; then
  echo "proxy log:"; sed 's/^/  /' "$work/proxy.log"
  exit 1
fi
