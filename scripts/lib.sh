# Shared by scripts/run and scripts/test (sourced, not executed): a ready virtualenv in .venv.
#
# The project is (re)installed only when pyproject.toml changed since the last install,
# so the common case costs a hash, not a pip resolve.

ITR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ITR_ROOT"

VENV="$ITR_ROOT/.venv"
STAMP="$VENV/.itr-pyproject.sha256"

step() {
    printf '\n==> %s\n' "$*"
}

python_ok() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1
}

find_python() {
    local candidate
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

ensure_venv() {
    if [[ ! -x "$VENV/bin/python" ]]; then
        local python
        if ! python="$(find_python)"; then
            echo "error: ITR needs Python 3.11 or newer; none found as python3.13, python3.12," \
                "python3.11 or python3 on PATH." >&2
            exit 1
        fi
        step "creating .venv with $python ($("$python" --version 2>&1))"
        "$python" -m venv "$VENV"
    fi
    if ! python_ok "$VENV/bin/python"; then
        echo "error: .venv runs $("$VENV/bin/python" --version 2>&1); ITR needs Python 3.11+." \
            "Remove .venv and run again." >&2
        exit 1
    fi
    local wanted
    wanted="$("$VENV/bin/python" -c \
        'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' \
        pyproject.toml)"
    if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "$wanted" ]]; then
        step "installing the project into .venv (pyproject.toml changed)"
        PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install --quiet -e '.[dev]'
        echo "$wanted" >"$STAMP"
    fi
}
