"""Security headers on every answer, and CORS from the settings.

API answers are JSON that no browser should render, frame or cache: a CSP that allows nothing. The docs
pages (Swagger UI, ReDoc, served with their assets from this app) need their own scripts, styles and
images, so they get a CSP that allows exactly this origin. HSTS is sent only when the client reached us over
https (directly, or through a trusted proxy that says so in X-Forwarded-Proto): on plain http it means
nothing and would only confuse.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from membank.api.client_ip import scope_client
from membank.config import Settings

API_CSP = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI and ReDoc run inline bootstrap scripts and styles, load their bundles and fonts from
# /docs-assets and fetch /openapi.json; ReDoc starts a web worker from a blob.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"
_DOCS_PREFIXES = ("/docs", "/redoc")

_ALWAYS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


def security_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The headers an answer to this request carries (whatever made the answer)."""
    path: str = scope.get("path", "")
    docs = path.startswith(_DOCS_PREFIXES)
    headers = [*_ALWAYS, (b"content-security-policy", (DOCS_CSP if docs else API_CSP).encode())]
    if scope_client(scope).https:
        headers.append((b"strict-transport-security", HSTS.encode()))
    if path.startswith("/api/"):
        headers.append((b"cache-control", b"no-store"))
    return headers


class SecurityHeadersMiddleware:
    """Adds `security_headers` to every answer, replacing a route's own value of the same header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = security_headers(scope)
        names = {name for name, _ in added}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = [*kept, *added]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_cors(app: Starlette, settings: Settings) -> None:
    """CORSMiddleware from the settings; nothing when no origin is allowed (no CORS headers at all)."""
    if not settings.cors_allowed_origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_allowed_origins,
        allow_methods=settings.cors_allowed_methods,
        allow_headers=settings.cors_allowed_headers,
        allow_credentials=settings.cors_allow_credentials,
        max_age=settings.cors_max_age_seconds,
        expose_headers=["X-Request-ID", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining"],
    )
