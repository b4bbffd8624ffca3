"""Registry credentials and the token dance, the way the docker CLI does them.

Credentials come from the docker client configuration (``$DOCKER_CONFIG/config.json`` or
``~/.docker/config.json``): a per-registry credential helper (``credHelpers``), the global store
(``credsStore``), or an inline ``auths`` entry (base64 ``user:pass`` or an ``identitytoken``). Users
already ran ``docker login``; reading the same file means deadweight needs no login of its own.

Registries challenge with ``WWW-Authenticate``: ``Basic`` (send the credentials) or ``Bearer`` (ask
the realm for a token for one scope, per the distribution token spec, and cache it per scope).

Secrets never leave this module in text: ``Credentials`` hides them in ``repr``, every message is
built from the registry host only, and :meth:`Authenticator.scrub` removes any secret that a server
might echo back before text becomes part of an error.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from deadweight.errors import RegistryError

#: Names under which ``docker login`` stores Docker Hub credentials.
DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")
DOCKER_HUB_HOSTS = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)
#: Server URL handed to credential helpers for Docker Hub (what the docker CLI uses).
DOCKER_HUB_SERVER = "https://index.docker.io/v1/"

HELPER_TIMEOUT = 30.0
#: Tokens without ``expires_in`` live 60 s per the token spec; refresh a little early.
DEFAULT_TOKEN_LIFETIME = 60.0
TOKEN_EXPIRY_MARGIN = 5.0
#: Username a credential helper returns when ``Secret`` is an identity (refresh) token.
IDENTITY_TOKEN_USER = "<token>"


@dataclass(frozen=True)
class Credentials:
    """A username/password pair or an identity token. ``repr`` never shows a secret."""

    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)

    def __repr__(self) -> str:
        kind = "identity token" if self.identity_token else "password"
        return f"Credentials(username={self.username!r}, {kind}=<hidden>)"

    def secrets(self) -> tuple[str, ...]:
        """Every string that must never appear in output (including the encoded Basic header)."""
        out = [s for s in (self.password, self.identity_token) if s]
        if self.password:
            out.append(self.basic_header().removeprefix("Basic "))
        return tuple(out)

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True, slots=True)
class Challenge:
    """One parsed ``WWW-Authenticate`` challenge; ``scheme`` is lower case."""

    scheme: str
    params: Mapping[str, str]


_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


def parse_challenge(header: str) -> Challenge | None:
    """Parse ``Bearer realm="...",service="...",scope="..."`` (or ``Basic realm=...``).

    Returns ``None`` for an empty or unintelligible header. Only the first challenge is used:
    registries send one.
    """
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", scheme):
        return None
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        match = _PARAM.match(rest, pos)
        if not match or match.end() == pos:
            break
        quoted, bare = match.group(2), match.group(3)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else (bare or "")
        params[match.group(1).lower()] = value
        pos = match.end()
    return Challenge(scheme.lower(), params)


_DIGEST_TEXT = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def strip_userinfo(ref: str) -> str:
    """``ref`` without a ``user:password@`` before its host (``[scheme://]user:pw@host/repo``).

    ``name@sha256:...`` is a digest, not userinfo, and is kept.
    """
    url = _URL_SCHEME.match(ref)
    prefix, body = (url.group(0), ref[url.end() :]) if url else ("", ref)
    first, slash, rest = body.partition("/")
    if "@" not in first:
        return ref
    after = first.rsplit("@", 1)[1]
    if not slash and _DIGEST_TEXT.fullmatch(after):
        return ref
    return f"{prefix}{after}{slash}{rest}"


# --------------------------------------------------------------------------- docker config


def docker_config_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$DOCKER_CONFIG`` if set, else ``~/.docker`` (the docker CLI's rule)."""
    env = os.environ if env is None else env
    configured = env.get("DOCKER_CONFIG")
    return Path(configured).expanduser() if configured else Path.home() / ".docker"


def load_docker_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The parsed ``config.json``; ``{}`` when there is none. A broken file is an error."""
    path = docker_config_dir(env) / "config.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise RegistryError(f"docker config {path}: cannot read ({exc.strerror})") from None
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        # The message must not quote the file: it holds secrets.
        raise RegistryError(f"docker config {path}: invalid JSON at line {exc.lineno}") from None
    if not isinstance(data, dict):
        raise RegistryError(f"docker config {path}: expected a JSON object")
    return data


def _normalize_key(key: str) -> str:
    """``https://host:5000/v1/`` -> ``host:5000`` (how the docker CLI matches ``auths`` keys)."""
    key = key.strip()
    key = re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*://", "", key)
    return key.split("/", 1)[0].lower()


def config_keys(host: str) -> tuple[str, ...]:
    """Normalised config keys that may hold credentials for ``host``."""
    if host.lower() in DOCKER_HUB_HOSTS:
        return tuple(dict.fromkeys(_normalize_key(k) for k in DOCKER_HUB_KEYS))
    return (host.lower(),)


def helper_server_url(host: str) -> str:
    """What to write on a credential helper's stdin for ``host``."""
    return DOCKER_HUB_SERVER if host.lower() in DOCKER_HUB_HOSTS else host


def _find_entry(section: Any, host: str) -> Any:
    if not isinstance(section, dict):
        return None
    wanted = config_keys(host)
    for key, value in section.items():
        if isinstance(key, str) and _normalize_key(key) in wanted:
            return value
    return None


def run_credential_helper(name: str, server: str, *, timeout: float = HELPER_TIMEOUT) -> Credentials | None:
    """Run ``docker-credential-<name> get`` with ``server`` on stdin.

    Returns ``None`` when the helper has nothing for that server. Any other failure is a one-line
    ``RegistryError`` naming the helper; the helper's output is not quoted (it may hold secrets).
    """
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise RegistryError(f"docker config: invalid credential helper name {name!r}")
    program = f"docker-credential-{name}"
    who = f"credential helper {program} (for {server})"
    path = shutil.which(program)
    if path is None:
        raise RegistryError(f"{who} not found on PATH")
    try:
        proc = subprocess.run(  # fixed argv; the helper was found on PATH
            [path, "get"],
            input=server.encode(),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RegistryError(f"{who} timed out after {timeout:g}s") from None
    except OSError as exc:
        raise RegistryError(f"{who} could not run: {exc.strerror}") from None
    if proc.returncode != 0:
        text = (proc.stdout + proc.stderr).decode("utf-8", "replace").lower()
        if "credentials not found" in text or "not found in native keychain" in text:
            return None
        raise RegistryError(f"{who} failed with exit code {proc.returncode}")
    try:
        reply = json.loads(proc.stdout)
        username = reply.get("Username", "") or ""
        secret = reply.get("Secret", "") or ""
    except (json.JSONDecodeError, AttributeError):
        raise RegistryError(f"{who} printed invalid JSON") from None
    if not isinstance(username, str) or not isinstance(secret, str):
        raise RegistryError(f"{who} printed invalid JSON")
    if not secret:
        return None
    if username == IDENTITY_TOKEN_USER:
        return Credentials(identity_token=secret)
    return Credentials(username=username, password=secret)


def _from_auths_entry(entry: Any, host: str) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    identity = entry.get("identitytoken")
    encoded = entry.get("auth")
    username = entry.get("username") if isinstance(entry.get("username"), str) else ""
    password = entry.get("password") if isinstance(entry.get("password"), str) else ""
    if isinstance(encoded, str) and encoded:
        try:
            decoded = base64.b64decode(encoded, validate=False).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise RegistryError(f"docker config: the auth entry for {host} is not valid base64") from None
        user, sep, pw = decoded.partition(":")
        if not sep:
            raise RegistryError(f"docker config: the auth entry for {host} is not user:password")
        username, password = user, pw
    if isinstance(identity, str) and identity:
        return Credentials(username=username or "", identity_token=identity)
    if username or password:
        return Credentials(username=username or "", password=password or "")
    return None


def lookup_credentials(
    host: str,
    config: Mapping[str, Any] | None = None,
    *,
    helper: Callable[[str, str], Credentials | None] | None = None,
) -> Credentials | None:
    """Credentials for ``host``, or ``None`` for anonymous access.

    Order (as the docker CLI): ``credHelpers[host]``, then ``credsStore``, then the inline
    ``auths`` entry (also used when the store has nothing for the host).
    """
    config = load_docker_config() if config is None else config
    run = helper or run_credential_helper
    server = helper_server_url(host)
    per_host = _find_entry(config.get("credHelpers"), host)
    if isinstance(per_host, str) and per_host:
        return run(per_host, server)
    store = config.get("credsStore")
    if isinstance(store, str) and store:
        found = run(store, server)
        if found is not None:
            return found
    return _from_auths_entry(_find_entry(config.get("auths"), host), host)


# --------------------------------------------------------------------------- authenticator


@dataclass
class _Token:
    value: str
    deadline: float


Sender = Callable[[httpx.Request], httpx.Response]


class Authenticator:
    """Answers challenges for one registry host and remembers what worked.

    ``send`` performs one request (with whatever retrying the caller wants) and returns a read
    response. Credentials are looked up lazily, once, on the first challenge: anonymous pulls never
    run a credential helper.
    """

    def __init__(
        self,
        host: str,
        send: Sender,
        *,
        credentials: Callable[[], Credentials | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self._send = send
        self._lookup = credentials or (lambda: lookup_credentials(host))
        self._credentials: Credentials | None = None
        self._looked_up = False
        self._tokens: dict[str, _Token] = {}
        self._basic = False
        self._clock = clock

    # -- credentials ------------------------------------------------------------------------

    def credentials(self) -> Credentials | None:
        if not self._looked_up:
            self._credentials = self._lookup()
            self._looked_up = True
        return self._credentials

    @property
    def has_credentials(self) -> bool:
        return self.credentials() is not None

    def scrub(self, text: str) -> str:
        """``text`` with every known secret replaced by ``***`` (defence in depth for messages)."""
        creds = self._credentials
        if creds is not None:
            for secret in creds.secrets():
                text = text.replace(secret, "***")
        for token in self._tokens.values():
            if token.value:
                text = text.replace(token.value, "***")
        return text

    # -- headers ----------------------------------------------------------------------------

    def header(self, scope: str) -> str | None:
        """The ``Authorization`` value to send for ``scope`` now, if any."""
        token = self._tokens.get(scope)
        if token is not None:
            if self._clock() < token.deadline:
                return "Bearer " + token.value
            del self._tokens[scope]
        if self._basic:
            creds = self.credentials()
            if creds is not None and creds.password:
                return creds.basic_header()
        return None

    def answer(self, challenge_header: str, scope: str) -> bool:
        """Handle a 401's ``WWW-Authenticate``; ``True`` when retrying the request may now succeed."""
        challenge = parse_challenge(challenge_header)
        if challenge is None:
            return False
        if challenge.scheme == "basic":
            if self._basic:
                return False  # already sent them: they were refused
            creds = self.credentials()
            if creds is None or not creds.password:
                return False
            self._basic = True
            return True
        if challenge.scheme == "bearer":
            self._tokens.pop(scope, None)
            self._tokens[scope] = self._fetch_token(challenge, scope)
            return True
        return False

    def _fetch_token(self, challenge: Challenge, scope: str) -> _Token:
        realm = challenge.params.get("realm", "")
        try:
            realm_url = httpx.URL(realm)
        except (httpx.InvalidURL, TypeError):
            realm_url = None
        if realm_url is None or realm_url.scheme not in ("http", "https") or not realm_url.host:
            raise RegistryError(f"registry {self.host}: bad token realm in the authentication challenge")
        service = challenge.params.get("service")
        wanted_scope = challenge.params.get("scope") or scope
        creds = self.credentials()
        params: dict[str, str] = {}
        if service:
            params["service"] = service
        if wanted_scope:
            params["scope"] = wanted_scope
        if creds is not None and creds.identity_token:
            form = dict(params, grant_type="refresh_token", refresh_token=creds.identity_token,
                        client_id="deadweight")
            request = httpx.Request("POST", realm_url, data=form)
        else:
            headers = {}
            if creds is not None and (creds.username or creds.password):
                headers["Authorization"] = creds.basic_header()
                params["account"] = creds.username
            request = httpx.Request("GET", realm_url.copy_merge_params(params), headers=headers)
        response = self._send(request)
        where = f"registry {self.host}: token request to {realm_url.host}"
        if response.status_code in (401, 403):
            what = "unauthorized" if response.status_code == 401 else "denied"
            hint = "" if creds is not None else " (no credentials in the docker config; run docker login)"
            raise RegistryError(f"{where}: {what}: HTTP {response.status_code}{hint}")
        if response.status_code != 200:
            raise RegistryError(f"{where}: HTTP {response.status_code}")
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise RegistryError(f"{where}: the answer is not JSON") from None
        value = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(value, str) or not value:
            raise RegistryError(f"{where}: the answer holds no token")
        lifetime = body.get("expires_in")
        seconds = DEFAULT_TOKEN_LIFETIME
        if isinstance(lifetime, int | float) and lifetime > 0:
            seconds = float(lifetime)
        return _Token(value, self._clock() + max(seconds - TOKEN_EXPIRY_MARGIN, 1.0))
