"""Reading a raw request body with a size limit, so an oversized upload is refused with a clear
413 before it is held in memory."""

from __future__ import annotations

from fastapi import Request

from app.errors import PayloadTooLarge


async def read_limited_body(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"The body is {int(declared)} bytes; the most accepted is {max_bytes} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"The body is larger than {max_bytes} bytes, the most accepted.")
        chunks.append(chunk)
    return b"".join(chunks)
