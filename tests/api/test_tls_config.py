"""TLS settings: flags and environment, both-or-neither, and a clear error for files that are not a
certificate and its key. (Serving over TLS is proven end to end in tests/compat/test_tls.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from spruce.api.tls import looks_like_tls, server_context
from spruce.cli import main
from spruce.config import Settings
from spruce.errors import InvalidArgumentError


def test_environment_names_the_files() -> None:
    settings = Settings.from_env({"SPRUCE_TLS_CERT": "/x/cert.pem", "SPRUCE_TLS_KEY": "/x/key.pem"})
    assert settings.server.tls_cert == Path("/x/cert.pem")
    assert settings.server.tls_key == Path("/x/key.pem")
    assert Settings.from_env({}).server.tls_cert is None


def test_cert_without_key_is_a_usage_error(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("not used")
    result = CliRunner().invoke(
        main, ["serve", "--data", str(tmp_path / "d"), "--tls-cert", str(cert)], env={}
    )
    assert result.exit_code == 2
    assert "--tls-cert and --tls-key go together" in result.output


def test_files_that_are_not_a_certificate_say_so(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    key.write_text("nope")
    with pytest.raises(InvalidArgumentError, match="cannot load the TLS certificate"):
        server_context(cert, key)


def test_client_hello_is_recognised() -> None:
    assert looks_like_tls(b"\x16\x03\x01")
    assert not looks_like_tls(b"GET")
    assert not looks_like_tls(b"PRI")
    assert not looks_like_tls(b"")
