"""Runs localstripe (the fake Stripe from PyPI) for tests/api/localstripe.rs.

Patched here, in the harness, not in site-packages: localstripe dumps its whole store to the
fixed path /tmp/localstripe.pickle after every request, which concurrent test instances would
share; the tests want a fresh, private store per instance, so it stays in memory.

Usage: python localstripe_run.py --port PORT
"""

import sys

from localstripe import resources, server

resources.Store.dump_to_disk = lambda self: None
sys.argv = [sys.argv[0], "--from-scratch", *sys.argv[1:]]
sys.exit(server.start())
