"""Docker config credentials, credential helpers and challenge parsing."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from deadweight.errors import RegistryError
from deadweight.sources.auth import (
    Credentials,
    docker_config_dir,
    load_docker_config,
    lookup_credentials,
    parse_challenge,
    run_credential_helper,
)

SECRET = "s3cr3t-Pa55word"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def write_helper(bindir: Path, name: str, body: str) -> None:
    """A real executable ``docker-credential-NAME`` speaking the helper protocol."""
    path = bindir / f"docker-credential-{name}"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def bindir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "bin"
    d.mkdir()
    monkeypatch.setenv("PATH", f"{d}{os.pathsep}{os.environ['PATH']}")
    return d


def test_parse_bearer_challenge() -> None:
    c = parse_challenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/python:pull"'
    )
    assert c is not None
    assert c.scheme == "bearer"
    assert c.params == {
        "realm": "https://auth.docker.io/token",
        "service": "registry.docker.io",
        "scope": "repository:library/python:pull",
    }


def test_parse_basic_and_escaped_and_garbage() -> None:
    basic = parse_challenge('Basic realm="Registry Realm"')
    assert basic is not None and basic.scheme == "basic" and basic.params["realm"] == "Registry Realm"
    esc = parse_challenge(r'Bearer realm="a\"b", error=insufficient_scope')
    assert esc is not None and esc.params == {"realm": 'a"b', "error": "insufficient_scope"}
    assert parse_challenge("") is None
    assert parse_challenge('"quoted" junk') is None


def test_credentials_repr_hides_secrets() -> None:
    creds = Credentials("bob", SECRET)
    assert SECRET not in repr(creds)
    assert SECRET not in str(creds)
    assert "bob" in repr(creds)
    assert SECRET in creds.secrets()
    assert creds.basic_header() == "Basic " + b64(f"bob:{SECRET}")


def test_config_dir_from_env(tmp_path: Path) -> None:
    assert docker_config_dir({"DOCKER_CONFIG": str(tmp_path)}) == tmp_path
    assert docker_config_dir({}).name == ".docker"


def test_load_config_missing_and_invalid(tmp_path: Path) -> None:
    env = {"DOCKER_CONFIG": str(tmp_path)}
    assert load_docker_config(env) == {}
    (tmp_path / "config.json").write_text('{"auths": {"x": {"auth": "' + SECRET + '"}')  # truncated JSON
    with pytest.raises(RegistryError) as err:
        load_docker_config(env)
    assert "invalid JSON" in str(err.value)
    assert SECRET not in str(err.value)


def test_auths_entry_basic_and_normalised_keys() -> None:
    config = {"auths": {"https://reg.example.com:5000/v1/": {"auth": b64(f"alice:{SECRET}")}}}
    creds = lookup_credentials("reg.example.com:5000", config)
    assert creds == Credentials("alice", SECRET)
    assert lookup_credentials("other.example.com", config) is None


def test_docker_hub_keys() -> None:
    config = {"auths": {"https://index.docker.io/v1/": {"auth": b64("hubuser:pw:with:colons")}}}
    creds = lookup_credentials("docker.io", config)
    assert creds is not None and creds.username == "hubuser" and creds.password == "pw:with:colons"


def test_identity_token_entry() -> None:
    config = {"auths": {"reg.example.com": {"auth": b64("u:"), "identitytoken": "refresh-123"}}}
    creds = lookup_credentials("reg.example.com", config)
    assert creds is not None and creds.identity_token == "refresh-123"
    assert "refresh-123" not in repr(creds)


def test_bad_base64_auth_is_a_clean_error() -> None:
    config = {"auths": {"reg.example.com": {"auth": "bm90LWEtcGFpcg=="}}}  # "not-a-pair"
    with pytest.raises(RegistryError, match="not user:password"):
        lookup_credentials("reg.example.com", config)


def test_cred_helper_per_host(bindir: Path) -> None:
    write_helper(
        bindir,
        "fake",
        'read server\n[ "$1" = get ] || exit 9\n'
        f'printf \'{{"ServerURL":"%s","Username":"helperuser","Secret":"{SECRET}"}}\' "$server"\n',
    )
    config = {"credHelpers": {"reg.example.com": "fake"}, "auths": {"reg.example.com": {"auth": b64("x:y")}}}
    assert lookup_credentials("reg.example.com", config) == Credentials("helperuser", SECRET)


def test_cred_helper_receives_server_url(bindir: Path, tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    write_helper(bindir, "rec", f'cat > "{seen}"\necho \'{{"Username":"u","Secret":"p"}}\'\n')
    assert run_credential_helper("rec", "https://index.docker.io/v1/") == Credentials("u", "p")
    assert seen.read_text() == "https://index.docker.io/v1/"


def test_creds_store_not_found_falls_back_to_auths(bindir: Path) -> None:
    write_helper(bindir, "store", 'echo "credentials not found in native keychain"\nexit 1\n')
    config = {"credsStore": "store", "auths": {"reg.example.com": {"auth": b64("inline:pw")}}}
    assert lookup_credentials("reg.example.com", config) == Credentials("inline", "pw")
    assert lookup_credentials("nothing.example.com", config) is None


def test_helper_identity_token(bindir: Path) -> None:
    write_helper(bindir, "tok", 'echo \'{"Username":"<token>","Secret":"refresh-xyz"}\'\n')
    creds = run_credential_helper("tok", "reg.example.com")
    assert creds == Credentials(identity_token="refresh-xyz")


def test_helper_failure_does_not_leak_output(bindir: Path) -> None:
    write_helper(bindir, "broken", f'echo "oops {SECRET}" >&2\nexit 4\n')
    config = {"credHelpers": {"reg.example.com": "broken"}}
    with pytest.raises(RegistryError) as err:
        lookup_credentials("reg.example.com", config)
    text = str(err.value)
    assert "docker-credential-broken" in text and "exit code 4" in text
    assert SECRET not in text
    assert "\n" not in text


def test_helper_invalid_json_and_missing(bindir: Path) -> None:
    write_helper(bindir, "junk", f'echo "{SECRET} not json"\n')
    with pytest.raises(RegistryError, match="invalid JSON") as err:
        run_credential_helper("junk", "reg.example.com")
    assert SECRET not in str(err.value)
    with pytest.raises(RegistryError, match="not found on PATH"):
        run_credential_helper("does-not-exist-anywhere", "reg.example.com")
    with pytest.raises(RegistryError, match="invalid credential helper name"):
        run_credential_helper("../evil", "reg.example.com")


def test_helper_timeout(bindir: Path) -> None:
    write_helper(bindir, "slow", "exec sleep 30\n")
    with pytest.raises(RegistryError, match="timed out"):
        run_credential_helper("slow", "reg.example.com", timeout=0.3)


def test_lookup_reads_docker_config_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"127.0.0.1:5000": {"auth": b64("a:b")}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert lookup_credentials("127.0.0.1:5000") == Credentials("a", "b")
