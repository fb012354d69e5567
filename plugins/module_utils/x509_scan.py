# Copyright (c) 2026, remedy.k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Node side of ``remedy.k3s.cert_info``: find k3s certificates and ship their DER bytes.

This runs on the managed node, which may have nothing but python3 and a full disk, so it
uses the standard library only and writes nothing. It never parses X.509: it cuts the
certificate blocks out of each file and leaves parsing to the controller
(``x509_status``). Private keys never leave the node: ``*.key`` files are never opened,
``tls.key`` and ``client-key-data`` are never looked at, and a file that holds a key
where a certificate should be yields an error naming the PEM label, never its bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Callable, Iterator
from typing import Any

DEFAULT_DATA_DIR = "/var/lib/rancher/k3s"
DEFAULT_KUBECONFIGS = ("/etc/rancher/k3s/k3s.yaml",)


def argument_spec() -> dict[str, dict[str, Any]]:
    """The options of ``remedy.k3s.cert_info``, shared by the module and its action plugin."""
    return {
        "data_dir": {"type": "path", "default": DEFAULT_DATA_DIR},
        "kubeconfigs": {"type": "list", "elements": "path", "default": list(DEFAULT_KUBECONFIGS)},
        "warn_days": {"type": "int", "default": 90},
        "at": {"type": "str"},
    }


# Where the kubeconfig keeps each certificate: (list name, item key, field).
KUBECONFIG_FIELDS = (
    ("clusters", "cluster", "certificate-authority-data"),
    ("users", "user", "client-certificate-data"),
)

_PEM_BLOCK = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----",
    re.DOTALL,
)
_DER_SEQUENCE = 0x30
_DER_BIT_STRING = 0x03

Reader = Callable[[str], bytes]


class ScanError(Exception):
    """A file that exists but holds no certificate the controller could parse."""


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def certificate_files(data_dir: str) -> tuple[list[str], list[dict[str, str]]]:
    """Every ``*.crt`` k3s keeps in use, and the directories that could not be listed.

    ``server/tls`` is walked recursively (``etcd/``, ``temporary-certs/``); the backup
    trees ``server/tls-<ts>`` and ``agent/tls-<ts>`` are its siblings, so they are never
    entered. Only files directly under ``agent/`` count: its subdirectories hold
    containerd state and those backups.
    """
    found: list[str] = []
    errors: list[dict[str, str]] = []
    tls_dir = os.path.join(data_dir, "server", "tls")
    if os.path.isdir(tls_dir):

        def report(exc: OSError) -> None:
            errors.append({"path": str(exc.filename), "msg": f"cannot list: {exc.strerror}"})

        for root, _dirs, files in os.walk(tls_dir, onerror=report):
            found.extend(os.path.join(root, name) for name in files if name.endswith(".crt"))
    agent_dir = os.path.join(data_dir, "agent")
    if os.path.isdir(agent_dir):
        try:
            entries = list(os.scandir(agent_dir))
        except OSError as exc:
            errors.append({"path": agent_dir, "msg": f"cannot list: {exc.strerror}"})
            entries = []
        found.extend(e.path for e in entries if e.name.endswith(".crt") and not e.is_dir())
    return sorted(found), errors


def _der_length(data: bytes, pos: int) -> tuple[int, int]:
    """Decode a DER length at ``pos``: (length, position of the content)."""
    if pos >= len(data):
        raise ValueError("truncated")
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    count = first & 0x7F
    if count == 0 or count > 4 or pos + 1 + count > len(data):
        raise ValueError("bad length")
    return int.from_bytes(data[pos + 1 : pos + 1 + count], "big"), pos + 1 + count


def _der_children(data: bytes, start: int, end: int) -> Iterator[int]:
    """Yield the tag of each element between ``start`` and ``end``."""
    pos = start
    while pos < end:
        tag = data[pos]
        length, content = _der_length(data, pos + 1)
        pos = content + length
        if pos > end:
            raise ValueError("element overruns its parent")
        yield tag


def looks_like_der_certificate(data: bytes) -> bool:
    """True for a DER ``SEQUENCE { SEQUENCE, SEQUENCE, BIT STRING }`` filling ``data``.

    That is the shape of a certificate (tbsCertificate, signatureAlgorithm, signature).
    DER private keys start with an INTEGER or end in an OCTET STRING, so they never
    match and are never sent to the controller.
    """
    if not data or data[0] != _DER_SEQUENCE:
        return False
    try:
        length, content = _der_length(data, 1)
        if content + length != len(data):
            return False
        tags = list(_der_children(data, content, content + length))
    except ValueError:
        return False
    return tags == [_DER_SEQUENCE, _DER_SEQUENCE, _DER_BIT_STRING]


def extract_certificates(data: bytes) -> list[bytes]:
    """The DER bytes of every certificate in a PEM bundle or a DER file, in file order.

    Raises ScanError when there is none; the message names what was found instead (PEM
    labels such as ``RSA PRIVATE KEY``) and never quotes the content.
    """
    if not data.strip():
        raise ScanError("empty file")
    if b"-----BEGIN " in data:
        return _pem_certificates(data)
    if looks_like_der_certificate(data):
        return [data]
    raise ScanError("neither PEM nor a DER certificate")


def _pem_certificates(data: bytes) -> list[bytes]:
    blocks = _PEM_BLOCK.findall(data)
    certificates = []
    for index, (label, body) in enumerate(blocks, start=1):
        if label != b"CERTIFICATE":
            continue
        try:
            certificates.append(base64.b64decode(b"".join(body.split()), validate=True))
        except (binascii.Error, ValueError) as exc:
            raise ScanError(f"PEM block {index} is not valid base64") from exc
    if certificates:
        return certificates
    labels = sorted({label.decode("ascii") for label, _body in blocks})
    if labels:
        raise ScanError(f"no certificate in this PEM file, found: {', '.join(labels)}")
    raise ScanError("PEM header without a matching END line")


def _certificate_entry(path: str, source: str, ders: list[bytes]) -> dict[str, Any]:
    return {
        "path": path,
        "source": source,
        "kubeconfig_entry": None,
        "kubeconfig_field": None,
        "der": [base64.b64encode(der).decode("ascii") for der in ders],
    }


def dynamic_cert_certificates(data: bytes) -> list[bytes]:
    """The certificates of ``data."tls.crt"`` in dynamiclistener's Secret file."""
    try:
        secret = json.loads(data)
    except ValueError as exc:
        raise ScanError("not valid JSON (expected a core/v1 Secret)") from exc
    encoded = (secret.get("data") or {}).get("tls.crt") if isinstance(secret, dict) else None
    if not isinstance(encoded, str):
        raise ScanError('no data."tls.crt" in this Secret')
    try:
        pem = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ScanError('data."tls.crt" is not valid base64') from exc
    return extract_certificates(pem)


def kubeconfig_fields(text: str) -> list[tuple[str, str, str]]:
    """(entry name, field, base64 value) of each certificate field of a kubeconfig.

    JSON kubeconfigs are parsed with ``json``; YAML ones with a reader for the block style
    that client-go, kubectl and k3s write (the node may lack PyYAML). Only the two
    certificate fields are picked up, so ``client-key-data`` is never even held.
    """
    if text.lstrip().startswith("{"):
        return _json_kubeconfig_fields(json.loads(text))
    return _yaml_kubeconfig_fields(text)


def _json_kubeconfig_fields(config: dict[str, Any]) -> list[tuple[str, str, str]]:
    found = []
    for list_name, item_key, field in KUBECONFIG_FIELDS:
        for item in config.get(list_name) or []:
            value = (item.get(item_key) or {}).get(field)
            if isinstance(value, str):
                found.append((str(item.get("name", "")), field, value))
    return found


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _yaml_kubeconfig_fields(text: str) -> list[tuple[str, str, str]]:
    wanted = {list_name: field for list_name, _item_key, field in KUBECONFIG_FIELDS}
    found: list[tuple[str, str, str]] = []
    section: str | None = None
    item_indent = -1
    key_column = -1
    item: dict[str, str] = {}

    def flush() -> None:
        if section and wanted[section] in item:
            found.append((item.get("name", ""), wanted[section], item[wanted[section]]))
        item.clear()

    for line in text.splitlines():
        content = line.lstrip(" ")
        if not content or content.startswith("#"):
            continue
        indent = len(line) - len(content)
        if indent == 0 and not content.startswith("-"):
            flush()
            key = _unquote(content.split(":", 1)[0])
            section = key if key in wanted else None
            item_indent = -1
            continue
        if section is None:
            continue
        if content.startswith("- ") and item_indent in (-1, indent):
            flush()
            item_indent = indent
            rest = content[2:].lstrip(" ")
            key_column = len(line) - len(rest)
            content, indent = rest, key_column
        if ":" not in content or item_indent < 0:
            continue
        key, value = content.split(":", 1)
        key = _unquote(key)
        if key == "name" and indent == key_column:
            item["name"] = _unquote(value)
        elif key == wanted[section] and indent > item_indent:
            item[key] = _unquote(value)
    flush()
    return found


def _kubeconfig_entries(
    path: str, data: bytes
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    entries: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    try:
        fields = kubeconfig_fields(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, AttributeError):
        return [], [{"path": path, "msg": "not a kubeconfig (neither JSON nor block YAML)"}]
    for name, field, value in fields:
        where = f"{path} ({'cluster' if field.startswith('certificate') else 'user'} {name})"
        try:
            ders = extract_certificates(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            errors.append({"path": where, "msg": f"{field} is not valid base64"})
            continue
        except ScanError as exc:
            errors.append({"path": where, "msg": f"{field}: {exc}"})
            continue
        entry = _certificate_entry(path, "kubeconfig", ders)
        entry.update(kubeconfig_entry=name, kubeconfig_field=field)
        entries.append(entry)
    return entries, errors


def _read_error(path: str, exc: OSError) -> dict[str, str]:
    reason = exc.strerror or exc.__class__.__name__
    return {"path": path, "msg": f"cannot read: {reason}"}


def scan(
    data_dir: str = DEFAULT_DATA_DIR,
    kubeconfigs: list[str] | tuple[str, ...] = DEFAULT_KUBECONFIGS,
    read: Reader = read_bytes,
) -> dict[str, list[dict[str, Any]]]:
    """Collect the certificates of one node: ``{"collected": [...], "errors": [...]}``.

    A missing directory or kubeconfig is skipped (an agent has no ``server/``); a file
    that cannot be read or holds no certificate becomes an error entry, never a failure.
    """
    collected: list[dict[str, Any]] = []
    files, errors = certificate_files(data_dir)
    for path in files:
        try:
            collected.append(_certificate_entry(path, "file", extract_certificates(read(path))))
        except OSError as exc:
            errors.append(_read_error(path, exc))
        except ScanError as exc:
            errors.append({"path": path, "msg": str(exc)})
    dynamic = os.path.join(data_dir, "server", "tls", "dynamic-cert.json")
    if os.path.lexists(dynamic):
        try:
            ders = dynamic_cert_certificates(read(dynamic))
            collected.append(_certificate_entry(dynamic, "dynamic", ders))
        except OSError as exc:
            errors.append(_read_error(dynamic, exc))
        except ScanError as exc:
            errors.append({"path": dynamic, "msg": str(exc)})
    for path in kubeconfigs:
        if not os.path.lexists(path):
            continue
        try:
            data = read(path)
        except OSError as exc:
            errors.append(_read_error(path, exc))
            continue
        entries, entry_errors = _kubeconfig_entries(path, data)
        collected.extend(entries)
        errors.extend(entry_errors)
    return {"collected": collected, "errors": errors}
