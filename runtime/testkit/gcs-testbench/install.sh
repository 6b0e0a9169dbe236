#!/usr/bin/env bash
# Installs Google's Cloud Storage emulator (googleapis/storage-testbench) into a virtualenv
# outside the repository and prints that venv's python. Idempotent: a second run only
# checks the stamp. Run by .ci/python-deps; the gs:// tests find the venv at the same path
# (runtime/testkit/src/emulators.rs) or at $NETBOOT_GCS_TESTBENCH_PYTHON.
#
# Source: storage-testbench at commit e8c85072463f1f8378d850db457df598fdcb17a7, from
# $GCS_TESTBENCH_TARBALL, else ../shared/vendor/storage-testbench.tar.xz beside the repository
# (the offline mirror; CI has it), else fetched from its upstream repository; whichever it
# is, held to one pinned sha256 (runtime/testkit/pinned-source.sh). Its Python dependencies
# come from PyPI, pinned by its setup.py.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../pinned-source.sh
source "$here/../pinned-source.sh"
venv=${XDG_CACHE_HOME:-$HOME/.cache}/netboot-testbench/venv
python=${PYTHON:-python3}

tarball=$(pinned_source storage-testbench)
# The stamp names the verified source's digest: another pin means another install.
stamp=$venv/.installed-$(basename "$tarball" .tar)
if [ -f "$stamp" ]; then
  echo "$venv/bin/python"
  exit 0
fi
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv"
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
tar -xf "$tarball" -C "$src"
[ -f "$src/storage-testbench/setup.py" ] || { echo "gcs-testbench: $tarball has no storage-testbench/setup.py" >&2; exit 1; }
echo "gcs-testbench: installing from $tarball into $venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check "$src/storage-testbench" >&2
touch "$stamp"
echo "$venv/bin/python"
