"""The bot's own OAuth token for outbound calls (replies, proactive notices): fetched off the event loop, with a
timeout, cached until shortly before it expires, one fetch shared by everyone waiting.

Why not the SDK's: botframework-connector's ``MicrosoftAppCredentials.get_access_token`` calls msal's
``ConfidentialClientApplication.acquire_token_for_client`` (a blocking ``requests`` POST to
login.microsoftonline.com) from ``signed_session``, which msrest's ``AsyncRequestsCredentialsPolicy`` calls
synchronously inside the async send of every connector request: a hung login endpoint froze the whole server.

The seam: ``ConfigurationBotFrameworkAuthentication`` takes a ``credentials_factory``; ours hands every new
connector client an ``AppTokenCredentials``, which is both the SDK's ``AppCredentials`` and an msrest
``AsyncHTTPPolicy``. msrest puts a credentials object that is an ``AsyncHTTPPolicy`` into the pipeline as is
(``ServiceClientAsync._create_default_pipeline``), so the token is awaited from ``AppTokenSource`` (aiohttp,
client-credentials grant) in the async send and the synchronous ``signed_session`` is never on that path. Any
other synchronous caller gets the cached token or ``TokenUnavailable`` at once, never a blocking fetch.

A failure (timeout, status, malformed answer) is ``TokenUnavailable``, a ``ClientRequestError``: the
notifier's "retry later", the handler's "could not send"; it is remembered for ``retry_seconds`` so a turn's
error message does not wait a second timeout. Logs name the class of problem, never the secret or the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from botframework.connector.auth import (
    AppCredentials,
    MicrosoftAppCredentials,
    ServiceClientCredentialsFactory,
)
from msrest.exceptions import ClientRequestError
from msrest.pipeline import Request, Response
from msrest.pipeline.async_abc import AsyncHTTPPolicy

from bot.channels.teams.signing_keys import read_json

__all__ = ["AppTokenCredentials", "AppTokenFactory", "AppTokenSource", "TokenUnavailable"]

log = logging.getLogger(__name__)

#: A token answer is a few KB; anything far bigger is not one.
MAX_ANSWER_BYTES = 64 * 1024
#: A cached token is renewed this long before it expires (or at half its life, if that is sooner).
RENEW_BEFORE_SECONDS = 300.0


class TokenUnavailable(ClientRequestError):
    """No token for outbound calls; the message is a fixed class of problem (safe to log)."""


@dataclass
class _Token:
    value: str
    renew_at: float  # after this, a background renewal starts (the token is still served)
    expires_at: float  # after this, callers wait for a fresh one


class AppTokenSource:
    """Client-credentials tokens for ``app_id`` from ``{login_url}/{tenant}/oauth2/v2.0/token``, per scope.

    ``token(scope)`` never blocks the loop: a cached token at once (renewed in the background near its end),
    otherwise the one shared fetch, at most ``timeout`` seconds; while a failure is remembered it raises at
    once. ``fetches`` and ``failures`` count attempts (for tests and ops)."""

    def __init__(
        self,
        *,
        app_id: str,
        password: str,
        tenant: str,
        login_url: str,
        timeout: float,
        retry_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app_id = app_id
        self.tenant = tenant
        self.url = f"{login_url.rstrip('/')}/{tenant}/oauth2/v2.0/token"
        self._password = password
        self._timeout_seconds = timeout
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=timeout, sock_read=timeout)
        self._retry = retry_seconds
        self._clock = clock
        self._tokens: dict[str, _Token] = {}
        self._failed_until: dict[str, float] = {}
        self._inflight: dict[str, asyncio.Task[str]] = {}
        self._session: aiohttp.ClientSession | None = None
        self.fetches = 0
        self.failures = 0

    async def close(self) -> None:
        for task in list(self._inflight.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._inflight.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def cached(self, scope: str) -> str | None:
        """The cached, unexpired token for ``scope``, or None. Never fetches."""
        token = self._tokens.get(_scope(scope))
        return token.value if token is not None and self._clock() < token.expires_at else None

    async def token(self, scope: str) -> str:
        """A valid token for ``scope``; raises TokenUnavailable. Never blocks the loop."""
        scope = _scope(scope)
        now = self._clock()
        cached = self._tokens.get(scope)
        if cached is not None and now < cached.expires_at:
            if now >= cached.renew_at and now >= self._failed_until.get(scope, 0.0):
                self._start(scope)  # renew in the background; this caller keeps the current token
            return cached.value
        if now < self._failed_until.get(scope, 0.0):
            raise TokenUnavailable("token endpoint failed recently")
        return await asyncio.shield(self._start(scope))

    def _start(self, scope: str) -> asyncio.Task[str]:
        """Join the fetch in flight for ``scope`` or start one (a cancelled waiter does not cancel it)."""
        task = self._inflight.get(scope)
        if task is None or task.done():
            task = asyncio.create_task(self._fetch(scope), name="teams-app-token")
            task.add_done_callback(_consume)
            self._inflight[scope] = task
        return task

    async def _fetch(self, scope: str) -> str:
        self.fetches += 1
        try:
            async with asyncio.timeout(self._timeout_seconds):
                answer = await self._post(scope)
            value, lifetime = _parse(answer)
        except Exception as exc:  # network, timeout, status, JSON: all mean "no token"
            self.failures += 1
            self._failed_until[scope] = self._clock() + self._retry
            problem = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            log.warning("teams app token: fetch failed (%s); retrying after %.0fs", problem, self._retry)
            raise TokenUnavailable(f"token endpoint: {problem}") from None
        now = self._clock()
        margin = min(RENEW_BEFORE_SECONDS, lifetime / 2)
        self._tokens[scope] = _Token(value, now + lifetime - margin, now + lifetime - min(60.0, margin))
        self._failed_until.pop(scope, None)
        log.info("teams app token: fetched (valid %.0fs)", lifetime)
        return value

    async def _post(self, scope: str) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        form = {
            "grant_type": "client_credentials",
            "client_id": self.app_id,
            "client_secret": self._password,
            "scope": scope,
        }
        async with self._session.post(self.url, data=form, allow_redirects=False) as response:
            return await read_json(response, MAX_ANSWER_BYTES)


def _scope(scope: str) -> str:
    """The SDK passes an audience ("https://api.botframework.com"); the v2 endpoint wants "<audience>/.default"."""
    return scope if scope.endswith("/.default") else f"{scope.rstrip('/')}/.default"


def _parse(answer: Any) -> tuple[str, float]:
    """The access token and its lifetime in seconds from a token endpoint's JSON answer."""
    if not isinstance(answer, dict):
        raise ValueError("not a JSON object")
    value = answer.get("access_token")
    if not isinstance(value, str) or not value:
        raise ValueError("no access_token")
    try:
        lifetime = float(answer.get("expires_in", 0))
    except (TypeError, ValueError):
        raise ValueError("bad expires_in") from None
    if not 0 < lifetime < 10**7:
        raise ValueError("bad expires_in")
    return value, lifetime


def _consume(task: asyncio.Task[str]) -> None:
    """A background renewal nobody awaited: its failure is already logged; do not warn about it again."""
    if not task.cancelled():
        task.exception()


class AppTokenCredentials(AppCredentials, AsyncHTTPPolicy):
    """The SDK's credentials for one connector client, and the msrest policy that signs its requests.

    One per connector client: msrest links a policy to the next in *its* pipeline (``self.next``)."""

    def __init__(self, source: AppTokenSource, app_id: str, oauth_scope: str) -> None:
        AppCredentials.__init__(
            self, app_id=app_id, channel_auth_tenant=source.tenant, oauth_scope=oauth_scope
        )
        self.next = None
        self._source = source

    async def send(self, request: Request, **kwargs: Any) -> Response:
        token = await self._source.token(self.oauth_scope)
        request.http_request.headers["Authorization"] = f"Bearer {token}"
        assert self.next is not None  # set when msrest builds the pipeline
        return await self.next.send(request, **kwargs)

    def get_access_token(self, force_refresh: bool = False) -> str:
        """For synchronous SDK callers: the cached token, never a fetch (that would block the loop)."""
        token = self._source.cached(self.oauth_scope)
        if token is None:
            raise TokenUnavailable("no cached token (never fetched synchronously)")
        return token


class AppTokenFactory(ServiceClientCredentialsFactory):
    """``ServiceClientCredentialsFactory`` for the bot ``app_id``; its tokens come from ``source``.

    No app id (dev mode) means authentication is off, as in the SDK's own factory. An app id without a
    source (no secret) keeps authentication on; every outbound call then fails with TokenUnavailable."""

    def __init__(self, app_id: str, source: AppTokenSource | None) -> None:
        self.app_id = app_id
        self.source = source

    async def is_valid_app_id(self, app_id: str) -> bool:
        return bool(self.app_id) and app_id == self.app_id

    async def is_authentication_disabled(self) -> bool:
        return not self.app_id

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> AppCredentials:
        if not self.app_id:
            return MicrosoftAppCredentials.empty()  # signs nothing, fetches nothing
        if app_id != self.app_id:
            raise PermissionError("invalid app id")
        if self.source is None:
            raise TokenUnavailable("no app password to get a token with")
        return AppTokenCredentials(self.source, app_id, oauth_scope)
