import hashlib
import hmac
import random

import pytest
from pyspark.sql.types import BinaryType, StringType, StructField, StructType

from pseudonymize import hmac_sha256, padded_keys

THAI = "กขฃคฅฆงจฉชซฌญฎฏฐฑฒณดตถทธนบปผฝพฟภมยรฤลฦวศษสหฬอฮ๐๑๒๓๔๕๖๗๘๙ะาำิีึืุู"


def _expected(key: bytes, value: bytes | None) -> str | None:
    return None if value is None else hmac.new(key, value, hashlib.sha256).hexdigest()


def _random_text(rng: random.Random) -> str | None:
    kind = rng.randrange(6)
    if kind == 0:
        return None
    if kind == 1:
        return ""
    if kind == 2:
        return "".join(rng.choice(THAI) for _ in range(rng.randrange(1, 40)))
    if kind == 3:
        return "".join(rng.choice("0123456789") for _ in range(13))
    return "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(rng.randrange(1, 90)))


def test_equals_python_hmac_for_random_keys_and_texts(spark):
    rng = random.Random(20171214)
    texts = [_random_text(rng) for _ in range(60)]
    df = spark.createDataFrame([(t,) for t in texts], StructType([StructField("v", StringType())]))
    # Keys of every length class: shorter than, equal to and longer than the 64-byte block.
    for length in [1, 2, 31, 32, 63, 64, 65, 100, 128, 200] + rng.sample(range(1, 201), 6):
        key = rng.randbytes(length)
        got = [r.h for r in hmac_sha256(df, "v", key, "h").select("h").collect()]
        want = [_expected(key, None if t is None else t.encode("utf-8")) for t in texts]
        assert got == want, f"key length {length}"


def test_binary_columns_are_hashed_as_they_are(spark):
    rng = random.Random(7)
    values = [rng.randbytes(rng.randrange(0, 300)) for _ in range(20)] + [None]
    schema = StructType([StructField("b", BinaryType())])
    df = spark.createDataFrame([(None if v is None else bytearray(v),) for v in values], schema)
    key = rng.randbytes(77)
    got = [r.h for r in hmac_sha256(df, "b", key, "h").collect()]
    assert got == [_expected(key, v) for v in values]


def test_keeps_rows_and_columns(spark):
    df = spark.createDataFrame([("a", 1), ("b", 2)], "v string, n int")
    out = hmac_sha256(df, "v", b"k" * 32, "h")
    assert out.columns == ["v", "n", "h"]
    assert sorted(r.n for r in out.collect()) == [1, 2]


def test_refuses_non_string_columns(spark):
    df = spark.createDataFrame([(1,)], "n int")
    with pytest.raises(TypeError, match="only string and binary"):
        hmac_sha256(df, "n", b"k" * 32, "h")


def _key_material_forms(key: bytes) -> list[str]:
    """Every way the key or its padded forms could be printed in a plan or log."""
    import base64

    forms = []
    for secret in (key, *padded_keys(key)):
        forms += [
            secret.hex(),
            secret.hex().upper(),
            base64.b64encode(secret).decode(),
            str(list(secret))[1:40],
            str(list(b if b < 128 else b - 256 for b in secret))[1:40],
        ]
    return forms


def _read_from(path, offset: int) -> str:
    with path.open("rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


def test_no_key_material_in_any_plan_or_the_event_log(spark, event_log_dir, capsys):
    key = bytes(range(200, 232))  # distinctive bytes
    # Only what is logged from here on can hold this key: read the log from where it stands
    # now, not the whole suite's (by then hundreds of megabytes).
    before = {p: p.stat().st_size for p in event_log_dir.rglob("*") if p.is_file()}
    df = spark.createDataFrame([("1101700207030",)], "citizen_id string")
    out = hmac_sha256(df, "citizen_id", key, "lp")
    out.collect()  # executes, so the SQL execution events reach the event log

    for mode in ("extended", "formatted", "codegen", "cost"):
        out.explain(mode=mode)
    plans = capsys.readouterr().out
    assert "scalar-subquery" in plans and "Generated code" in plans  # really captured
    forms = _key_material_forms(key)
    assert not [f for f in forms if f in plans]

    logs = "".join(
        _read_from(p, before.get(p, 0)) for p in sorted(event_log_dir.rglob("*")) if p.is_file()
    )
    assert "SparkListenerSQLExecutionStart" in logs, "event log not written; the test would be void"
    assert not [f for f in forms if f in logs]


def test_a_literal_key_would_be_caught(spark, capsys):
    """Guards the test above: the same search does find a key written as a literal."""
    from pyspark.sql import functions as F

    key = bytes(range(200, 232))
    df = spark.createDataFrame([("x",)], "v string").withColumn("k", F.lit(bytearray(key)))
    df.explain(mode="extended")
    plans = capsys.readouterr().out
    assert any(f in plans for f in _key_material_forms(key))
