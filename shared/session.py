"""A browser's session for the HTML pages (the dashboard): the same bearer JWT the API takes,
carried in a cookie once it has been verified.

- `POST /signin` with a JWT (an SSO gateway posts it, or a person pastes it) verifies it with the
  service's verifier and sets it as the `tt_session` cookie: HttpOnly (no script reads it),
  Secure (HTTPS only; browsers treat http://127.0.0.1 and localhost as secure), SameSite=Strict
  (never sent on another site's request, so a page elsewhere cannot make the browser export a
  report), Path=/, expiring with the token. Every request re-verifies it: a rotated-out key or an
  expired token ends the session.
- An `Authorization: Bearer` header still wins, so a gateway that adds the header works as before.

No server-side state: signing out clears the cookie; the token expires as the identity provider set.
"""

from __future__ import annotations

import time

from fastapi import Request, Response

from shared.auth import JwtVerifier, Principal
from shared.problems import Problem

SESSION_COOKIE = "tt_session"


def bearer_or_cookie(request: Request) -> str | None:
    """The token a request carries: its Authorization header first, else its session cookie."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.cookies.get(SESSION_COOKIE) or None


def session_principal(request: Request) -> Principal | None:
    """The verified principal of a browser request, or None (no token, or one that fails)."""
    token = bearer_or_cookie(request)
    if token is None:
        return None
    verifier: JwtVerifier = request.app.state.verifier
    try:
        return verifier.verify(token)
    except Problem:
        return None


def start_session(response: Response, verifier: JwtVerifier, token: str) -> Principal:
    """Verify `token` (raises the 401 Problem if it fails) and set it as the session cookie."""
    principal = verifier.verify(token)
    max_age = max(0, int(float(principal.claims["exp"]) - time.time()))
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, path="/", secure=True, httponly=True,
                        samesite="strict")
    return principal


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
