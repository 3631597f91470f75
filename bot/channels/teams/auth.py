"""The Bot Framework adapter and its configuration: the settings turned into what
``ConfigurationBotFrameworkAuthentication`` reads, the checks a single-tenant bot needs, and the turn error
handler (a fixed, friendly message; logs carry the error class, never the text)."""

from __future__ import annotations

import logging

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, ActivityTypes
from msrest.universal_http.requests import ClientRetryPolicy

from bot.config import Settings
from bot.errors import ConfigError, PolicybotError

__all__ = ["SORRY", "make_adapter"]

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


def make_adapter(settings: Settings) -> CloudAdapter:
    """The adapter for these settings; a single-tenant bot without its tenant id or secret is a ConfigError."""
    if (
        settings.microsoft_app_id
        and settings.microsoft_app_type == "SingleTenant"
        and not (settings.microsoft_app_tenant_id and settings.microsoft_app_password)
    ):
        raise ConfigError(
            "MicrosoftAppType is SingleTenant: set MicrosoftAppTenantId and MicrosoftAppPassword as well as "
            "MicrosoftAppId (see docs/teams.md)."
        )
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(_AuthConfig(settings)))
    adapter.on_turn_error = _on_error
    return adapter
