"""Private Samba servers for the self-contained test modules: ``smbkit-testserver --profile NAME
--print-env`` started as a child, its ``SMBKIT_TEST_*`` variables parsed, and stopped by closing its
standard input.

The binary is ``$SMBKIT_TESTSERVER``, else ``<repo>/target/debug/smbkit-testserver``
(``cargo build -p smbkit-testserver``).
"""

import os
import select
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: How long a server may take to print its variables.
START_TIMEOUT = 60.0


def binary():
    """The path of the ``smbkit-testserver`` binary; fails the test when there is none."""
    for c in (os.environ.get("SMBKIT_TESTSERVER"), REPO / "target" / "debug" / "smbkit-testserver"):
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return str(c)
    pytest.fail("smbkit-testserver not found: run `cargo build -p smbkit-testserver` or set SMBKIT_TESTSERVER")


def start(profile):
    """Starts a server of ``profile``; returns ``(process, variables)`` once it listens."""
    return _launch(["--profile", profile, "--print-env"], "SMBKIT_TEST_SERVER_PID")


def start_ad_dc(kerberos_only=True):
    """Starts a Samba AD DC (``smbkit-testserver ad-dc``); returns ``(process, variables)``
    (``SMBKIT_AD_*``) once it serves."""
    args = ["ad-dc", "--print-env"] + (["--kerberos-only"] if kerberos_only else [])
    return _launch(args, "SMBKIT_AD_PID")


def _launch(args, last_key):
    proc = subprocess.Popen(
        [binary()] + args,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    env, buf = {}, b""
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while last_key not in env:
            left = deadline - time.monotonic()
            assert left > 0, "the test server printed nothing in time"
            if not select.select([proc.stdout], [], [], left)[0]:
                continue
            chunk = os.read(proc.stdout.fileno(), 4096)
            assert chunk, "the test server exited: %s" % proc.stderr.read().decode(errors="replace")
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                key, _, value = line.decode().partition("=")
                if len(value) >= 2 and value[0] == value[-1] == "'":
                    value = value[1:-1].replace("'\\''", "'")
                env[key] = value
    except BaseException:
        stop(proc)
        raise
    return proc, env


def stop(proc):
    """Stops a server started by :func:`start` (it removes its files as it goes)."""
    try:
        proc.stdin.close()
        proc.wait(timeout=20)
    except Exception:
        proc.kill()
        proc.wait()


class Servers(object):
    """Servers by profile, each started on first use; :meth:`stop_all` stops them."""

    def __init__(self):
        self.started = {}

    def get(self, profile):
        """The variables of the server of ``profile``, started if need be."""
        if profile not in self.started:
            self.started[profile] = start(profile)
        return self.started[profile][1]

    def stop_all(self):
        for proc, _ in self.started.values():
            stop(proc)
        self.started.clear()
