#!/usr/bin/env bash
# Installs Google's Cloud Storage emulator (googleapis/storage-testbench) into a virtualenv
# outside the repository and prints that venv's python. Idempotent: a second run only
# checks the stamp. Run by .ci/python-deps; the gs:// tests find the venv at the same path
# (runtime/testkit/src/emulators.rs) or at $NETBOOT_GCS_TESTBENCH_PYTHON.
#
# Source: $GCS_TESTBENCH_TARBALL, else ../shared/vendor/storage-testbench.tar.xz beside the
# repository (CI has it), else the upstream repository at the pinned commit (needs
# internet). Its Python dependencies come from PyPI, pinned by its setup.py.
set -euo pipefail
commit=e8c85072463f1f8378d850db457df598fdcb17a7
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
venv=${XDG_CACHE_HOME:-$HOME/.cache}/netboot-testbench/venv
python=${PYTHON:-python3}

if [ -f "$venv/.installed-$commit" ]; then
  echo "$venv/bin/python"
  exit 0
fi
tarball=${GCS_TESTBENCH_TARBALL:-}
if [ -z "$tarball" ]; then
  for candidate in "$repo/../shared/vendor/storage-testbench.tar.xz" /work/shared/vendor/storage-testbench.tar.xz; do
    [ -f "$candidate" ] && { tarball=$candidate; break; }
  done
fi
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv"
if [ -n "$tarball" ]; then
  src=$(mktemp -d)
  trap 'rm -rf "$src"' EXIT
  tar -xJf "$tarball" -C "$src"
  [ -f "$src/storage-testbench/setup.py" ] || { echo "gcs-testbench: $tarball has no storage-testbench/setup.py" >&2; exit 1; }
  spec=$src/storage-testbench
else
  spec="git+https://github.com/googleapis/storage-testbench@$commit"
fi
echo "gcs-testbench: installing from ${tarball:-$spec} into $venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check "$spec" >&2
touch "$venv/.installed-$commit"
echo "$venv/bin/python"
