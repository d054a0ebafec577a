"""Where ``bandsync sandbox-admin`` finds the sandbox when no ``--url`` is given.

``bandsync sandbox`` records where it serves (its root URL, its certificate after ``--tls``, its
process id) in a file of the user's in the temporary directory, and removes it when it stops; the
admin command reads it back, ignoring a record whose process is gone. ``SANDBOX_PORT`` (the port
``make run`` starts its sandbox on) comes first when set.
"""

from __future__ import annotations

import contextlib
import json
import os
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_URL = "http://127.0.0.1:8100"


@dataclass(frozen=True)
class Target:
    url: str
    ca_cert: str | None = None  # the sandbox's own certificate, to trust for https

    def verify(self) -> ssl.SSLContext | bool:
        return ssl.create_default_context(cafile=self.ca_cert) if self.ca_cert else True


def record_path() -> Path:
    return Path(tempfile.gettempdir()) / f"bandsync-sandbox-{os.getuid()}.json"


def announce(url: str, ca_cert: Path | None) -> Path:
    """Record this process's sandbox as the one ``sandbox-admin`` talks to by default."""
    path = record_path()
    scratch = path.with_suffix(f".{os.getpid()}.tmp")
    record = {"url": url, "ca_cert": str(ca_cert) if ca_cert else None, "pid": os.getpid()}
    scratch.write_text(json.dumps(record) + "\n")
    scratch.replace(path)
    return path


def withdraw(path: Path) -> None:
    """Remove the record if it is still this process's (a later sandbox may have replaced it)."""
    with contextlib.suppress(OSError, ValueError, KeyError):
        if json.loads(path.read_text())["pid"] == os.getpid():
            path.unlink()


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recorded() -> Target | None:
    """The sandbox ``bandsync sandbox`` last started, while its process runs."""
    try:
        record = json.loads(record_path().read_text())
        url, ca_cert = str(record["url"]), record.get("ca_cert")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _alive(record.get("pid")):
        return None
    return Target(url, str(ca_cert) if ca_cert else None)


def admin_target(url: str | None, environ: Mapping[str, str]) -> Target:
    """Where to send admin calls: ``url`` if given, else ``SANDBOX_PORT``, else the recorded sandbox, else
    the default port. The recorded sandbox's certificate is trusted for its own address whichever way
    that address was arrived at."""
    known = recorded()
    port = environ.get("SANDBOX_PORT", "").strip()
    if port and not port.isdigit():
        raise ValueError(f"SANDBOX_PORT must be a port number, not {port!r}")
    if url is None and port:
        url = f"http://127.0.0.1:{port}"
        if known is not None and urlsplit(known.url).port == int(port):
            return known
    if url is None:
        return known or Target(DEFAULT_URL)
    url = url.rstrip("/")
    if known is not None and urlsplit(known.url)[:2] == urlsplit(url)[:2]:
        return Target(url, known.ca_cert)
    return Target(url)
