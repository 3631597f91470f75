"""The Bot Framework's token signing keys: fetched off the event loop, cached, refreshed in the background.

Why not the SDK's own: botframework-connector's ``_OpenIdMetadata`` fetches the OpenID metadata and the JWKS
with a blocking ``requests.get`` (no timeout) inside the event loop, and fetches again on every request after a
failure, so one forged but well-formed token froze the whole server (health checks, Slack acks) for as long as
the key endpoint hung. Here the fetch is aiohttp with connect and read timeouts; every request waiting for keys
shares one fetch; a refresh runs in the background; an unknown key id refetches at most once per ``retry``
period; and a failed fetch is remembered for ``retry`` seconds (a negative cache), so a flood of forged tokens
costs a dictionary lookup. ``install_in_sdk`` puts this source into the SDK's metadata cache too, so no SDK code
path ever does its own blocking fetch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from botframework.connector.auth import AuthenticationConstants
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor
from jwt.algorithms import RSAAlgorithm

__all__ = ["KeySource", "SigningKey", "install_in_sdk"]

log = logging.getLogger(__name__)

#: Neither the metadata nor the key set is anywhere near this; a bigger answer is not a key set.
MAX_DOCUMENT_BYTES = 256 * 1024


@dataclass(frozen=True)
class SigningKey:
    """One published key: what the SDK's ``_OpenIdConfig`` carries (``public_key``, ``endorsements``)."""

    kid: str
    public_key: Any
    endorsements: list[str]


class KeySource:
    """Keys from ``metadata_url`` (OpenID metadata whose ``jwks_uri`` names the key set).

    ``get(kid)`` never blocks the loop and never raises: it answers a cached key, or waits (at most
    ``timeout`` seconds, metadata and key set together) for the one shared fetch, or answers None at once
    while a failure is remembered. ``fetches`` and ``failures`` count attempts (for tests and ops).
    """

    def __init__(
        self,
        metadata_url: str,
        *,
        timeout: float,
        refresh_seconds: float,
        retry_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = metadata_url
        self._timeout_seconds = timeout
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=timeout, sock_read=timeout)
        self._refresh = refresh_seconds
        self._retry = retry_seconds
        self._clock = clock
        self._keys: dict[str, SigningKey] = {}
        self._failed_until = 0.0
        self._last_attempt = -math.inf
        self._inflight: asyncio.Task[bool] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self.fetches = 0
        self.failures = 0

    # --- lifecycle ------------------------------------------------------------------------------------
    async def close(self) -> None:
        for task in (self._refresher, self._inflight):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._refresher = self._inflight = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- lookups --------------------------------------------------------------------------------------
    async def get(self, kid: str) -> SigningKey | None:
        """The key with this id, or None (unknown, or keys unavailable). Never raises, never blocks."""
        key = self._keys.get(kid)
        if key is not None:
            return key
        now = self._clock()
        if now < self._failed_until:
            return None  # negative cache: a recent fetch failed
        if self._keys and now - self._last_attempt < self._retry:
            return None  # keys are fresh and this id is not among them
        await self._fetch_shared()
        return self._keys.get(kid)

    @property
    def ready(self) -> bool:
        return bool(self._keys)

    # --- fetching -------------------------------------------------------------------------------------
    async def _refresh_loop(self) -> None:
        """Keep the keys fresh: every ``refresh`` seconds, or every ``retry`` seconds while fetches fail."""
        while True:
            await asyncio.sleep(self._refresh if self._keys and not self._failed_until else self._retry)
            await self._fetch_shared()

    async def _fetch_shared(self) -> bool:
        """Join the fetch in flight or start one; a cancelled waiter does not cancel the fetch."""
        if self._inflight is None or self._inflight.done():
            self._inflight = asyncio.create_task(self._fetch())
        return await asyncio.shield(self._inflight)

    async def _fetch(self) -> bool:
        """One fetch of metadata and keys. The first (on the first token that needs a key: a server nobody
        calls never fetches) starts the background refresh."""
        self._last_attempt = self._clock()
        self.fetches += 1
        try:
            return await self._load()
        finally:
            if self._refresher is None:
                self._refresher = asyncio.create_task(self._refresh_loop(), name="teams-signing-keys")

    async def _load(self) -> bool:
        try:
            async with asyncio.timeout(self._timeout_seconds):
                metadata = await self._get_json(self.url)
                jwks_uri = metadata.get("jwks_uri") if isinstance(metadata, dict) else None
                if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
                    raise ValueError("no jwks_uri")
                keys = _parse_keys(await self._get_json(jwks_uri))
        except Exception as exc:  # network, timeout, HTTP status, JSON or key format: all mean "no keys"
            self.failures += 1
            self._failed_until = self._clock() + self._retry
            log.warning(
                "teams signing keys: fetch failed (%s); retrying in %.0fs", type(exc).__name__, self._retry
            )
            return False
        self._keys = keys
        self._failed_until = 0.0
        log.info("teams signing keys: %d keys loaded", len(keys))
        return True

    async def _get_json(self, url: str) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        async with self._session.get(url, allow_redirects=False) as response:
            return await read_json(response, MAX_DOCUMENT_BYTES)


async def read_json(response: aiohttp.ClientResponse, limit: int) -> Any:
    """The JSON of a 200 answer of at most ``limit`` bytes; anything else is a ValueError naming the problem
    (never the content: an identity provider's answer may carry a token)."""
    if response.status != 200:
        raise ValueError(f"status {response.status}")
    body = await response.content.read(limit + 1)
    if len(body) > limit:
        raise ValueError("answer too large")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValueError("not JSON") from exc


def _parse_keys(jwks: Any) -> dict[str, SigningKey]:
    """The RSA keys of a JWKS document; entries that are not usable RSA keys are skipped."""
    entries = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(entries, list):
        raise ValueError("no keys")
    keys: dict[str, SigningKey] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str) or entry.get("kty") != "RSA":
            continue
        endorsements = entry.get("endorsements", [])
        if not isinstance(endorsements, list) or not all(isinstance(e, str) for e in endorsements):
            continue
        try:
            public_key = RSAAlgorithm.from_jwk(entry)
        except Exception:  # noqa: S112 - jwt raises several kinds for a bad key; skip it
            continue
        keys[entry["kid"]] = SigningKey(entry["kid"], public_key, list(endorsements))
    if not keys:
        raise ValueError("no usable keys")
    return keys


class _SdkMetadata:
    """What ``JwtTokenExtractor`` expects of its metadata object: ``await get(kid)`` -> key or None."""

    def __init__(self, source: KeySource) -> None:
        self._source = source

    async def get(self, key_id: Any) -> SigningKey | None:
        return await self._source.get(key_id) if isinstance(key_id, str) else None


def install_in_sdk(source: KeySource) -> None:
    """Make the SDK's channel-token validation read keys from ``source`` instead of fetching them itself.

    ``JwtTokenExtractor.metadataCache`` is process-wide and keyed by the SDK's metadata URL, so the most
    recently mounted Teams edge wins (one per process in production)."""
    sdk = _SdkMetadata(source)
    for url in {AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL, source.url}:
        JwtTokenExtractor.metadataCache[url] = sdk
