"""The Teams test harness: the real app (create_app + Services with the real assistant) served on 127.0.0.1,
Activities posted to /api/messages the way the Bot Framework posts them, replies caught by a FakeConnector;
and for auth on, a local OpenID metadata + JWKS endpoint (FakeKeys), one that never answers (HangingServer),
and tokens signed the way the Bot Framework channel signs them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientResponse, ClientSession, web

from bot.channels.services import Services
from bot.config import Settings
from bot.server import create_app
from tests.fake_connector import FakeConnector, TeamsUser

__all__ = [
    "AMIRA",
    "APP_ID",
    "BEN",
    "CORPUS_TEXT",
    "HELEN",
    "PRIYA",
    "SAM",
    "FakeKeys",
    "FakeTokenEndpoint",
    "HangingServer",
    "Harness",
    "SigningConnector",
    "new_rsa_key",
    "running_app",
    "secured_settings",
    "token",
    "verbatim",
]

# People from deploy/directory.example.toml (teams_id = their AAD object id).
AMIRA = TeamsUser("Amira Okafor", "773b640e-40d7-505a-bc6c-9e8ac0b1017c")  # headteacher
PRIYA = TeamsUser("Priya Shah", "ad7bfaee-9b99-5ebc-a297-25b6091a9fc7")  # DSL, case administrator
HELEN = TeamsUser("Helen Ward", "5e0d3171-ff29-5bf5-90f4-710b5c682601")  # HR
SAM = TeamsUser("Sam Patel", "b0a3a71a-c06a-5dba-8115-e057a4bfc5e2")  # teaching assistant
BEN = TeamsUser("Ben Taylor", "ea3f9337-b121-5b2e-8653-825189c78ec3")  # teaching assistant

from bot.config import PROJECT_ROOT  # noqa: E402

CORPUS_TEXT = " ".join((PROJECT_ROOT / "policy_corpus" / "social-media-policy.md").read_text().split())


def verbatim(quote: str) -> bool:
    """Every sentence of a quote (joined by " … ") occurs word for word in the policy's text."""

    def norm(text: str) -> str:
        return re.sub(r"[*_`]", "", " ".join(text.split()))

    corpus = norm(CORPUS_TEXT)
    return all(norm(part) in corpus for part in quote.split(" \u2026 ") if part.strip())


@dataclass
class Harness:
    url: str
    http: ClientSession
    connector: FakeConnector
    services: Services

    async def post(self, activity: dict[str, Any], **headers: str) -> ClientResponse:
        response = await self.http.post(
            f"{self.url}/api/messages", json=activity, headers={"Content-Type": "application/json", **headers}
        )
        await response.read()
        return response


@asynccontextmanager
async def running_app(
    settings: Settings, assistant: Any, connector: FakeConnector | None
) -> AsyncIterator[Harness]:
    """The app exactly as `policybot serve` builds it, on a free loopback port; the worker is driven by hand."""
    services = await Services.open(settings, assistant=assistant, start_worker=False)
    runner = web.AppRunner(create_app(settings, services=services), access_log=None)
    try:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        async with ClientSession() as http:
            yield Harness(f"http://127.0.0.1:{port}", http, connector or FakeConnector(), services)
    finally:
        await runner.cleanup()
        await services.close()


# --- signed tokens: a local OpenID metadata + JWKS endpoint, and tokens as the Bot Framework signs them -----

APP_ID = "c9e8c047-2a74-40a2-b28a-b162d5f5327c"
ISSUER = "https://api.botframework.com"


def new_rsa_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class FakeKeys:
    """OpenID metadata at ``metadata_url`` naming a JWKS with ``keys`` (kid -> private key), on 127.0.0.1.

    ``mode`` "ok" serves them, "fail" answers 500; ``hits`` counts requests per path."""

    keys: dict[str, Any]
    endorsements: tuple[str, ...] = ("msteams",)
    mode: str = "ok"
    metadata_url: str = ""
    hits: dict[str, int] | None = None
    _runner: web.AppRunner | None = None

    async def start(self) -> FakeKeys:
        self.hits = {"metadata": 0, "jwks": 0}
        app = web.Application()
        app.router.add_get("/metadata", self._metadata)
        app.router.add_get("/jwks", self._jwks)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        self.metadata_url = f"{self.base}/metadata"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _metadata(self, request: web.Request) -> web.Response:
        assert self.hits is not None
        self.hits["metadata"] += 1
        if self.mode == "fail":
            return web.Response(status=500)
        return web.json_response({"issuer": ISSUER, "jwks_uri": f"{self.base}/jwks"})

    async def _jwks(self, request: web.Request) -> web.Response:
        import json

        from jwt.algorithms import RSAAlgorithm

        assert self.hits is not None
        self.hits["jwks"] += 1
        if self.mode == "fail":
            return web.Response(status=500)
        keys = []
        for kid, private in self.keys.items():
            jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "endorsements": list(self.endorsements)})
        return web.json_response({"keys": keys})


class HangingServer:
    """Accepts connections on 127.0.0.1 and never answers (a key endpoint that hangs)."""

    async def start(self) -> HangingServer:
        import asyncio

        self.connections = 0
        self._writers: list[Any] = []

        async def hold(reader: Any, writer: Any) -> None:
            self.connections += 1
            self._writers.append(writer)

        self._server = await asyncio.start_server(hold, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/metadata"
        return self

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        self._server.close()


def token(
    private_key: Any,
    *,
    kid: str = "key-1",
    service_url: str = "",
    audience: str = APP_ID,
    issuer: str = ISSUER,
    expires_in: float = 3600,
    **extra: Any,
) -> str:
    """A token as the Bot Framework channel signs them (RS256, kid header, serviceurl claim)."""
    import time

    import jwt

    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": audience,
        "serviceurl": service_url,
        "nbf": now - 60,
        "iat": now - 60,
        "exp": int(now + expires_in),
        **extra,
    }
    return jwt.encode(claims, private_key, algorithm="RS256", headers={"kid": kid})


def secured_settings(settings: Settings, metadata_url: str, **extra: Any) -> Settings:
    """Teams with auth on (an app id and secret), keys from ``metadata_url``."""
    from pydantic import SecretStr

    return settings.model_copy(
        update={
            "microsoft_app_id": APP_ID,
            "microsoft_app_tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "microsoft_app_password": SecretStr("not-a-real-secret"),
            "teams_openid_metadata_url": metadata_url,
            **extra,
        }
    )


# --- the bot's own outbound token: a local token endpoint, and a connector that records who signed what ------


@dataclass
class FakeTokenEndpoint:
    """``POST {login_url}/{tenant}/oauth2/v2.0/token`` (client-credentials grant) on 127.0.0.1.

    Answers ``access_token`` (``token-1``, ``token-2``... one per request) valid ``expires_in`` seconds;
    ``requests`` keeps each request's form (so the secret and scope sent can be checked)."""

    expires_in: int = 3600
    login_url: str = ""
    requests: list[dict[str, str]] | None = None
    _runner: web.AppRunner | None = None

    async def start(self) -> FakeTokenEndpoint:
        self.requests = []
        app = web.Application()
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.login_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _token(self, request: web.Request) -> web.Response:
        assert self.requests is not None
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.requests.append({**form, "tenant": request.match_info["tenant"]})
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "ext_expires_in": self.expires_in,
                "access_token": f"token-{len(self.requests)}",
            }
        )


class SigningConnector(FakeConnector):
    """A FakeConnector that also records the ``Authorization`` header of every request, in order."""

    authorizations: list[str]

    async def start(self) -> SigningConnector:
        self.authorizations = []
        await super().start()
        return self

    async def _handle(self, request: web.Request) -> web.Response:
        self.authorizations.append(request.headers.get("Authorization", ""))
        return await super()._handle(request)
