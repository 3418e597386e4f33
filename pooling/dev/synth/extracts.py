"""Every extract the generator writes: agency, dataset, format, how it is made, which faults
it can carry. One entry per dataset of the seven projects (../shared/DOMAIN.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession

from pooling.dev.synth import (
    agriculture,
    births,
    education_labour,
    environment,
    health,
    low_income,
)
from pooling.dev.synth.faults import DUPLICATE, FAULT, STRAY
from pooling.dev.synth.plan import SynthPlan

# The column an agency system added that nobody agreed on (some extracts carry it).
EXTRA_COLUMN = "remarks"


@dataclass
class Sources:
    """What extracts are made from: the population, the environment grid, other extracts."""

    spark: SparkSession
    plan: SynthPlan
    people: DataFrame
    grid: DataFrame
    made: dict[str, DataFrame]


@dataclass(frozen=True)
class ExtractSpec:
    agency: str
    dataset: str
    format: str  # csv | json | parquet | xml | xlsx
    key: tuple[str, ...]  # the record's key: fault and duplicate draws hang on it
    make: Callable[[Sources], DataFrame]
    person_level: bool = True
    mandatory: tuple[str, ...] = ()  # may be blanked (missing mandatory field)
    typed: tuple[str, ...] = ()  # non-string columns that may hold a bad value (text formats)
    coded: tuple[str, ...] = ()  # code columns that may hold an unknown province code
    bom: bool = False  # CSV with a UTF-8 byte-order mark
    crlf: bool = False  # CSV with Windows line endings
    encoding: str = "utf-8"  # CSV: the code page (tis-620 for a legacy Thai system)
    compression: str = "none"  # gzip: every file gzip-compressed, named *.gz
    id_column: str = "citizen_id"  # the subject's citizen ID (person-level extracts)
    # Citizen IDs of other people the row names: (column, "quarantine" | "null"), as the
    # contract's if_invalid says; each may get a bad check digit.
    roles: tuple[tuple[str, str], ...] = ()
    row_tag: str | None = None  # XML: the element of one record
    xml_paths: tuple[tuple[str, str], ...] = ()  # XML: (column, path below the record)
    sheet: str | None = None  # Excel: the worksheet
    # Free-text attributes that may get an identifier planted: (column, "quarantine" | "mask"),
    # as the contract's ``pii`` says.
    notes: tuple[tuple[str, str], ...] = ()

    @property
    def extension(self) -> str:
        return f".{self.format}" + (".gz" if self.compression == "gzip" else "")

    @property
    def name(self) -> str:
        return f"{self.agency}.{self.dataset}"


def _p(fn: Callable[[DataFrame, SynthPlan], DataFrame]) -> Callable[[Sources], DataFrame]:
    return lambda s: fn(s.people, s.plan)


def _g(fn: Callable[[DataFrame, SynthPlan], DataFrame]) -> Callable[[Sources], DataFrame]:
    return lambda s: fn(s.grid, s.plan)


EXTRACTS: tuple[ExtractSpec, ...] = (
    # low-income assistance
    ExtractSpec(
        "finance",
        "welfare_registry",
        "csv",
        ("registry_no",),
        _p(low_income.welfare_registry),
        mandatory=("district_code", "birth_date", "sex"),
        typed=("birth_date", "annual_income_baht"),
        coded=("district_code",),
        bom=True,
        notes=(("caseworker_note", "mask"),),
    ),
    ExtractSpec(
        "interior",
        "population_register",
        "parquet",
        ("citizen_id",),
        _p(low_income.population_register),
        mandatory=("sex", "birth_date"),
        coded=("district_code",),
    ),
    ExtractSpec(
        "interior",
        "births",
        "xml",
        ("birth_no",),
        _p(births.births),
        mandatory=("sex", "birth_date", "district_code"),
        typed=("birth_date", "birth_weight_g"),
        coded=("district_code",),
        compression="gzip",
        id_column="child_citizen_id",
        roles=(("mother_citizen_id", "quarantine"), ("father_citizen_id", "null")),
        row_tag="birth",
        xml_paths=tuple(births.XML_PATHS.items()),
    ),
    ExtractSpec(
        "public_health",
        "service_records",
        "json",
        ("visit_id",),
        _p(low_income.service_records),
        mandatory=("service_date",),
        typed=("service_date", "cost_baht"),
    ),
    ExtractSpec(
        "social_development",
        "benefit_recipients",
        "csv",
        ("recipient_no",),
        _p(low_income.benefit_recipients),
        mandatory=("benefit",),
        typed=("monthly_baht",),
        crlf=True,
        notes=(("payment_note", "quarantine"),),
    ),
    ExtractSpec(
        "justice",
        "justice_records",
        "csv",
        ("case_no",),
        _p(low_income.justice_records),
        mandatory=("record_type",),
        typed=("start_date",),
    ),
    # agriculture
    ExtractSpec(
        "agriculture",
        "farmer_registry",
        "csv",
        ("farmer_id",),
        lambda s: s.made["agriculture.farmer_registry"],
        mandatory=("main_crop",),
        typed=("farm_area_rai",),
        coded=("district_code",),
        bom=True,
        crlf=True,
    ),
    ExtractSpec(
        "agriculture",
        "plots",
        "json",
        ("plot_id",),
        lambda s: s.made["agriculture.plots"],
        typed=("area_rai",),
        coded=("district_code",),
    ),
    ExtractSpec(
        "commerce",
        "crop_prices",
        "csv",
        ("province_code", "month", "crop"),
        _g(environment.crop_prices),
        person_level=False,
        typed=("price_baht_per_kg",),
        coded=("province_code",),
    ),
    # education and labour market
    ExtractSpec(
        "education",
        "graduates",
        "parquet",
        ("student_id",),
        lambda s: s.made["education.graduates"],
        mandatory=("field",),
    ),
    ExtractSpec(
        "labour",
        "social_security",
        "csv",
        ("insured_id",),
        lambda s: education_labour.social_security(s.people, s.made["education.graduates"], s.plan),
        mandatory=("start_date",),
        typed=("start_date", "monthly_wage"),
        coded=("establishment_province",),
    ),
    ExtractSpec(
        "industry",
        "establishments",
        "csv",
        ("establishment_id",),
        lambda s: education_labour.establishments(s.spark, s.plan),
        person_level=False,
        typed=("employees",),
        coded=("province_code",),
    ),
    # public health
    ExtractSpec(
        "public_health",
        "ncd_screening",
        "json",
        ("screen_id",),
        _p(health.ncd_screening),
        typed=("bmi", "fpg_mgdl", "hba1c_pct"),
    ),
    ExtractSpec(
        "social_development",
        "elderly_registry",
        "csv",
        ("elderly_no",),
        _p(health.elderly_registry),
        coded=("district_code",),
        encoding="tis-620",  # a provincial office's legacy system
    ),
    ExtractSpec(
        "social_development",
        "disability_registry",
        "xlsx",
        ("disability_no",),
        _p(health.disability_registry),
        mandatory=("disability_type",),
        coded=("district_code",),
        sheet="registry",
    ),
    # tourism and transport
    ExtractSpec(
        "tourism",
        "tourist_arrivals",
        "csv",
        ("province_code", "month"),
        _g(environment.tourist_arrivals),
        person_level=False,
        typed=("thai_visitors",),
        coded=("province_code",),
        bom=True,
    ),
    ExtractSpec(
        "transport",
        "passengers",
        "csv",
        ("province_code", "month", "mode"),
        _g(environment.passengers),
        person_level=False,
        typed=("passengers",),
        coded=("province_code",),
        compression="gzip",
    ),
    ExtractSpec(
        "transport",
        "road_accidents",
        "csv",
        ("province_code", "date"),
        _g(environment.road_accidents),
        person_level=False,
        typed=("accidents",),
        coded=("province_code",),
        crlf=True,
    ),
    # water management
    ExtractSpec(
        "science_technology",
        "rainfall",
        "json",
        ("station_id", "date"),
        _g(environment.rainfall),
        person_level=False,
        typed=("rain_mm",),
        coded=("province_code",),
    ),
    ExtractSpec(
        "digital_economy",
        "rain_forecasts",
        "csv",
        ("province_code", "issued_on", "forecast_date"),
        _g(environment.forecasts),
        person_level=False,
        typed=("rain_mm_forecast",),
        coded=("province_code",),
    ),
    ExtractSpec(
        "agriculture",
        "reservoirs",
        "parquet",
        ("reservoir_id", "date"),
        _g(environment.reservoirs),
        person_level=False,
        coded=("province_code",),
    ),
    # environmental pollution
    ExtractSpec(
        "science_technology",
        "hotspots",
        "csv",
        ("hotspot_id",),
        _g(environment.hotspots),
        person_level=False,
        typed=("confidence",),
        coded=("province_code",),
    ),
    ExtractSpec(
        "natural_resources",
        "pm25",
        "csv",
        ("station_id", "date"),
        _g(environment.pm25),
        person_level=False,
        typed=("pm25_ugm3",),
        coded=("province_code",),
    ),
    ExtractSpec(
        "public_health",
        "respiratory_visits",
        "json",
        ("province_code", "date"),
        _g(environment.respiratory_visits),
        person_level=False,
        typed=("visits",),
        coded=("province_code",),
    ),
)


def prepare(sources: Sources) -> None:
    """Extracts other extracts are made from (plots from farmers, jobs from graduates)."""
    farmers = agriculture.farmer_registry(sources.people, sources.plan)
    sources.made["agriculture.farmer_registry"] = farmers
    sources.made["agriculture.plots"] = agriculture.plots(farmers, sources.plan)
    sources.made["education.graduates"] = education_labour.graduates(sources.people, sources.plan)


# Columns of an extract's rows that are never written: the population index of its subject (and
# of a birth's mother), for the ground truth; the fault tags; the stray-line mark (the writer
# uses it, then drops it).
INTERNAL = ("person", "mother_person", FAULT, DUPLICATE, STRAY)


@dataclass(frozen=True)
class Extract:
    spec: ExtractSpec
    rows: DataFrame  # the extract's columns plus person, _fault, _duplicate (never written)
    extra_column: bool

    @property
    def columns(self) -> list[str]:
        return [c for c in self.rows.columns if c not in INTERNAL]


@dataclass(frozen=True)
class Synthetic:
    plan: SynthPlan
    people: DataFrame
    grid: DataFrame
    extracts: dict[str, Extract]

    def release(self) -> None:
        self.people.unpersist()
        self.grid.unpersist()
