"""The Bot Framework adapter and its configuration: the settings turned into what
``ConfigurationBotFrameworkAuthentication`` reads, the checks a single-tenant bot needs, the turn error
handler (a fixed, friendly message; logs carry the error class, never the text), and ``TokenCheck``, which
checks an inbound token before the body is read.

Why our own token check in front of the SDK's: the SDK parses whatever header it is given (``Bearer garbage``
raised a DecodeError, a 500) and fetched signing keys with blocking I/O. ``TokenCheck`` refuses a malformed
token, the wrong algorithm, issuer or audience and an expired token from the token alone, then checks the
signature against keys from ``signing_keys.KeySource`` (never blocking); the SDK's own validation still runs
afterwards (endorsements, the ``serviceurl`` claim) on the same cached keys.

Outbound, the adapter's credentials come from ``app_token.AppTokenFactory``: the bot's own OAuth token is
fetched with aiohttp and a timeout, cached and awaited in the async send, never with the SDK's blocking msal
call on the loop (``UserAssignedMSI`` still uses the SDK's managed-identity factory)."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import jwt
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, ActivityTypes
from botframework.connector.auth import AuthenticationConstants
from msrest.universal_http.requests import ClientRetryPolicy

from bot.channels.teams.app_token import AppTokenFactory, AppTokenSource
from bot.channels.teams.signing_keys import KeySource
from bot.config import Settings
from bot.errors import ConfigError, PolicybotError

__all__ = ["SORRY", "TokenCheck", "Unauthorized", "app_token_source", "make_adapter"]

log = logging.getLogger(__name__)

SORRY = "Sorry, something went wrong on my side. Please try again in a minute."

# msrest (under botframework-connector) builds a ClientRetryPolicy for every outbound request, and its
# constructor tests 999 status codes for membership in a 500-item *list*: ~19 ms of CPU per message sent,
# more than the rest of the edge. The same codes as a frozenset give the same policy at ~0.1 ms. Measured with
# bot/devtools/bench_teams.py; remove with the SDK.
if not isinstance(ClientRetryPolicy.safe_codes, frozenset):
    ClientRetryPolicy.safe_codes = frozenset(ClientRetryPolicy.safe_codes)  # type: ignore[assignment]


class _AuthConfig:
    """The attribute names ConfigurationBotFrameworkAuthentication reads. An empty APP_ID turns auth off."""

    def __init__(self, settings: Settings) -> None:
        password = settings.microsoft_app_password
        self.APP_ID = settings.microsoft_app_id or ""
        self.APP_PASSWORD = password.get_secret_value() if password else ""
        # Without an app id (dev mode) the SDK's single-tenant factory would insist on one; auth is off anyway.
        self.APP_TYPE = settings.microsoft_app_type if self.APP_ID else "MultiTenant"
        self.APP_TENANTID = settings.microsoft_app_tenant_id or ""


async def _on_error(turn_context: TurnContext, error: Exception) -> None:
    """Any failure in a turn: log its class (never the text), tell the person something fixed and friendly."""
    log.error("teams turn %s failed: %s", turn_context.activity.id, type(error).__name__)
    # The traceback only at DEBUG: an exception's message may quote what someone typed.
    log.debug("teams turn %s traceback", turn_context.activity.id, exc_info=error)
    message = str(error) if isinstance(error, PolicybotError) else SORRY
    try:
        await turn_context.send_activity(Activity(type=ActivityTypes.message, text=message))
    except Exception as exc:  # the connector itself may be what failed
        log.warning("could not send the error message: %s", type(exc).__name__)


def app_token_source(settings: Settings) -> AppTokenSource | None:
    """Where the bot's outbound token comes from: None in dev mode (auth off) and for UserAssignedMSI.

    Without a secret (MultiTenant allows it) the token endpoint refuses, and each send fails cleanly then."""
    password = settings.microsoft_app_password
    if not settings.microsoft_app_id or settings.microsoft_app_type == "UserAssignedMSI":
        return None
    single = settings.microsoft_app_type == "SingleTenant"
    return AppTokenSource(
        app_id=settings.microsoft_app_id,
        password=password.get_secret_value() if password else "",
        tenant=(settings.microsoft_app_tenant_id if single else None)
        or AuthenticationConstants.DEFAULT_CHANNEL_AUTH_TENANT,
        login_url=settings.teams_login_url,
        timeout=settings.teams_token_timeout,
    )


def make_adapter(settings: Settings, app_tokens: AppTokenSource | None = None) -> CloudAdapter:
    """The adapter for these settings; a single-tenant bot without its tenant id or secret is a ConfigError.

    Outbound tokens come from ``app_tokens`` (its owner closes it), or from a new ``app_token_source``."""
    if (
        settings.microsoft_app_id
        and settings.microsoft_app_type == "SingleTenant"
        and not (settings.microsoft_app_tenant_id and settings.microsoft_app_password)
    ):
        raise ConfigError(
            "MicrosoftAppType is SingleTenant: set MicrosoftAppTenantId and MicrosoftAppPassword as well as "
            "MicrosoftAppId (see docs/teams.md)."
        )
    factory = None  # UserAssignedMSI: the SDK's own managed-identity factory
    if settings.microsoft_app_type != "UserAssignedMSI" or not settings.microsoft_app_id:
        factory = AppTokenFactory(settings.microsoft_app_id or "", app_tokens or app_token_source(settings))
    adapter = CloudAdapter(
        ConfigurationBotFrameworkAuthentication(_AuthConfig(settings), credentials_factory=factory)
    )
    adapter.on_turn_error = _on_error
    return adapter


#: Tokens from the Bot Framework channel (Teams) are issued by this; emulator and skill tokens are refused.
CHANNEL_ISSUER = AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
#: The clock skew the SDK tolerates (5 minutes).
LEEWAY_SECONDS = 300
_BEARER = re.compile(r"Bearer ([A-Za-z0-9_-]{1,4096}\.[A-Za-z0-9_-]{1,8192}\.[A-Za-z0-9_-]{1,2048})")


class Unauthorized(Exception):
    """A token refused; the message is a fixed class of problem (safe to log), never the token."""


class TokenCheck:
    """Checks ``Authorization: Bearer <JWT>`` for a bot with app id ``app_id``; ``check`` raises Unauthorized.

    Everything that can be decided from the token alone is decided before any key is looked up, so a forged
    token with the wrong issuer, audience or expiry costs no fetch at all."""

    def __init__(self, keys: KeySource, app_id: str, *, issuer: str = CHANNEL_ISSUER) -> None:
        self.keys = keys
        self._app_id = app_id
        self._issuer = issuer

    async def check(self, header: str) -> dict[str, Any]:
        """The verified claims of the token in ``header``."""
        match = _BEARER.fullmatch(header)
        if match is None:
            raise Unauthorized("missing or malformed token" if header else "missing token")
        token = match.group(1)
        try:
            head = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except (jwt.PyJWTError, ValueError, TypeError):
            raise Unauthorized("malformed token") from None
        kid = head.get("kid")
        if head.get("alg") != "RS256" or not isinstance(kid, str):
            raise Unauthorized("unsupported token algorithm or key id")
        if claims.get("iss") != self._issuer:
            raise Unauthorized("wrong issuer")
        audience = claims.get("aud")
        if audience != self._app_id and not (isinstance(audience, list) and self._app_id in audience):
            raise Unauthorized("wrong audience")
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or expires + LEEWAY_SECONDS < time.time():
            raise Unauthorized("expired token")
        key = await self.keys.get(kid)
        if key is None:
            raise Unauthorized("unknown signing key" if self.keys.ready else "signing keys unavailable")
        try:
            verified: dict[str, Any] = jwt.decode(
                token,
                key.public_key,
                algorithms=["RS256"],
                audience=self._app_id,
                issuer=self._issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            raise Unauthorized("invalid token signature or claims") from None
        return verified
