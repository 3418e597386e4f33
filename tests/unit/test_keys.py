import os
import pickle

import pytest

from pooling.core.errors import KeyMaterialError
from pseudonymize import SecretKey, derive_pool_key, load_key_file, load_master_key, new_key_file


def test_new_key_file_is_private_and_never_overwritten(tmp_path):
    path = tmp_path / "keys" / "master.key"
    key = new_key_file(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert load_key_file(path) == key
    with pytest.raises(KeyMaterialError, match="already exists"):
        new_key_file(path)


def test_refuses_a_group_or_world_readable_key_file(tmp_path):
    path = tmp_path / "master.key"
    new_key_file(path)
    os.chmod(path, 0o640)
    with pytest.raises(KeyMaterialError, match="chmod 600"):
        load_key_file(path)


def test_refuses_short_keys(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_KEY", "ab" * 31)  # 31 bytes
    with pytest.raises(KeyMaterialError, match="31 bytes; at least 32"):
        load_master_key(None, "TEST_KEY")


def test_environment_variable_wins_and_errors_never_show_the_value(monkeypatch):
    monkeypatch.setenv("TEST_KEY", "cd" * 32)
    assert load_master_key("/nonexistent", "TEST_KEY").material == bytes.fromhex("cd" * 32)
    monkeypatch.setenv("TEST_KEY", "not-hex-" + "secret" * 8)
    with pytest.raises(KeyMaterialError) as e:
        load_master_key(None, "TEST_KEY")
    assert "secret" not in str(e.value)


def test_missing_key_names_both_sources(monkeypatch):
    monkeypatch.delenv("TEST_KEY", raising=False)
    with pytest.raises(KeyMaterialError, match="set TEST_KEY or configure a key file"):
        load_master_key(None, "TEST_KEY")


def test_key_id_and_repr_reveal_nothing_of_the_key():
    key = SecretKey(bytes(range(32)), "master")
    text = repr(key) + str(key) + key.key_id
    assert bytes(range(32)).hex() not in text and bytes(range(32)).hex()[:16] not in text
    assert key.key_id.startswith("k1-") and len(key.key_id) == 19
    assert SecretKey(bytes(range(32)), "x").key_id == key.key_id  # stable
    assert SecretKey(bytes(range(1, 33)), "x").key_id != key.key_id
    with pytest.raises(TypeError):
        pickle.dumps(key)


def test_pool_keys_differ_by_project_and_version_and_are_stable():
    master = SecretKey(bytes(range(32)), "master")
    a1 = derive_pool_key(master, "low_income", 1)
    assert a1 == derive_pool_key(master, "low_income", 1)
    others = [
        derive_pool_key(master, "agriculture", 1),
        derive_pool_key(master, "low_income", 2),
        derive_pool_key(SecretKey(bytes(range(1, 33)), "m"), "low_income", 1),
    ]
    assert all(o.material != a1.material for o in others)
    assert a1.material != master.material and len(a1.material) == 32
