"""Running the sandbox: in the foreground (the ``bandsync sandbox`` command) or in a background thread
(tests and benchmarks, which then talk to it over real HTTP).

The socket is bound before uvicorn starts so the port is known first: the schools' ``region.domain``
must name the server's own ``host:port``, as a client is meant to take the API address from it.
With ``tls`` (``tls.py``) the server speaks https only, as Wonde does.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from app.wonde.sandbox.api import create_sandbox_app
from app.wonde.sandbox.state import SandboxState
from app.wonde.sandbox.tls import TlsFiles

STARTUP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class SandboxServer:
    """A running sandbox: where it is, and the state it serves (which the caller may change)."""

    state: SandboxState
    host: str
    port: int
    tls: TlsFiles | None = None

    @property
    def domain(self) -> str:
        """What ``region.domain`` says: the host and port a client should call."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host  # noqa: S104 (a bind address, not a bind)
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def root_url(self) -> str:
        return f"{self.scheme}://{self.domain}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1.0"

    @property
    def admin_url(self) -> str:
        return f"{self.root_url}/admin"


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free one. Connections made before uvicorn starts wait in the backlog."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _server(app: ASGIApp, tls: TlsFiles | None = None) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=2,
        ssl_certfile=tls.cert if tls else None,
        ssl_keyfile=tls.key if tls else None,
    )
    return uvicorn.Server(config)


def run_sandbox(
    host: str = "127.0.0.1",
    port: int = 8100,
    state: SandboxState | None = None,
    on_ready: Callable[[SandboxServer], None] | None = None,
    tls: TlsFiles | None = None,
) -> None:
    """Serve the sandbox in the foreground until interrupted; ``on_ready`` runs once the port is open."""
    state = state or SandboxState()
    sock = bind_socket(host, port)
    server = SandboxServer(state, host, sock.getsockname()[1], tls)
    state.domain = server.domain
    if on_ready is not None:
        on_ready(server)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the Ctrl-C it shut down on
        _server(create_sandbox_app(state), tls).run(sockets=[sock])


@contextmanager
def serving(app: ASGIApp, host: str = "127.0.0.1", port: int = 0, tls: TlsFiles | None = None) -> Iterator[int]:
    """Serve any ASGI app from a background thread; yields the port, stops the server on exit."""
    sock = bind_socket(host, port)
    server = _server(app, tls)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="sandbox-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the server thread did not start")
        time.sleep(0.005)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(STARTUP_TIMEOUT_SECONDS)
        sock.close()


@contextmanager
def running_sandbox(
    state: SandboxState | None = None, host: str = "127.0.0.1", port: int = 0, tls: TlsFiles | None = None
) -> Iterator[SandboxServer]:
    """The sandbox on a free port in a background thread, for tests and benchmarks that need real HTTP
    (https with ``tls``)."""
    state = state or SandboxState()
    with serving(create_sandbox_app(state), host, port, tls) as bound:
        server = SandboxServer(state, host, bound, tls)
        state.domain = server.domain
        yield server
