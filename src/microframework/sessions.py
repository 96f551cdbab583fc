"""Sessions: the session classes, the async ``SessionInterface`` and the signed cookie.

Rule: the app is passed in, never read from ``current_app``. A bad cookie is an empty
session, never an error; only writing to the null session (no ``SECRET_KEY``) raises."""

from __future__ import annotations

import functools
import hashlib
import hmac
import zlib
from collections.abc import Awaitable
from collections.abc import MutableMapping
from datetime import datetime
from datetime import timedelta
from datetime import UTC
from typing import Any
from typing import TYPE_CHECKING

from itsdangerous import BadData
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode
from itsdangerous.signer import HMACAlgorithm
from itsdangerous.url_safe import URLSafeSerializerMixin
from werkzeug.datastructures import CallbackDict
from werkzeug.datastructures import Headers
from werkzeug.sansio.response import Response as _SansIOResponse

from ._utils import DONE
from .json.tag import TaggedJSONSerializer

if TYPE_CHECKING:
    from .app import Microframework
    from .wrappers.base import BaseRequestWebsocket
    from .wrappers.response import Response


session_json_serializer = TaggedJSONSerializer()


class SessionMixin(MutableMapping[str, Any]):
    """What every session has besides being a mapping: ``permanent`` and the flags."""

    #: True for a session created on this request.
    new = False
    #: Set on writes, so the interface knows to send the cookie.
    modified = True
    #: Set when a request or websocket uses the session, so the response varies on
    #: ``Cookie`` (by the ``session`` proxy, as Flask 3.1.3 does).
    accessed = False

    @property
    def permanent(self) -> bool:
        """Whether the cookie outlives the browser session (``PERMANENT_SESSION_LIFETIME``)."""
        return bool(self.get("_permanent", False))

    @permanent.setter
    def permanent(self, value: bool) -> None:
        self["_permanent"] = bool(value)


class SecureCookieSession(CallbackDict[str, Any], SessionMixin):
    """The default session: a dict that records whether it was written."""

    modified = False
    accessed = False

    def __init__(self, initial: Any = None) -> None:
        # Skip CallbackDict.__init__: storing a callback per instance is 5x slower.
        if initial is None:
            dict.__init__(self)
        else:
            dict.__init__(self, initial)

    def on_update(self, session: Any) -> None:  # called as self.on_update(self)
        # Reads are tracked by the context's proxy, not here (as Flask 3.1.3).
        self.modified = True


class NullSession(SecureCookieSession):
    """The session of an app without ``SECRET_KEY``: readable, empty, not writable."""

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            "The session is unavailable because no secret key was set. Set the"
            " SECRET_KEY config value (app.secret_key) to a long random string."
        )

    __setitem__ = __delitem__ = clear = pop = popitem = update = setdefault = _fail
    __ior__ = _fail  # session |= {...}: a write too, not a silent loss


class SessionInterface:
    """Opens the session for a request and saves it into the response.

    Implement the two async methods in a subclass and set ``app.session_interface``."""

    null_session_class: type[SessionMixin] = NullSession
    pickle_based = False
    #: True if :meth:`open_session` never waits on I/O, so it may run on first use.
    opens_without_waiting = False

    def make_null_session(self, app: Microframework) -> SessionMixin:
        """The stand-in session used when :meth:`open_session` returns ``None``."""
        return self.null_session_class()

    def is_null_session(self, obj: object) -> bool:
        """True if *obj* is a null session (which is never saved)."""
        return isinstance(obj, self.null_session_class)

    def get_cookie_name(self, app: Microframework) -> str:
        return str(app.config["SESSION_COOKIE_NAME"])

    def get_cookie_domain(self, app: Microframework) -> str | None:
        """``SESSION_COOKIE_DOMAIN``, or ``None`` for a host-only cookie."""
        domain = app.config["SESSION_COOKIE_DOMAIN"]
        return str(domain) if domain else None

    def get_cookie_path(self, app: Microframework) -> str:
        """``SESSION_COOKIE_PATH``, falling back to ``APPLICATION_ROOT``."""
        return str(app.config["SESSION_COOKIE_PATH"] or app.config["APPLICATION_ROOT"])

    def get_cookie_httponly(self, app: Microframework) -> bool:
        return bool(app.config["SESSION_COOKIE_HTTPONLY"])

    def get_cookie_secure(self, app: Microframework) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"])

    def get_cookie_samesite(self, app: Microframework) -> str | None:
        samesite = app.config["SESSION_COOKIE_SAMESITE"]
        return None if samesite is None else str(samesite)

    def get_cookie_partitioned(self, app: Microframework) -> bool:
        return bool(app.config.get("SESSION_COOKIE_PARTITIONED", False))

    def get_expiration_time(
        self, app: Microframework, session: SessionMixin
    ) -> datetime | None:
        """When a permanent session's cookie expires; ``None`` for a browser session."""
        if not session.permanent:
            return None
        return datetime.now(UTC) + _lifetime(app)

    def should_set_cookie(self, app: Microframework, session: SessionMixin) -> bool:
        """Send the cookie if the session changed, or to refresh a permanent one."""
        return session.modified or (
            session.permanent and bool(app.config["SESSION_REFRESH_EACH_REQUEST"])
        )

    async def open_session(
        self, app: Microframework, request: BaseRequestWebsocket
    ) -> SessionMixin | None:
        """The session for *request*, or ``None`` to use the null session."""
        raise NotImplementedError

    async def save_session(
        self, app: Microframework, session: SessionMixin, response: Response | None
    ) -> None:
        """Write *session* into *response* (after the ``after_request`` functions).

        *response* is ``None`` for an accepted websocket: no cookie can be set."""
        raise NotImplementedError


def _lifetime(app: Microframework) -> timedelta:
    return as_lifetime(app.config["PERMANENT_SESSION_LIFETIME"])


def as_lifetime(value: Any) -> timedelta:
    """``PERMANENT_SESSION_LIFETIME`` as a timedelta (Flask also takes seconds)."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    raise TypeError(
        "PERMANENT_SESSION_LIFETIME must be a timedelta or a number of seconds,"
        f" not {type(value).__name__}"
    )


def _key_bytes(key: object, name: str) -> bytes:
    if isinstance(key, str):
        return key.encode()
    if isinstance(key, bytes):
        return key
    raise TypeError(f"{name} must hold str or bytes keys, not {type(key).__name__}")


class _OneShotHMAC(HMACAlgorithm):
    """itsdangerous's HMAC in one call: ``hmac.digest`` is ``hmac.new(...).digest()``
    (the same bytes) without the ``HMAC`` object's five Python calls."""

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return hmac.digest(key, value, self.digest_method)


class _Serializer(URLSafeTimedSerializer):
    """Keeps its signers, each deriving a key once: two HMACs a request fewer."""

    def dump_payload(self, obj: Any) -> bytes:
        """itsdangerous's format ("." and zlib when shorter), with a cookie-sized
        compressor: ``zlib.compress`` zeroes a 64 KiB hash table each call. memLevel 6
        zeroes 16 KiB and still holds 4,095 symbols a block, so a cookie-sized payload
        is one block, as with ``zlib.compress`` (memLevel 1 starts a block, with its own
        Huffman tables, every 127 symbols: a 3 KB session grew by a quarter)."""
        data = super(URLSafeSerializerMixin, self).dump_payload(obj)
        packer = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS, 6)
        packed = packer.compress(data) + packer.flush()
        if len(packed) < len(data) - 1:
            return b"." + base64_encode(packed)
        return base64_encode(data)

    def make_signer(self, salt: str | bytes | None = None) -> Any:
        made: dict[Any, Any] = self.__dict__.setdefault("_made", {})
        if (signer := made.get(salt)) is None:  # itsdangerous makes one a call
            signer = super().make_signer(salt)  # (a signer holds no state)
            if type(signer.algorithm) is HMACAlgorithm:
                signer.algorithm = _OneShotHMAC(signer.algorithm.digest_method)
            if len(made) < 8:  # a few salts (the caller's), each a few keys
                derive = functools.lru_cache(maxsize=8)(signer.derive_key)
                signer.derive_key = derive  # type: ignore[method-assign]
                made[salt] = signer
        return signer


_VARY = _SansIOResponse.vary


def _vary_on_cookie(response: Response) -> None:
    """``response.vary.add("Cookie")``, which without a ``Vary`` yet (the common case)
    raises and catches a KeyError and sets the header through a callback: the same
    ``("Vary", "Cookie")`` is appended here instead."""
    headers = response.headers
    if headers.__class__ is Headers and type(response).vary is _VARY:
        for key, _ in headers._list:
            if key.lower() == "vary":
                break
        else:
            headers._list.append(("Vary", "Cookie"))
            return
    response.vary.add("Cookie")


def opens_at_once(interface: SessionInterface) -> bool:
    """*interface*'s ``opens_without_waiting``, unless an ``open_session`` of its own
    comes without its own word on it: a subclass of the cookie interface whose
    ``open_session`` may wait (as a Quart port's) then opens before each view."""
    for namespace in (
        getattr(interface, "__dict__", {}),
        *map(vars, type(interface).__mro__),
    ):
        if "opens_without_waiting" in namespace:
            return bool(namespace["opens_without_waiting"])
        if "open_session" in namespace:
            return False
    return False


def saves_its_own_way(interface: SessionInterface) -> bool:
    """True if *interface* saves as a subclass says (``save_session`` or
    ``should_set_cookie`` of its own): Flask calls it after every request."""
    cls = type(interface)
    return (
        cls.save_session is not SecureCookieSessionInterface.save_session
        or cls.should_set_cookie is not SessionInterface.should_set_cookie
        or has_own_signer(interface)  # its key need not be SECRET_KEY: ask it each time
        or not {"save_session", "should_set_cookie"}.isdisjoint(
            getattr(interface, "__dict__", ())
        )
    )


def has_own_signer(interface: object) -> bool:
    """A ``get_signing_serializer`` not the cookie interface's: Flask and Quart ask it,
    not ``SECRET_KEY``, whether there is a session."""
    if "get_signing_serializer" in getattr(interface, "__dict__", ()):
        return True  # given on the instance (mock.patch.object, an assignment)
    # Read on the class, against the original: a mock patched there has no __func__.
    own = getattr(type(interface), "get_signing_serializer", None)
    return own is not None and own is not _COOKIE_SIGNER


class SecureCookieSessionInterface(SessionInterface):
    """Keeps the session in a cookie signed with ``SECRET_KEY`` (readable, not secret).

    Keys in ``SECRET_KEY_FALLBACKS`` still verify; the next save re-signs the cookie."""

    opens_without_waiting = True  # it only reads and verifies a cookie
    salt = "cookie-session"
    digest_method = staticmethod(hashlib.sha1)
    key_derivation = "hmac"
    serializer: Any = session_json_serializer
    session_class: type[SecureCookieSession] = SecureCookieSession

    _cached: tuple[tuple[Any, ...], URLSafeTimedSerializer] | None = None

    def get_signing_serializer(
        self, app: Microframework
    ) -> URLSafeTimedSerializer | None:
        """The serializer for the app's keys, or ``None`` without ``SECRET_KEY``."""
        secret_key = app.config["SECRET_KEY"]
        if not secret_key:
            return None
        fallbacks = app.config.get("SECRET_KEY_FALLBACKS") or ()
        if isinstance(fallbacks, (str, bytes)):  # one key, not its characters
            fallbacks = (fallbacks,)
        # Building one costs microseconds: reuse it while the keys are unchanged, and
        # what it signs with (Flask builds one each time: a new salt takes at once).
        how = (self.salt, self.serializer, self.key_derivation, self.digest_method)
        cache_key = (*how, secret_key, *fallbacks)
        cached = self._cached
        if cached is not None and cached[0] == cache_key:
            return cached[1]
        # itsdangerous signs with the last key and verifies with all of them.
        keys = [_key_bytes(key, "SECRET_KEY_FALLBACKS") for key in fallbacks]
        keys.append(_key_bytes(secret_key, "SECRET_KEY"))
        signer = _Serializer(
            keys,
            salt=self.salt,
            serializer=self.serializer,
            signer_kwargs={
                "key_derivation": self.key_derivation,
                "digest_method": self.digest_method,
            },
        )
        self._cached = (cache_key, signer)
        return signer

    def _cookie_options(self, app: Microframework) -> dict[str, Any]:
        return {
            "domain": self.get_cookie_domain(app),
            "path": self.get_cookie_path(app),
            "secure": self.get_cookie_secure(app),
            "httponly": self.get_cookie_httponly(app),
            "samesite": self.get_cookie_samesite(app),
            "partitioned": self.get_cookie_partitioned(app),
        }

    async def open_session(
        self, app: Microframework, request: BaseRequestWebsocket
    ) -> SecureCookieSession | None:
        own_signer = has_own_signer(self)
        if not (app.config["SECRET_KEY"] or own_signer):
            return None
        cookies, name = request.cookies, self.get_cookie_name(app)
        # Not .get(): without the cookie, werkzeug's raises and catches a KeyError.
        value = cookies[name] if name in cookies else None
        if not value and not own_signer:
            return self.session_class()  # the common case: no key work at all
        signer = self.get_signing_serializer(app)
        if signer is None:  # (an own signer's None: no session, as in Flask)
            return None
        if not value:
            return self.session_class()
        max_age = int(_lifetime(app).total_seconds())
        try:
            data = signer.loads(value, max_age=max_age)
        except BadData:
            # Tampered, expired, retired key, or undecodable (wrapped in BadPayload).
            return self.session_class()
        if not isinstance(data, dict):
            return self.session_class()
        return self.session_class(data)

    def save_session(  # type: ignore[override] # an awaitable, not a coroutine
        self, app: Microframework, session: SessionMixin, response: Response | None
    ) -> Awaitable[None]:
        """Set or delete the cookie, at once (no I/O). What it returns may be awaited,
        so a plain ``def`` override's ``super().save_session(...)`` (Flask's) saves as
        an ``async`` one's ``await super().save_session(...)`` (Quart's) does."""
        self._save(app, session, response)
        return DONE

    def _save(
        self, app: Microframework, session: SessionMixin, response: Response | None
    ) -> None:
        if response is None:
            if session.modified:
                app.logger.warning(
                    "The session was changed during an accepted websocket; a cookie"
                    " cannot be set any more, so the change is lost"
                )
            return
        if accessed := session.accessed:  # Vary once: each .vary parses the header
            _vary_on_cookie(response)
        if not session:
            if session.modified:
                response.delete_cookie(
                    self.get_cookie_name(app), **self._cookie_options(app)
                )
                if not accessed:
                    _vary_on_cookie(response)
            return
        if not self.should_set_cookie(app, session):
            return
        signer = self.get_signing_serializer(app)
        if signer is None:
            return
        response.set_cookie(
            self.get_cookie_name(app),
            signer.dumps(dict(session)),
            expires=self.get_expiration_time(app, session),
            **self._cookie_options(app),
        )
        if not accessed:
            _vary_on_cookie(response)


_COOKIE_SIGNER = (
    SecureCookieSessionInterface.get_signing_serializer
)  # see has_own_signer
