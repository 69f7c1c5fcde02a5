"""Envelope encryption of exchange credentials: AES-256-GCM under a per-account data key,
the data key wrapped (AES-256-GCM) by a versioned master key from the Secrets port.

The "master-key" secret is JSON {"current": "v2", "keys": {"v1": b64, "v2": b64}} (a bare
base64 key means version "v1"). New data keys are wrapped by the current version; every
version listed stays readable, so rotation is: add a version and make it current, re-wrap
every data key (`stratus keys rotate`), then drop the old version.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from stratus.ports import Secrets

SECRET_NAME = "master-key"
_NONCE = 12


class CryptoError(Exception):
    """A master key is missing or malformed, or a ciphertext does not authenticate."""


@dataclass(frozen=True)
class Keyring:
    current: str
    keys: Mapping[str, bytes]

    @classmethod
    def parse(cls, text: str) -> Keyring:
        text = text.strip()
        try:
            if not text.startswith("{"):
                return cls("v1", {"v1": _key(text)})
            data = json.loads(text)
            keys = {str(version): _key(value) for version, value in data["keys"].items()}
            current = str(data["current"])
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise CryptoError(f"malformed {SECRET_NAME} secret: {error}") from None
        if current not in keys:
            raise CryptoError(f"{SECRET_NAME}: current version {current!r} has no key")
        return cls(current, keys)

    def dump(self) -> str:
        keys = {version: base64.b64encode(key).decode() for version, key in self.keys.items()}
        return json.dumps({"current": self.current, "keys": keys})

    def with_new_version(self) -> Keyring:
        """A fresh random key as the next version, made current; old versions kept."""
        numbers = [int(v[1:]) for v in self.keys if v[1:].isdigit() and v.startswith("v")]
        version = f"v{max(numbers, default=0) + 1}"
        return Keyring(version, {**self.keys, version: AESGCM.generate_key(256)})


def _key(value: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError("master key is not base64") from None
    if len(raw) != 32:
        raise CryptoError(f"master key must be 32 bytes (AES-256), got {len(raw)}")
    return raw


@dataclass(frozen=True)
class Sealed:
    key_version: str
    wrapped_key: bytes
    ciphertext: bytes


class Vault:
    """Seals and opens small secrets for one owner (`context`, e.g. the account id)."""

    def __init__(
        self,
        secrets: Secrets,
        ttl_seconds: float = 300,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secrets = secrets
        self._ttl = ttl_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._keyring: Keyring | None = None
        self._loaded_at = 0.0

    def keyring(self, refresh: bool = False) -> Keyring:
        """The master keys, cached for ttl_seconds (Secret Manager calls are slow)."""
        with self._lock:
            stale = self._monotonic() - self._loaded_at > self._ttl
            if self._keyring is None or refresh or stale:
                try:
                    self._keyring = Keyring.parse(self._secrets.get(SECRET_NAME))
                except KeyError as error:
                    raise CryptoError(str(error)) from None
                self._loaded_at = self._monotonic()
            return self._keyring

    def seal(self, plaintext: bytes, context: str) -> Sealed:
        ring = self.keyring()
        data_key = AESGCM.generate_key(256)
        return Sealed(
            ring.current,
            _encrypt(ring.keys[ring.current], data_key, _wrap_aad(ring.current, context)),
            _encrypt(data_key, plaintext, context.encode()),
        )

    def open(self, sealed: Sealed, context: str) -> bytes:
        data_key = self._unwrap(sealed.key_version, sealed.wrapped_key, context)
        return _decrypt(data_key, sealed.ciphertext, context.encode())

    def rewrap(self, sealed: Sealed, context: str) -> Sealed:
        """The same data key and ciphertext, wrapped by the current master key version."""
        ring = self.keyring()
        if sealed.key_version == ring.current:
            return sealed
        data_key = self._unwrap(sealed.key_version, sealed.wrapped_key, context)
        wrapped = _encrypt(ring.keys[ring.current], data_key, _wrap_aad(ring.current, context))
        return Sealed(ring.current, wrapped, sealed.ciphertext)

    def _unwrap(self, version: str, wrapped: bytes, context: str) -> bytes:
        ring = self.keyring()
        if version not in ring.keys:
            ring = self.keyring(refresh=True)  # rotated since we cached it
        if version not in ring.keys:
            raise CryptoError(f"master key version {version!r} is no longer available")
        return _decrypt(ring.keys[version], wrapped, _wrap_aad(version, context))


def _wrap_aad(version: str, context: str) -> bytes:
    return f"stratus:data-key:{version}:{context}".encode()


def _encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _decrypt(key: bytes, blob: bytes, aad: bytes) -> bytes:
    from cryptography.exceptions import InvalidTag

    try:
        return AESGCM(key).decrypt(blob[:_NONCE], blob[_NONCE:], aad)
    except InvalidTag:
        raise CryptoError("ciphertext does not authenticate (wrong key or tampered)") from None


def dev_master_key(seed: str) -> str:
    """A stable local-only master key derived from the development placeholder."""
    import hashlib

    return base64.b64encode(hashlib.sha256(f"{seed}:master-key".encode()).digest()).decode()
