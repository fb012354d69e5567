"""Small pieces of k3s's protocol and configuration the stand-in copies."""

from __future__ import annotations

import hashlib

from k3s_standin import nodeconfig, nodeobject, supervisorclient
from k3s_standin.layout import Layout


def test_tokens_parse_like_clientaccess() -> None:
    full = supervisorclient.Token.parse("K10abc::server:s3cret")
    assert (full.ca_hash, full.username, full.password) == ("abc", "server", "s3cret")
    bare = supervisorclient.Token.parse("s3cret\n")
    assert (bare.ca_hash, bare.username, bare.password) == ("", "node", "s3cret")
    written = supervisorclient.server_token(b"PEM", "pw")
    assert written == f"K10{hashlib.sha256(b'PEM').hexdigest()}::server:pw"


def test_split_cert_key_keeps_the_chain_and_the_key_apart() -> None:
    body = (
        b"-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n"
        b"-----BEGIN CERTIFICATE-----\nBBB\n-----END CERTIFICATE-----\n"
        b"-----BEGIN EC PRIVATE KEY-----\nKKK\n-----END EC PRIVATE KEY-----\n"
    )
    certs, key = supervisorclient.split_cert_key(body)
    assert certs.count(b"BEGIN CERTIFICATE") == 2
    assert key == b"-----BEGIN EC PRIVATE KEY-----\nKKK\n-----END EC PRIVATE KEY-----\n"


def test_node_taints_parse_like_k3s() -> None:
    assert nodeobject.taints(("CriticalAddonsOnly=true:NoExecute", "dedicated:NoSchedule")) == [
        {"key": "CriticalAddonsOnly", "value": "true", "effect": "NoExecute"},
        {"key": "dedicated", "effect": "NoSchedule"},
    ]


def test_flags_win_over_config_yaml(layout: Layout) -> None:
    layout.etc_dir.mkdir(parents=True)
    layout.config_yaml.write_text(
        "token: from-file\nnode-name: srv\nnode-taint:\n- CriticalAddonsOnly=true:NoExecute\n"
        "tls-san: a.example,10.0.0.9\nsomething-else: kept\n"
    )
    config = nodeconfig.load("server", ["--token", "from-flag"])
    assert config.token == "from-flag"
    assert config.node_name == "srv"
    assert config.node_taints == ("CriticalAddonsOnly=true:NoExecute",)
    assert config.tls_sans == ("a.example", "10.0.0.9")
    assert config.extra == {"something-else": "kept"}
