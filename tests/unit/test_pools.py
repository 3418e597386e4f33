from pooling.pools.build import to_pool
from pseudonymize import SecretKey, derive_pool_key, hmac_sha256

MASTER = SecretKey(bytes(range(100, 132)), "master")


def _deidentified(spark, ids, extra):
    df = spark.createDataFrame([(i, extra) for i in ids], "cid string, x string")
    return hmac_sha256(df, "cid", MASTER.material, "linkage_pseudonym").drop("cid")


def test_pool_pseudonyms_agree_within_a_pool_and_differ_between_pools(spark):
    a = _deidentified(spark, ["1101700207030", "3100600123456"], "a")
    b = _deidentified(spark, ["1101700207030"], "b")
    low_income = derive_pool_key(MASTER, "low_income", 1)
    health = derive_pool_key(MASTER, "public_health", 1)

    pa = {r.x + r.pool_pseudonym for r in to_pool(a, ["x"], low_income).collect()}
    pb = to_pool(b, ["x"], low_income).first().pool_pseudonym
    assert "a" + pb in pa  # the same person links inside the pool

    ph = to_pool(b, ["x"], health).first().pool_pseudonym
    lp = b.first().linkage_pseudonym
    assert ph != pb and lp not in (ph, pb)  # unlinkable across pools and to the linkage zone


def test_pool_keeps_only_the_allowed_columns(spark):
    a = _deidentified(spark, ["1101700207030"], "a").withColumn(
        "secret", __import__("pyspark.sql.functions", fromlist=["lit"]).lit("s")
    )
    out = to_pool(a, ["x"], derive_pool_key(MASTER, "low_income", 1))
    assert out.columns == ["pool_pseudonym", "x"]
