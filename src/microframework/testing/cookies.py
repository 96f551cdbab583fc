"""The test client's cookie jar: which ``Set-Cookie`` it stores and where it sends them.

As browsers do (RFC 6265 and 6265bis), so that a test passes only where a browser
would keep the cookie.
"""

from __future__ import annotations

import http.cookiejar
import re
from collections.abc import Iterator
from datetime import datetime
from datetime import timedelta
from datetime import UTC
from ipaddress import ip_address

from werkzeug.http import parse_cookie
from werkzeug.http import parse_date
from werkzeug.test import Cookie

_MAX_AGE = re.compile(r"-?[0-9]+")
_MAX_AGE_CAP = 400 * 86400


def trustworthy(host: str) -> bool:
    # Browsers send Secure cookies over plain http to loopback hosts (W3C Secure
    # Contexts 3.2), so the default "localhost" gets them, as from Flask's client.
    return host in ("localhost", "127.0.0.1", "::1") or host.endswith(".localhost")


def suffix_of(domain: str, host: str) -> bool:
    """RFC 6265 5.1.3: *host* is a name under *domain* (an IP address is under none)."""
    if not host.endswith("." + domain):
        return False
    try:
        ip_address(host.strip("[]"))
    except ValueError:
        return True
    return False


def secure_for(scheme: str, host: str) -> bool:
    """Whether a request to *host* gets (and may set) ``Secure`` cookies."""
    return scheme in ("https", "wss") or trustworthy(host)


def sent_to(cookie: Cookie, host: str, path: str, secure: bool) -> bool:
    """RFC 6265 5.4: domain-match, path-match and the Secure flag."""
    if cookie.secure and not secure:
        return False
    if host != cookie.domain and (
        cookie.origin_only or not suffix_of(cookie.domain, host)
    ):
        return False
    if path == cookie.path or cookie.path == "/":
        return True
    mine = cookie.path
    return path.startswith(mine) and (mine.endswith("/") or path[len(mine)] == "/")


class CookieJar(dict[tuple[str, str, str], Cookie]):
    """Cookies keyed by (domain, path, key), as RFC 6265 5.3 stores them."""

    def store(self, cookie: Cookie) -> None:
        self[(cookie.domain, cookie.path, cookie.key)] = cookie
        self.drop_expired()  # an expired Set-Cookie is how a server deletes a cookie

    def header_for(self, host: str, path: str, secure: bool) -> str:
        self.drop_expired()
        matching = [c for c in self.values() if sent_to(c, host, path, secure)]
        matching.sort(key=lambda c: len(c.path), reverse=True)  # RFC 6265 5.4
        return "; ".join(f"{c.key}={c.value}" for c in matching)

    def drop_expired(self) -> None:
        now = datetime.now(UTC)
        for slot, cookie in list(self.items()):
            if cookie.expires is not None and cookie.expires <= now:
                del self[slot]


class CookieJarView:
    """The client's jar as Quart's ``http.cookiejar.CookieJar`` is read and cleared."""

    def __init__(self, jar: CookieJar) -> None:
        self._jar = jar

    def __iter__(self) -> Iterator[http.cookiejar.Cookie]:
        self._jar.drop_expired()
        for c in list(self._jar.values()):
            expires = None if c.expires is None else int(c.expires.timestamp())
            rest = {"HttpOnly": ""} if c.http_only else {}
            yield http.cookiejar.Cookie(
                version=0,
                name=c.key,
                value=c.value,
                port=None,
                port_specified=False,
                domain=c.domain,
                domain_specified=not c.origin_only,
                domain_initial_dot=False,
                path=c.path,
                path_specified=True,
                secure=bool(c.secure),
                expires=expires,
                discard=expires is None,
                comment=None,
                comment_url=None,
                rest=rest,
            )

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def clear(
        self,
        domain: str | None = None,
        path: str | None = None,
        name: str | None = None,
    ) -> None:
        """Remove every cookie, or those of *domain* (and *path*, and *name*)."""
        wanted = (domain, path, name)
        for slot in list(self._jar):  # (domain, path, name)
            if all(w in (None, h) for w, h in zip(wanted, slot, strict=True)):
                del self._jar[slot]


def _seconds(max_age: str) -> int:
    # Past 20 digits it is beyond the cap either way, and int() of over 4300 digits
    # (leading zeros count) is a ValueError.
    digits = max_age.lstrip("-").lstrip("0") or "0"
    if len(digits) > 20:
        return -1 if max_age.startswith("-") else _MAX_AGE_CAP
    return -int(digits) if max_age.startswith("-") else int(digits)


def parse_set_cookie(
    header: str, host: str, request_path: str, secure_origin: bool = True
) -> Cookie | None:
    """Parse a ``Set-Cookie`` value sent by *host* (RFC 6265 5.2); ``None``: ignore,
    as browsers do (RFC 6265bis: prefixes, Secure only from a secure origin)."""
    pair, *attributes = header.split(";")
    key, sep, value = pair.partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not key:
        return None
    expires: datetime | None = None
    max_age: int | None = None
    domain, path, given = "", default_path(request_path), ""
    secure = http_only = False  # bools, as werkzeug's test client's cookies
    same_site: str | None = None
    for attribute in attributes:
        name, _, arg = attribute.partition("=")
        name, arg = name.strip().lower(), arg.strip()
        if name == "expires" and max_age is None:
            # RFC 6265 5.2.1: a date that does not parse is ignored, not a reset.
            expires = parse_date(arg) or expires
        elif name == "max-age" and _MAX_AGE.fullmatch(arg):
            max_age = _seconds(arg)  # it beats Expires; a non-positive one deletes now
            # Capped as browsers do (RFC 6265bis 5.6.2: 400 days), not an OverflowError.
            seconds = min(max(max_age, 0), _MAX_AGE_CAP)
            expires = datetime.now(UTC) + timedelta(seconds=seconds)
        elif name == "domain" and arg:
            domain = arg.lstrip(".").lower()
        elif name == "path":  # the last one wins; an invalid one means the default
            given = arg if arg.startswith("/") else ""
            path = given or default_path(request_path)
        elif name == "secure":
            secure = True
        elif name == "httponly":
            http_only = True
        elif name == "samesite":
            same_site = arg
    if refused(key, host, domain, given, bool(secure), same_site, secure_origin):
        return None
    try:
        decoded = next(iter(parse_cookie(f"{key}={value}").items()), (key, value))
    except UnicodeDecodeError:  # latin-1 text that is not UTF-8: keep it as sent
        decoded = key, value
    return Cookie(
        key=key,
        value=value,
        decoded_key=decoded[0],
        decoded_value=decoded[1],
        expires=expires,
        max_age=max_age,
        domain=domain or host,
        origin_only=not domain,
        path=path,
        secure=secure,
        http_only=http_only,
        same_site=same_site,
    )


def refused(
    key: str,
    host: str,
    domain: str,
    path: str,  # the Path attribute given, or ""
    secure: bool,
    same_site: str | None,
    secure_origin: bool,
) -> bool:
    """Whether browsers refuse to store the cookie (RFC 6265, RFC 6265bis)."""
    if domain and host != domain and not suffix_of(domain, host):
        return True  # RFC 6265 5.3 step 6: a host may not set cookies for another
    if domain and "." not in domain and domain != host:
        return True  # a top-level domain ("com") is a public suffix
    if secure and not secure_origin:
        return True  # RFC 6265bis 5.7 step 14: Secure only from a secure origin
    lowered = key.lower()  # the prefixes are matched ignoring case
    if lowered.startswith("__secure-") and not secure:
        return True  # RFC 6265bis 4.1.3.1
    if lowered.startswith("__host-") and not (secure and not domain and path == "/"):
        return True  # RFC 6265bis 4.1.3.2: Secure, no Domain, an explicit Path=/
    # RFC 6265bis 5.7: SameSite=None needs Secure.
    return not secure and same_site is not None and same_site.lower() == "none"


def default_path(request_path: str) -> str:
    """RFC 6265 5.1.4: the request path up to, not including, its last slash."""
    head = request_path.rpartition("/")[0]
    return head if head.startswith("/") else "/"
