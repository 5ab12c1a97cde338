# Sourced by scripts/test.sh: the metrics tests validate /metrics with `promtool check metrics`
# from Debian's `prometheus` package; a fresh machine gets it from the package registry.

ensure_promtool() {
    if ! command -v promtool >/dev/null 2>&1; then
        echo "installing promtool (Debian package prometheus)" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    fi
}
