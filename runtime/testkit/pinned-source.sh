# Third-party source trees the tests build or install, each pinned to an upstream commit and
# to the sha256 of that commit's `git archive --format=tar --prefix=DIR/` stream
# (uncompressed: git writes the commit id into the tar's pax global header, so one digest
# pins both the files and the commit). Sourced, not run:
#
#   source runtime/testkit/pinned-source.sh
#   tar=$(pinned_source ipxe)                 # path of the verified, uncompressed tar
#
# Where a tree comes from, the first that exists:
#   1. the file named by its variable (IPXE_TARBALL, GCS_TESTBENCH_TARBALL): tar, tar.xz or
#      tar.gz; an error if set and unusable
#   2. the offline mirror: $NETBOOT_VENDOR_DIR, default ../shared/vendor beside the repository
#   3. an earlier download, kept in $NETBOOT_SOURCES_CACHE (default
#      ${XDG_CACHE_HOME:-~/.cache}/netboot-sources/)
#   4. upstream: `git fetch --depth 1 URL COMMIT` (git checks every object id) and
#      `git archive` of that commit
# Every copy, local or downloaded, is held to the same digest, and only a verified copy is
# kept: the result is <cache>/<name>-<sha256>.tar, named by its content.
# shellcheck shell=bash

PINNED_SOURCE_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PINNED_SOURCE_CACHE=${NETBOOT_SOURCES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/netboot-sources}

# pinned_source NAME: the pinned trees. Prints the path of the verified tar.
pinned_source() {
  case "$1" in
    ipxe)
      pinned_tar "iPXE v2.0.0" IPXE_TARBALL ipxe-2.0.0.tar.xz https://github.com/ipxe/ipxe \
        12798ec29aa8a64d8675c4378b99f5fe28447afb ipxe-2.0.0 \
        b2bd5df93cbe60a14b3f2ed27b4c79754127c6279fd996c8ef3d1a8db34e69c3 ;;
    storage-testbench)
      pinned_tar "storage-testbench" GCS_TESTBENCH_TARBALL storage-testbench.tar.xz \
        https://github.com/googleapis/storage-testbench \
        e8c85072463f1f8378d850db457df598fdcb17a7 storage-testbench \
        2f73cbeba3bf599ebb9fc7f297d81330c9c39fea66e7e699de4b0c832a1d1b55 ;;
    *) echo "pinned-source: unknown source $1" >&2; return 1 ;;
  esac
}

# pinned_tar LABEL VAR MIRROR_FILE URL COMMIT PREFIX SHA256
pinned_tar() {
  local label=$1 var=$2 mirror_file=$3 url=$4 commit=$5 prefix=$6 want=$7
  local mirror=${NETBOOT_VENDOR_DIR:-$PINNED_SOURCE_REPO/../shared/vendor}/$mirror_file
  local cached=$PINNED_SOURCE_CACHE/$prefix-$want.tar
  mkdir -p "$PINNED_SOURCE_CACHE"
  if [ -n "${!var:-}" ]; then
    [ -f "${!var}" ] || { echo "pinned-source: $var=${!var}: no such file" >&2; return 1; }
    pinned_keep "$label" "$var=${!var}" "${!var}" "$want" "$cached" "$commit" "$prefix" || return 1
  elif [ -f "$mirror" ]; then
    pinned_keep "$label" "$mirror (the offline mirror)" "$mirror" "$want" "$cached" "$commit" "$prefix" || return 1
  elif [ -f "$cached" ] && [ "$(sha256sum <"$cached" | cut -d' ' -f1)" = "$want" ]; then
    :
  else
    # A cached copy altered since it was verified is dropped and fetched again.
    rm -f "$cached"
    local work err
    work=$(mktemp -d "$PINNED_SOURCE_CACHE/fetch.XXXXXX")
    echo "pinned-source: fetching $label ($commit) from $url" >&2
    # tar.umask fixed to git's default: a user's own setting would change the mode bits.
    if ! err=$(git init -q --bare "$work/git" 2>&1 &&
      git --git-dir="$work/git" fetch -q --depth 1 "$url" "$commit" 2>&1 &&
      git --git-dir="$work/git" -c tar.umask=0002 archive --format=tar --prefix="$prefix/" \
        -o "$work/archive.tar" "$commit" 2>&1 &&
      pinned_keep "$label" "$url at $commit" "$work/archive.tar" "$want" "$cached" "$commit" "$prefix" 2>&1); then
      rm -rf "$work"
      {
        echo "pinned-source: no copy of $label to use. Either:"
        echo "  - set $var to a copy (git archive --format=tar --prefix=$prefix/ $commit; tar, tar.xz or tar.gz),"
        echo "  - put $mirror_file in ${mirror%/*} (the offline mirror; NETBOOT_VENDOR_DIR names another), or"
        echo "  - let it be fetched from $url (commit $commit): that failed:"
        printf '%s\n' "$err" | tail -5 | sed 's/^/      /'
      } >&2
      return 1
    fi
    rm -rf "$work"
  fi
  echo "$cached"
}

# pinned_keep LABEL ORIGIN COPY SHA256 CACHED COMMIT PREFIX: decompresses COPY into a
# temporary file beside CACHED and renames it to CACHED only if its digest is SHA256.
pinned_keep() {
  local label=$1 origin=$2 copy=$3 want=$4 cached=$5 commit=$6 prefix=$7 tmp got
  tmp=$(mktemp "$cached.XXXXXX")
  # By the first bytes, not the name: xz, gzip or a plain tar.
  case "$(head -c 6 "$copy" | od -An -tx1 | tr -d ' \n')" in
    fd377a585a00) xz -dc <"$copy" ;;
    1f8b*) gzip -dc <"$copy" ;;
    *) cat "$copy" ;;
  esac >"$tmp" || {
    rm -f "$tmp"
    echo "pinned-source: $origin: cannot decompress it (tar, tar.xz or tar.gz expected)" >&2
    return 1
  }
  got=$(sha256sum <"$tmp" | cut -d' ' -f1)
  if [ "$got" != "$want" ]; then
    rm -f "$tmp"
    {
      echo "pinned-source: refusing $origin: it is not $label (commit $commit)."
      echo "  sha256 of its uncompressed tar: $got"
      echo "  expected (git archive --format=tar --prefix=$prefix/ $commit): $want"
    } >&2
    return 1
  fi
  mv -f "$tmp" "$cached"
}
