"""Place-and-time datasets (no person in them): weather, water, fire, air, travel.

All are drawn from one province × day grid for 2025 with shared latent variables, so the
relations the projects look for are really in the data: PM2.5 rises with satellite hotspots in
the dry season (north and north-east, January-April), respiratory visits rise with PM2.5,
reservoirs fill after the monsoon rains (May-October; November-December in the south),
forecasts track the rain with an error, road accidents rise with tourist volume and at Songkran
and New Year.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pooling.dev.synth.draws import below, uniform, with_uniforms
from pooling.dev.synth.plan import SynthPlan
from pseudonymize.reference import provinces

YEAR = 2025
DAYS = 365
# The national 24-hour PM2.5 standard (Pollution Control Department, since 1 June 2023), µg/m³.
PM25_STANDARD = 37.5
CROPS = ("rice", "rubber", "cassava", "sugarcane", "maize", "oil_palm", "fruit")
BASE_PRICE = {
    "rice": 11.0,
    "rubber": 55.0,
    "cassava": 2.6,
    "sugarcane": 1.1,
    "maize": 9.0,
    "oil_palm": 5.5,
    "fruit": 30.0,
}  # baht per kg, roughly 2025
BURNING_REGIONS = ("north", "northeast")
TOURIST_PROVINCES = {
    "10": 5.0,
    "83": 4.0,
    "20": 3.0,
    "50": 3.0,
    "81": 2.5,
    "84": 2.0,
    "77": 1.8,
    "90": 1.5,
    "57": 1.5,
    "76": 1.3,
}  # visitor weight over baseline


def _provinces(spark: SparkSession) -> DataFrame:
    rows = [(p.code, p.region, p.population, p.urban_share) for p in provinces()]
    return spark.createDataFrame(
        rows, "province_code string, region string, population long, urban_share double"
    )


def grid(spark: SparkSession, plan: SynthPlan) -> DataFrame:
    """One row per province and day of 2025 with the latent drivers of every dataset here."""
    days = spark.range(DAYS).select(
        F.date_add(F.lit(date(YEAR, 1, 1)), F.col("id").cast("int")).alias("date")
    )
    g = _provinces(spark).crossJoin(days)
    g = with_uniforms(
        g,
        plan.seed,
        ["province_code", "date"],
        "fire",
        "rain",
        "rain_amount",
        "pm_noise",
        "forecast_noise",
        "visits_noise",
        "accidents",
    )
    month = F.month("date")
    dry = month.between(1, 4)
    burning = F.col("region").isin(*BURNING_REGIONS)
    fire_rate = F.when(dry & burning, 6.0).when(dry, 1.0).otherwise(0.1)
    wet = F.when(F.col("region") == "south", month.isin(10, 11, 12)).otherwise(month.between(5, 10))
    g = g.withColumns(
        {
            "hotspots": below(F.col("u_fire"), fire_rate * 2).cast("int"),
            "rain_mm": F.when(
                F.col("u_rain") < F.when(wet, 0.6).otherwise(0.1),
                F.round(F.col("u_rain_amount") * F.when(wet, 60.0).otherwise(15.0), 1),
            ).otherwise(0.0),
        }
    )
    g = g.withColumn(
        "pm25",
        F.round(
            F.lit(12.0)
            + F.when(dry, 18.0).otherwise(0.0)
            + 2.5 * F.col("hotspots")
            + 10 * F.col("u_pm_noise"),
            1,
        ),
    )
    return g.drop(*[c for c in g.columns if c.startswith("u_")])


def hotspots(g: DataFrame, plan: SynthPlan) -> DataFrame:
    """GISTDA satellite hotspots: one row per detected fire."""
    rows = g.where(F.col("hotspots") > 0).withColumn(
        "n", F.explode(F.sequence(F.lit(1), F.col("hotspots")))
    )
    key = (F.col("province_code"), F.col("date"), F.col("n"))
    return rows.select(
        F.concat_ws(
            "-",
            F.lit("HS"),
            F.date_format("date", "yyyyMMdd"),
            F.col("province_code"),
            F.col("n").cast("string"),
        ).alias("hotspot_id"),
        "date",
        "province_code",
        F.round(13.0 + 7.0 * uniform(plan.seed, "lat", *key), 4).alias("latitude"),
        F.round(99.0 + 5.0 * uniform(plan.seed, "lon", *key), 4).alias("longitude"),
        (below(uniform(plan.seed, "confidence", *key), 60) + 40).cast("int").alias("confidence"),
    )


def pm25(g: DataFrame, plan: SynthPlan) -> DataFrame:
    """Pollution Control Department: daily mean PM2.5 at one station per province."""
    return g.select(
        F.concat(F.lit("PCD"), F.col("province_code")).alias("station_id"),
        "province_code",
        "date",
        F.col("pm25").alias("pm25_ugm3"),
    )


def respiratory_visits(g: DataFrame, plan: SynthPlan) -> DataFrame:
    """Public Health: respiratory out-patient visits per province and day (already aggregated)."""
    u = uniform(plan.seed, "resp", F.col("province_code"), F.col("date"))
    visits = F.col("population") / 20_000 * (1 + F.col("pm25") / 40) * (0.8 + 0.4 * u)
    return g.select("province_code", "date", F.round(visits).cast("int").alias("visits"))


def rainfall(g: DataFrame, plan: SynthPlan) -> DataFrame:
    """Hydro-Informatics Institute: daily rainfall at one telemetry station per province."""
    return g.select(
        F.concat(F.lit("HII"), F.col("province_code")).alias("station_id"),
        "province_code",
        "date",
        "rain_mm",
    )


def forecasts(g: DataFrame, plan: SynthPlan) -> DataFrame:
    """Meteorological Department: 7-day rain forecasts issued every Monday."""
    issued = g.where(F.dayofweek("date") == 2).select(
        "province_code", F.col("date").alias("issued_on")
    )
    rows = issued.withColumn("lead", F.explode(F.sequence(F.lit(1), F.lit(7)))).withColumn(
        "forecast_date", F.date_add("issued_on", F.col("lead"))
    )
    actual = g.select("province_code", F.col("date").alias("forecast_date"), "rain_mm")
    u = uniform(plan.seed, "forecast", F.col("province_code"), F.col("issued_on"), F.col("lead"))
    return rows.join(actual, ["province_code", "forecast_date"]).select(
        "province_code",
        "issued_on",
        "forecast_date",
        F.round(
            F.greatest(F.lit(0.0), F.col("rain_mm") * (0.6 + 0.8 * u) + 5 * (u - 0.5)), 1
        ).alias("rain_mm_forecast"),
    )


def reservoirs(g: DataFrame, plan: SynthPlan) -> DataFrame:
    """Royal Irrigation Department: daily storage of one large reservoir per province, filling
    with the 30-day rainfall and drawn down in the dry season."""
    from pyspark.sql.window import Window

    w = Window.partitionBy("province_code").orderBy("date").rowsBetween(-29, 0)
    cap = 100 + below(uniform(plan.seed, "capacity", F.col("province_code")), 900)
    rain30 = F.sum("rain_mm").over(w)
    share = F.least(F.lit(0.98), F.greatest(F.lit(0.15), 0.25 + rain30 / 1500))
    return g.select(
        F.concat(F.lit("RID"), F.col("province_code")).alias("reservoir_id"),
        "province_code",
        "date",
        cap.cast("double").alias("capacity_mcm"),
        F.round(share * cap, 1).alias("storage_mcm"),
    )


def _monthly(g: DataFrame) -> DataFrame:
    return g.withColumn("month", F.date_format("date", "yyyy-MM"))


def tourist_arrivals(g: DataFrame, plan: SynthPlan) -> DataFrame:
    """Tourism Intelligence Center: Thai and foreign visitors per province and month."""
    weight = F.coalesce(
        F.create_map(*[x for k, v in TOURIST_PROVINCES.items() for x in (F.lit(k), F.lit(v))])[
            F.col("province_code")
        ],
        F.lit(1.0),
    )
    high = F.month("date").isin(11, 12, 1, 2, 3, 4)
    m = (
        _monthly(g)
        .groupBy("province_code", "month", "population")
        .agg(F.first(high).alias("high"), F.first(weight).alias("weight"))
    )
    u = uniform(plan.seed, "tourists", F.col("province_code"), F.col("month"))
    base = F.col("population") / 10 * F.col("weight") * F.when(F.col("high"), 1.4).otherwise(0.9)
    return m.select(
        "province_code",
        "month",
        F.round(base * (0.8 + 0.4 * u)).cast("long").alias("thai_visitors"),
        F.round(base * F.col("weight") / 3 * (0.7 + 0.6 * u))
        .cast("long")
        .alias("foreign_visitors"),
    )


def passengers(g: DataFrame, plan: SynthPlan) -> DataFrame:
    """Transport statistics: passengers per province, month and mode."""
    m = _monthly(g).select("province_code", "month", "population").distinct()
    rows = m.withColumn("mode", F.explode(F.array(*[F.lit(x) for x in ("road", "rail", "air")])))
    share = F.create_map(
        F.lit("road"), F.lit(0.8), F.lit("rail"), F.lit(0.05), F.lit("air"), F.lit(0.02)
    )[F.col("mode")]
    u = uniform(plan.seed, "passengers", F.col("province_code"), F.col("month"), F.col("mode"))
    return rows.select(
        "province_code",
        "month",
        "mode",
        F.round(F.col("population") * share * (0.8 + 0.4 * u)).cast("long").alias("passengers"),
    )


def road_accidents(g: DataFrame, plan: SynthPlan) -> DataFrame:
    """Road accidents per province and day; more with tourists, at Songkran and New Year."""
    weight = F.coalesce(
        F.create_map(*[x for k, v in TOURIST_PROVINCES.items() for x in (F.lit(k), F.lit(v))])[
            F.col("province_code")
        ],
        F.lit(1.0),
    )
    holiday = (
        (F.month("date") == 4) & F.dayofmonth("date").between(11, 17)
        | ((F.month("date") == 12) & (F.dayofmonth("date") >= 29))
        | ((F.month("date") == 1) & (F.dayofmonth("date") <= 4))
    )
    rate = F.col("population") / 150_000 * F.sqrt(weight) * F.when(holiday, 2.5).otherwise(1.0)
    u = uniform(plan.seed, "accidents", F.col("province_code"), F.col("date"))
    acc = below(u, rate * 2 + 1)
    return g.select(
        "province_code",
        "date",
        acc.cast("int").alias("accidents"),
        F.floor(acc * 0.1 * (0.5 + u)).cast("int").alias("deaths"),
        F.floor(acc * 1.2 * (0.5 + u)).cast("int").alias("injuries"),
    )


def crop_prices(g: DataFrame, plan: SynthPlan) -> DataFrame:
    """Commerce: monthly farm-gate price per province and crop, with seasonal swings."""
    m = _monthly(g).select("province_code", "month").distinct()
    rows = m.withColumn("crop", F.explode(F.array(*[F.lit(c) for c in CROPS])))
    base = F.create_map(*[x for k, v in BASE_PRICE.items() for x in (F.lit(k), F.lit(v))])[
        F.col("crop")
    ]
    month_no = F.substring("month", 6, 2).cast("int")
    swing = F.when(F.col("crop").isin("rubber", "cassava"), 0.25).otherwise(0.1)
    u = uniform(plan.seed, "price", F.col("province_code"), F.col("month"), F.col("crop"))
    price = base * (1 + swing * F.sin(month_no * 3.14159 / 6) + 0.05 * (u - 0.5))
    return rows.select(
        "province_code", "month", "crop", F.round(price, 2).alias("price_baht_per_kg")
    )
