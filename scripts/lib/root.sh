# Sourced by the scripts that need root: `as_root required "$@"` (or
# `as_root optional "$@"`) at the top of a script. As root it returns at once;
# otherwise it re-runs the script through sudo when sudo exists, keeping the
# Rust toolchain reachable (sudo resets PATH and HOME). Without sudo, a
# `required` script stops with a message and an `optional` one goes on
# unprivileged. So the scripts work from a root shell without sudo and from a
# user's shell with it.
as_root() {
    local need=$1
    shift
    if [ "$(id -u)" -eq 0 ]; then
        return 0
    fi
    if command -v sudo >/dev/null 2>&1; then
        echo "$(basename "$0"): not root: running it again through sudo" >&2
        exec sudo env "PATH=$PATH" "RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}" \
            "CARGO_HOME=${CARGO_HOME:-$HOME/.cargo}" "CI=${CI:-}" "$0" "$@"
    fi
    if [ "$need" = required ]; then
        echo "$(basename "$0"): needs root, and sudo is not installed: run it from a root shell" >&2
        exit 1
    fi
    echo "$(basename "$0"): not root and no sudo: the tests that need root skip with a reason" >&2
}
