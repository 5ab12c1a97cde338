# Sourced by scripts/test.sh: the webhook tests verify our signatures with the independent
# `standardwebhooks` package from PyPI, in a virtualenv under target/ (the tests create it
# themselves when it is missing; doing it here first keeps that out of the test run).

ensure_webhook_verifier() {
    local venv=target/webhook-verifier
    if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import standardwebhooks" 2>/dev/null; then
        return
    fi
    if ! python3 -m venv --help >/dev/null 2>&1; then
        echo "installing python3-venv (Debian package)" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq python3 python3-venv >/dev/null
    fi
    echo "installing standardwebhooks into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check standardwebhooks
}

# The Stripe end-to-end test drives `localstripe` (a fake Stripe server from PyPI, pinned) in
# its own virtualenv under target/ (the test creates it itself when it is missing).
LOCALSTRIPE_VERSION=1.15.10

ensure_localstripe() {
    local venv=target/localstripe
    if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import localstripe" 2>/dev/null \
        && "$venv/bin/pip" show localstripe 2>/dev/null | grep -qx "Version: $LOCALSTRIPE_VERSION"; then
        return
    fi
    ensure_webhook_verifier # installs python3-venv when missing
    echo "installing localstripe $LOCALSTRIPE_VERSION into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "localstripe==$LOCALSTRIPE_VERSION"
}
