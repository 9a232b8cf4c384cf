# Sourced by ./labw and ./run-tests: makes .venv match requirements.lock.
# Re-runs only when requirements.lock or pyproject.toml changed (a stamp in .venv).
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${LAB_VENV:-$root/.venv}"
stamp="$venv/.prodml-lab-stamp"
want="$(cat "$root/requirements.lock" "$root/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ ! -x "$venv/bin/lab" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  py=""
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      py="$candidate"; break
    fi
  done
  if [ -z "$py" ]; then
    echo "prodml-lab needs Python 3.11 (python3.11 or python3 on PATH)" >&2
    exit 1
  fi
  echo "setting up $venv from requirements.lock (once; takes about a minute) ..." >&2
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  uv_pin="$(grep -E '^uv==' "$root/requirements.lock")"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$uv_pin"
  "$venv/bin/uv" pip sync --quiet --python "$venv/bin/python" "$root/requirements.lock"
  "$venv/bin/uv" pip install --quiet --python "$venv/bin/python" --no-deps -e "$root"
  echo "$want" > "$stamp"
fi
