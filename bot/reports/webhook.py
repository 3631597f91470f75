"""The webhook notifier: POSTs a notice as JSON, signed with HMAC-SHA256 over the exact body bytes.

Headers: ``X-Policybot-Signature: sha256=<hex>`` (recompute over the raw body with the shared secret)
and ``X-Policybot-Delivery: <notice key>`` (stable per case, recipient and event: deduplicate on it).
2xx is delivered; 408, 429, 5xx, timeouts and connection errors are retried by the worker; other 4xx answers
mean the receiver will never accept it (undeliverable).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

import aiohttp

from bot.clock import Clock, SystemClock
from bot.reports.notify import Address, Delivery, DeliveryStatus, Notice

__all__ = ["SIGNATURE_HEADER", "WebhookNotifier", "sign"]

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Policybot-Signature"
DELIVERY_HEADER = "X-Policybot-Delivery"


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class WebhookNotifier:
    """Reaches every address (the receiving system decides how to tell the person)."""

    name = "webhook"

    def __init__(self, url: str, secret: str, *, timeout: float = 10.0, clock: Clock | None = None) -> None:
        self._url = url
        self._secret = secret.encode("utf-8")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._clock = clock or SystemClock()
        self._session: aiohttp.ClientSession | None = None

    def can_reach(self, address: Address) -> bool:
        return True

    def body(self, address: Address, notice: Notice) -> bytes:
        payload = {
            "id": notice.key,
            "event": notice.event.value,
            "reference": notice.reference,
            "category": notice.category.value,
            "text": notice.text,
            "link": notice.link,
            "recipient": {
                "person_id": address.person_id,
                "reporter": address.is_reporter,
                "email": address.email,
                "slack_id": address.slack_id,
                "teams_id": address.teams_id,
            },
            "sent_at": self._clock.now().isoformat(),
        }
        return json.dumps(payload, separators=(",", ":")).encode("utf-8")

    async def send(self, address: Address, notice: Notice) -> Delivery:
        body = self.body(address, notice)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._secret, body),
            DELIVERY_HEADER: notice.key,
        }
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(self._url, data=body, headers=headers) as response:
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.info("webhook %s for %s: %s", notice.key, notice.reference, type(exc).__name__)
            return Delivery(DeliveryStatus.RETRY, type(exc).__name__)
        if 200 <= status < 300:
            return Delivery(DeliveryStatus.DELIVERED, f"http {status}")
        if status in (408, 429) or status >= 500:
            return Delivery(DeliveryStatus.RETRY, f"http {status}")
        return Delivery(DeliveryStatus.UNDELIVERABLE, f"http {status}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
