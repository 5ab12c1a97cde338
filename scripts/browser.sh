# Sourced by scripts/test.sh: the console's browser tests drive Debian's Chromium through
# chromedriver; a fresh machine gets both from the package registry.

ensure_browser() {
    if ! command -v chromedriver >/dev/null 2>&1 || [ ! -x /usr/bin/chromium ]; then
        echo "installing Chromium and chromedriver (Debian packages)" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq chromium chromium-driver >/dev/null
    fi
}
