"""Envelope encryption: round trips, authentication, versions and rotation."""

from __future__ import annotations

import base64
import json

import pytest

from stratus.adapters.secrets import LocalSecrets
from stratus.crypto import CryptoError, Keyring, Sealed, Vault, dev_master_key


class Secret:
    """A master-key secret whose value the test can change, counting reads."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.reads = 0

    def get(self, name: str) -> str:
        assert name == "master-key"
        self.reads += 1
        return self.value


def key(byte: int) -> str:
    return base64.b64encode(bytes([byte]) * 32).decode()


def ring(current: str, **keys: int) -> str:
    return json.dumps({"current": current, "keys": {v: key(b) for v, b in keys.items()}})


def test_round_trip_binds_the_ciphertext_to_its_owner() -> None:
    vault = Vault(Secret(key(1)))
    sealed = vault.seal(b"api-secret", "acct-1")
    assert sealed.key_version == "v1"
    assert b"api-secret" not in sealed.ciphertext + sealed.wrapped_key
    assert vault.open(sealed, "acct-1") == b"api-secret"
    with pytest.raises(CryptoError):
        vault.open(sealed, "acct-2")  # swapped between rows: refuses


def test_each_seal_uses_a_fresh_data_key_and_nonce() -> None:
    vault = Vault(Secret(key(1)))
    first, second = vault.seal(b"x", "a"), vault.seal(b"x", "a")
    assert first.wrapped_key != second.wrapped_key
    assert first.ciphertext != second.ciphertext


def test_tampering_is_detected() -> None:
    vault = Vault(Secret(key(1)))
    sealed = vault.seal(b"secret", "a")
    flipped = bytes([sealed.ciphertext[-1] ^ 1])
    tampered = Sealed(sealed.key_version, sealed.wrapped_key, sealed.ciphertext[:-1] + flipped)
    with pytest.raises(CryptoError):
        vault.open(tampered, "a")


def test_rewrap_moves_the_data_key_to_the_current_version_only() -> None:
    secret = Secret(ring("v1", v1=1))
    vault = Vault(secret, ttl_seconds=0)
    sealed = vault.seal(b"secret", "a")
    secret.value = ring("v2", v1=1, v2=2)
    moved = vault.rewrap(sealed, "a")
    assert moved.key_version == "v2"
    assert moved.ciphertext == sealed.ciphertext  # the payload is not re-encrypted
    assert vault.open(sealed, "a") == vault.open(moved, "a") == b"secret"
    secret.value = ring("v2", v2=2)  # old version dropped after rotation
    assert vault.open(moved, "a") == b"secret"
    with pytest.raises(CryptoError, match="no longer available"):
        vault.open(sealed, "a")


def test_keyring_is_cached_but_refreshed_for_an_unknown_version() -> None:
    secret = Secret(ring("v1", v1=1))
    now = [0.0]
    vault = Vault(secret, ttl_seconds=300, monotonic=lambda: now[0])
    old = vault.seal(b"x", "a")
    secret.value = ring("v2", v1=1, v2=2)
    writer = Vault(secret)  # another instance, already on v2
    new = writer.seal(b"y", "a")
    assert vault.open(old, "a") == b"x"
    reads = secret.reads
    assert vault.open(new, "a") == b"y"  # unknown v2: one refresh, no waiting for the TTL
    assert secret.reads == reads + 1
    vault.open(new, "a")
    assert secret.reads == reads + 1


@pytest.mark.parametrize(
    "value",
    ["not base64!", base64.b64encode(b"short").decode(), '{"current": "v9", "keys": {}}', "{"],
)
def test_malformed_master_keys_are_refused(value: str) -> None:
    with pytest.raises(CryptoError):
        Vault(Secret(value)).seal(b"x", "a")


def test_missing_master_key_is_a_crypto_error() -> None:
    with pytest.raises(CryptoError):
        Vault(LocalSecrets()).keyring()


def test_new_version_keeps_the_old_ones_and_dumps_back() -> None:
    first = Keyring.parse(key(1))
    second = first.with_new_version()
    assert second.current == "v2"
    assert set(second.keys) == {"v1", "v2"}
    assert Keyring.parse(second.dump()) == second


def test_dev_master_key_is_stable_and_valid() -> None:
    assert dev_master_key("seed") == dev_master_key("seed")
    assert Keyring.parse(dev_master_key("seed")).current == "v1"
