"""CORS for the console: its page comes from the main port and calls each index on the index's own
port (the host in describe_index), which is another origin to the browser.

Only the console's own origins are allowed (the main port under the advertised host, 127.0.0.1,
localhost and [::1]), not `*`: an open server must not be readable and writable by any web page the
user happens to visit. Preflights are answered here, before the API-key check, because a browser
sends them without the key.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_ALLOW_HEADERS = b"api-key, content-type, x-pinecone-api-version, x-request-id"
_ALLOW_METHODS = b"GET, POST, PATCH, DELETE, OPTIONS"


def console_origins(main_url: str, port: int) -> frozenset[str]:
    names = ("127.0.0.1", "localhost", "[::1]")
    return frozenset({main_url.rstrip("/"), *(f"http://{n}:{port}" for n in names)})


class CorsMiddleware:
    def __init__(self, app: ASGIApp, origins: Iterable[str]) -> None:
        self.app = app
        self.origins = frozenset(o.encode() for o in origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = dict(scope["headers"]).get(b"origin")
        if origin is None or origin not in self.origins:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [
                        (b"access-control-allow-origin", origin),
                        (b"access-control-allow-methods", _ALLOW_METHODS),
                        (b"access-control-allow-headers", _ALLOW_HEADERS),
                        (b"access-control-max-age", b"600"),
                        (b"vary", b"origin"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"access-control-allow-origin", origin),
                    (b"access-control-expose-headers", b"x-request-id"),
                    (b"vary", b"origin"),
                ]
            await send(message)

        await self.app(scope, receive, send_with_cors)
