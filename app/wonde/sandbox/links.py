"""The addresses an answer gives back: pagination links and the school's ``region``.

A link must lead the client back the way it came: the scheme and host it used (``https`` when the
sandbox serves TLS), or those a proxy in front says it used (``X-Forwarded-Proto`` and
``X-Forwarded-Host``, first value of each; the sandbox trusts them, as it is a test server), and the
path as the client sent it (with or without a trailing slash, ``paths.py``).
"""

from __future__ import annotations

import re

from fastapi import Request

from app.wonde.sandbox.paths import CLIENT_PATH

_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")


def _forwarded(request: Request, header: str) -> str | None:
    value = request.headers.get(header, "").split(",")[0].strip()
    return value or None


def client_scheme(request: Request) -> str:
    """``http`` or ``https``: what the client (or the proxy in front of the sandbox) was called with."""
    proto = (_forwarded(request, "x-forwarded-proto") or "").lower()
    return proto if proto in ("http", "https") else request.url.scheme


def forwarded_host(request: Request) -> str | None:
    """The host (and port) a proxy says the client called, when it says so sensibly."""
    host = _forwarded(request, "x-forwarded-host")
    return host if host is not None and _HOST.match(host) else None


def client_host(request: Request) -> str:
    return forwarded_host(request) or request.url.netloc


def link(request: Request, drop: tuple[str, ...] = (), **params: str | int) -> str:
    """This request's address as the client sees it, with ``params`` set and ``drop`` removed from
    the query (every other query parameter is kept, as Wonde's links keep them)."""
    url = request.url.replace(scheme=client_scheme(request), netloc=client_host(request))
    url = url.replace(path=request.scope.get(CLIENT_PATH, url.path))
    if drop:
        url = url.remove_query_params(drop)
    return str(url.include_query_params(**params))


def region(request: Request, domain: str) -> tuple[str, str]:
    """``region.domain`` and the scheme of ``region.school_url``: the server's own host and port (a
    proxy's, when one forwards), reached with the scheme the client used."""
    return forwarded_host(request) or domain, client_scheme(request)
