"""Sign-in and sessions for the web pages: one-time signed links, database sessions, CSRF tokens.

A sign-in link carries (person, next page, expiry, nonce) signed with a key derived from the secret key; it is
short-lived and single use: redeeming it stores the nonce's keyed hash, so every replica refuses it afterwards.
Opening a link only shows a "Continue" button (link previews in Slack or Teams fetch URLs and must not use up
the link); the POST redeems it and starts a new session (a fresh cookie, so a planted one is worthless).

Sessions live in the database (replicas agree); the cookie holds a random token and the table only its keyed
hash. The CSRF token of a session is a keyed hash of its cookie token, so it needs no storage of its own.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.errors import InputError
from bot.storage.crypto import Keys, load_keys
from bot.storage.database import Database
from bot.storage.schema import web_sessions, web_signins_used

__all__ = [
    "COOKIE",
    "Session",
    "SessionStore",
    "SignIn",
    "csrf_token",
    "make_signin_link",
    "make_signin_token",
    "read_signin_token",
    "safe_next",
]

COOKIE = "policybot_session"
_SIGNIN = "web-signin"


@dataclass(frozen=True, slots=True)
class SignIn:
    """What a valid sign-in link says: who, where to go next, until when, and its one-time nonce."""

    person_id: str
    next_path: str
    expires_at: datetime
    nonce: str


def safe_next(path: str | None, default: str = "/cases") -> str:
    """Only paths on this server (no scheme, no ``//host``): a link must never redirect elsewhere."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_signin_token(keys: Keys, person_id: str, next_path: str, expires_at: datetime) -> str:
    payload = {
        "p": person_id,
        "n": safe_next(next_path),
        "e": int(expires_at.timestamp()),
        "x": secrets.token_urlsafe(16),
    }
    body = _b64(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
    return f"{body}.{keys.hash(_SIGNIN, body)}"


def make_signin_link(
    settings: Settings,
    person_id: str,
    next_path: str = "/cases",
    *,
    keys: Keys | None = None,
    clock: Clock | None = None,
    minutes: float | None = None,
) -> str:
    """A one-time, short-lived link that signs ``person_id`` in and opens ``next_path``.

    For the CLI (`policybot cases login`) and the "Open case" buttons of Slack and Teams notices. Pass the
    running database's ``keys`` when you have them; otherwise they are read from the settings. ``minutes``
    overrides ``settings.signin_link_minutes`` (e.g. for a link made when a button is pressed)."""
    keys = keys or load_keys(settings)
    now = (clock or SystemClock()).now()
    expires = now + timedelta(minutes=settings.signin_link_minutes if minutes is None else minutes)
    return f"{settings.base_url}/signin/{make_signin_token(keys, person_id, next_path, expires)}"


def read_signin_token(keys: Keys, token: str, now: datetime) -> SignIn:
    """Check signature and expiry (not use): an InputError with a plain explanation when it fails."""
    body, _, signature = token.partition(".")
    if not body or not hmac.compare_digest(signature.encode(), keys.hash(_SIGNIN, body).encode()):
        raise InputError("This sign-in link is not valid. Ask for a new one.", field="token")
    try:
        data = json.loads(_unb64(body))
        expires = datetime.fromtimestamp(int(data["e"]), tz=now.tzinfo)
        signin = SignIn(str(data["p"]), safe_next(str(data["n"])), expires, str(data["x"]))
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InputError("This sign-in link is not valid. Ask for a new one.", field="token") from None
    if expires <= now:
        raise InputError("This sign-in link has expired. Ask for a new one.", field="token")
    return signin


def csrf_token(keys: Keys, session_token: str) -> str:
    """The CSRF token of a session: derived from its cookie token, so a cross-site page cannot know it."""
    return keys.hash("csrf", session_token)


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    person_id: str | None
    acting_as: str | None
    expires_at: datetime


class SessionStore:
    """Sessions and used sign-in links in the shared database."""

    def __init__(self, db: Database, *, lifetime: timedelta, clock: Clock | None = None) -> None:
        self._db = db
        self._lifetime = lifetime
        self._clock = clock or SystemClock()

    @property
    def keys(self) -> Keys:
        return self._db.keys

    def _hash(self, token: str) -> str:
        return self._db.keys.hash("web-session", token)

    async def create(self, *, person_id: str | None = None, acting_as: str | None = None) -> Session:
        """A new session (and, while we are here, forget expired sessions and sign-in nonces)."""
        now = self._clock.now()
        token = secrets.token_urlsafe(32)
        expires = now + self._lifetime
        async with self._db.transaction() as conn:
            await conn.execute(delete(web_sessions).where(web_sessions.c.expires_at < now))
            await conn.execute(delete(web_signins_used).where(web_signins_used.c.expires_at < now))
            await conn.execute(
                insert(web_sessions).values(
                    id_hash=self._hash(token),
                    person_id=person_id,
                    acting_as=acting_as,
                    created_at=now,
                    expires_at=expires,
                )
            )
        return Session(token, person_id, acting_as, expires)

    async def get(self, token: str | None) -> Session | None:
        if not token or len(token) > 200:
            return None
        async with self._db.transaction() as conn:
            row = (
                await conn.execute(select(web_sessions).where(web_sessions.c.id_hash == self._hash(token)))
            ).one_or_none()
        if row is None or row.expires_at <= self._clock.now():
            return None
        return Session(token, row.person_id, row.acting_as, row.expires_at)

    async def act_as(self, session: Session, person_id: str | None) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                update(web_sessions)
                .where(web_sessions.c.id_hash == self._hash(session.token))
                .values(acting_as=person_id)
            )

    async def end(self, session: Session) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                delete(web_sessions).where(web_sessions.c.id_hash == self._hash(session.token))
            )

    async def redeem(self, signin: SignIn) -> bool:
        """Use up a sign-in link: True the first time on any replica, False ever after."""
        try:
            async with self._db.transaction() as conn:
                await conn.execute(
                    insert(web_signins_used).values(
                        nonce_hash=self._db.keys.hash(_SIGNIN, "nonce", signin.nonce),
                        used_at=self._clock.now(),
                        expires_at=signin.expires_at,
                    )
                )
        except IntegrityError:
            return False
        return True
