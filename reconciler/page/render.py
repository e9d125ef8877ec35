"""HTML from the page's templates: Jinja2 with autoescape, a nonce per response, and a CSP.

Every value a template prints passes through :func:`shown` (Jinja's ``finalize``) and then
Jinja's HTML escaping: a prompt or a target's error that holds ``<script>`` is text on the page.
The Content-Security-Policy allows only the page's own inline script and style, by a nonce
drawn for each response: no inline event handler, no other origin, no form, no frame.
"""

from __future__ import annotations

import secrets
import threading
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from ..display import visible
from ..secrets import scrub
from .view import TONE

if TYPE_CHECKING:
    import jinja2

#: How a change's severity reads (the word always stands beside the colour).
SEVERITY_TONE = {"breaking": "bad", "behavioral": "warn", "compatible": "info", "cosmetic": "dim"}

#: (HTTP status, body, headers): what the daemon's server sends for a page.
Response = tuple[int, bytes, dict[str, str]]

_lock = threading.Lock()
_environment: jinja2.Environment | None = None


def shown(value: Any) -> Any:
    """What a template prints: text with every known secret masked (design §11: the page is
    an output path too) and bidirectional controls shown escaped, then escaped by autoescape."""
    if isinstance(value, str) and not hasattr(value, "__html__"):
        return scrub(visible(value))
    return value


def environment() -> jinja2.Environment:
    """The templates' environment, made once (Jinja2 is imported here, on the first page)."""
    global _environment
    with _lock:
        if _environment is None:
            import jinja2

            _environment = jinja2.Environment(
                loader=jinja2.PackageLoader("reconciler.page", "templates"),
                autoescape=True,
                finalize=shown,
                undefined=jinja2.StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
            )
            _environment.globals.update(tones=TONE, severities=SEVERITY_TONE)
        return _environment


def csp(nonce: str) -> str:
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src 'nonce-{nonce}'",
            f"style-src 'nonce-{nonce}'",
            "img-src data:",  # the blank favicon, so the browser asks for no /favicon.ico
            "connect-src 'self'",  # the refresh fetches the page again
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


def page(template: str, status: int = HTTPStatus.OK, **context: Any) -> Response:
    """Render ``template`` with ``context`` under a fresh nonce."""
    nonce = secrets.token_urlsafe(18)
    body = environment().get_template(template).render(nonce=nonce, **context)
    headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": csp(nonce),
    }
    return int(status), body.encode("utf-8"), headers
