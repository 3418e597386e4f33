"""Strict configuration models for everything under ``conf/``.

YAML is read at the edge with ``yaml.safe_load`` and validated by pydantic models with
``extra="forbid"``: an unknown key, a wrong type or a missing value is an error that names the file
and the key. All problems of one file are reported together.

One module of about 400 lines on purpose: the models refer to each other (a project's pool names
agencies' datasets, whose columns name the standard's generalisations) and :class:`Conf` checks
them against each other, so they read best together.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from pooling.core.errors import ConfigError, UnknownNameError
from pseudonymize.model import Strict, lookup
from pseudonymize.standard import (
    LINKAGE_PSEUDONYM,
    POOL_PSEUDONYM,
    SUBJECT,
    FieldClass,
    Standard,
    is_linkage_column,
    linkage_column,
    pool_column,
)

M = TypeVar("M", bound=BaseModel)

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


# --------------------------------------------------------------------------- profiles


class SparkSettings(Strict):
    master: str
    app_name: str = "pooling"
    # Required on purpose: the JVM default (1 GiB) is too small and "all of it" starves the OS.
    driver_memory: Annotated[str, Field(pattern=r"^\d+[mg]$")]
    shuffle_partitions: Annotated[int, Field(ge=1, le=100_000)]
    conf: dict[str, str] = {}


# risk: the secretariat's disclosure-risk figures of each pool (never an analyst's).
ZONES = ("landing", "linkage", "deidentified", "pools", "outputs", "released", "audit", "risk")


class StorageSettings(Strict):
    """Where the zones live. ``root`` is a local path or a URI (file:, s3a:, abfss:, hdfs:)."""

    root: str
    # Optional per-zone overrides, e.g. the linkage zone on a separately secured bucket.
    zones: dict[Literal[ZONES], str] = {}  # type: ignore[valid-type]


class KeySettings(Strict):
    """Where the master key comes from. Paths and variable names only, never key material."""

    file: str | None = None
    env: str = "POOLING_MASTER_KEY"


class Profile(Strict):
    name: Identifier
    description: str
    spark: SparkSettings
    storage: StorageSettings
    keys: KeySettings = KeySettings()


# --------------------------------------------------------------------------- agency contracts


class ColumnType(StrEnum):
    string = "string"
    integer = "integer"
    long = "long"
    double = "double"
    date = "date"
    boolean = "boolean"


class DataClass(StrEnum):
    public = "public"
    official = "official"
    personal = "personal"
    secret = "secret"


class ColumnSpec(Strict):
    name: Identifier
    type: ColumnType
    field_class: FieldClass = Field(alias="class")
    description: str
    mandatory: bool = False
    # Quasi-identifiers only: the named generalisations of the standard to publish instead.
    generalise: list[str] = []
    # A code column checked against reference data: an unknown code quarantines the row.
    codes: Literal["province", "district"] | None = None
    # XML only: where the value is below the record's element, as element names joined by "/"
    # ("mother/citizen_id"); an attribute as "@name" ("registrar/@office"). Default: the name.
    path: Annotated[str, Field(pattern=r"^@?[A-Za-z_][\w.-]*(/@?[A-Za-z_][\w.-]*)*$")] | None = None
    # citizen_id only: whose ID it is. None is the subject, the person the row is about (its
    # pseudonym is linkage_pseudonym); another role (mother, father, spouse, household_head...)
    # becomes <role>_linkage_pseudonym under the same master key, and links the same way.
    role: Identifier | None = None
    # citizen_id only: what an invalid or empty ID of this role does to its row. quarantine (the
    # subject's always); null: the row is kept with that pseudonym empty, the reason counted in
    # the ingest summary and the audit (a birth whose father is unknown is still a birth).
    if_invalid: Literal["quarantine", "null"] = "quarantine"
    # Kept text (string attributes) only: what a citizen ID, phone, e-mail or name found in a
    # value does. quarantine (the default): the row goes back to the steward as
    # "pii:<column>"; mask: the match is replaced by "[kind]" and the row kept.
    pii: Literal["quarantine", "mask"] | None = None

    @model_validator(mode="after")
    def _role_only_for_ids(self) -> ColumnSpec:
        if self.field_class is not FieldClass.citizen_id:
            if self.role is not None or self.if_invalid != "quarantine":
                raise ValueError(
                    f"column {self.name!r} has 'role' or 'if_invalid' but is "
                    f"{self.field_class.value}; only citizen_id columns have them"
                )
        elif self.role in (None, SUBJECT) and self.if_invalid != "quarantine":
            raise ValueError(
                f"column {self.name!r} is the subject's citizen ID: an invalid one always "
                "quarantines its row ('if_invalid: null' is for the other roles)"
            )
        return self

    @model_validator(mode="after")
    def _pii_only_for_kept_text(self) -> ColumnSpec:
        if self.pii is not None and not self.scanned:
            raise ValueError(
                f"column {self.name!r} has 'pii' but is a {self.type.value} "
                f"{self.field_class.value}; only string attributes are kept as text and scanned"
            )
        return self

    @property
    def scanned(self) -> bool:
        """Kept as delivered text, so scanned for stray identifiers at ingest."""
        return self.field_class is FieldClass.attribute and self.type is ColumnType.string

    @property
    def pii_action(self) -> str:
        return self.pii or "quarantine"

    @property
    def pseudonym(self) -> str:
        """A citizen_id column's linkage pseudonym column."""
        return linkage_column(self.role)

    @model_validator(mode="after")
    def _generalise_only_for_quasi(self) -> ColumnSpec:
        if self.field_class is FieldClass.quasi_identifier and not self.generalise:
            raise ValueError(
                f"column {self.name!r} is a quasi_identifier and needs 'generalise: [...]' "
                "naming at least one generalisation of the standard"
            )
        if self.field_class is not FieldClass.quasi_identifier and self.generalise:
            raise ValueError(
                f"column {self.name!r} has 'generalise' but is {self.field_class.value}; "
                "only quasi_identifier columns are generalised"
            )
        return self


class DatasetContract(Strict):
    description: str
    data_class: DataClass
    # How the agency delivers: CSV, JSON lines, Parquet, XML (one element per record), or an
    # Excel workbook (.xlsx).
    format: Literal["csv", "json", "parquet", "xml", "xlsx"]
    # CSV only: the code page its bytes are in. Thai systems still export TIS-620 or its
    # Windows superset, code page 874.
    encoding: Literal["utf-8", "tis-620", "windows-874"] = "utf-8"
    # gzip: every data file is gzip-compressed and named *.gz (any format but Parquet, which
    # compresses inside the file).
    compression: Literal["none", "gzip"] = "none"
    # XML only: the element that holds one record.
    row_tag: Annotated[str, Field(pattern=r"^[A-Za-z_][\w.-]*$")] | None = None
    # Excel only: the worksheet holding the records, header in its first row.
    sheet: str | None = None
    key: list[Identifier]
    retention_days: Annotated[int, Field(ge=1)]
    update_frequency: Literal["daily", "weekly", "monthly", "quarterly", "yearly", "ad_hoc"]
    # replace: each extract is the whole dataset and replaces the table.
    # upsert: each extract holds new and changed records, merged into the table on ``key``.
    load: Literal["replace", "upsert"] = "replace"
    columns: list[ColumnSpec]

    @model_validator(mode="after")
    def _consistent(self) -> DatasetContract:
        names = [c.name for c in self.columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"columns listed twice: {dupes}")
        missing_key = [k for k in self.key if k not in names]
        if missing_key:
            raise ValueError(f"key columns {missing_key} are not among the columns {names}")
        self._delivery()
        ids = self.person_ids
        roles = [c.role or SUBJECT for c in ids]
        twice = sorted({r for r in roles if roles.count(r) > 1})
        if twice:
            raise ValueError(
                f"citizen_id columns {[c.name for c in ids]} share role(s) {twice}: one column "
                "per role (a second spouse is its own role, e.g. spouse_2)"
            )
        if ids and SUBJECT not in roles:
            raise ValueError(
                f"citizen_id columns {[c.name for c in ids]} name no subject: one of them (with "
                "no role) is the person each row is about"
            )
        # A record without its key cannot be told apart from another one: key columns are required.
        optional_key = [
            c.name
            for c in self.columns
            if c.name in self.key and not c.mandatory and c.field_class is not FieldClass.citizen_id
        ]
        if optional_key:
            raise ValueError(f"key columns {optional_key} must be 'mandatory: true'")
        return self

    def _delivery(self) -> None:
        """The format's own settings, and only those."""
        fmt = self.format
        if self.encoding != "utf-8" and fmt != "csv":
            raise ValueError(f"'encoding' is for csv; {fmt} is read as UTF-8 (or is binary)")
        if self.compression == "gzip" and fmt == "parquet":
            raise ValueError("'compression: gzip' is not for parquet, which compresses inside")
        if (self.row_tag is None) == (fmt == "xml"):
            raise ValueError("'row_tag' is needed by xml, and only by xml")
        if (self.sheet is None) == (fmt == "xlsx"):
            raise ValueError("'sheet' is needed by xlsx, and only by xlsx")
        paths = [c.name for c in self.columns if c.path is not None]
        if paths and fmt != "xml":
            raise ValueError(f"columns {paths} have a 'path', which only xml columns have")

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise UnknownNameError(
            f"column {name!r} is not in the contract; columns are {[c.name for c in self.columns]}"
        )

    @property
    def person_ids(self) -> list[ColumnSpec]:
        """Every citizen_id column, the subject's and the other roles'."""
        return [c for c in self.columns if c.field_class is FieldClass.citizen_id]

    @property
    def citizen_id_column(self) -> str | None:
        """The subject's citizen ID column."""
        return next((c.name for c in self.person_ids if c.role in (None, SUBJECT)), None)


class Steward(Strict):
    unit: str
    contact: str


class AgencyContract(Strict):
    agency: Identifier
    name: str
    name_th: str
    steward: Steward
    datasets: dict[Identifier, DatasetContract]

    def dataset(self, name: str) -> DatasetContract:
        return lookup(
            self.datasets,
            name,
            f"agency {self.agency!r} has no dataset {name!r}",
            "datasets",
            error=UnknownNameError,
        )


# --------------------------------------------------------------------------- projects


class PoolSource(Strict):
    agency: Identifier
    dataset: Identifier
    # Minimisation: only these de-identified columns enter the pool (the pseudonym always does).
    columns: list[Identifier]
    # false: the project needs this person-level dataset only in aggregate (e.g. farm area per
    # province), so its rows enter the pool without any pseudonym and cannot be linked.
    pseudonym: bool = True
    # Layout: liquid-clustering columns. Default: the pool pseudonym for person-level tables (the
    # key every join of the project uses), none for place-and-time tables.
    cluster_by: list[Identifier] | None = None


class DisclosureSettings(Strict):
    """The secretariat's output checks for one project (established practice: ACRO/SACRO)."""

    # A count of people under this is disclosive (threshold rule).
    min_cell_count: Annotated[int, Field(ge=1)] = 10
    # p% rule for magnitude cells: sensitive when the cell total minus its two largest
    # contributions is under p% of the largest (the second could estimate the first that well).
    # Both dominance rules work on absolute values, so that negative contributions (losses,
    # refunds) cannot hide a dominant one. ACRO: safe_pratio_p (a fraction there).
    dominance_p_percent: Annotated[float, Field(gt=0, lt=100)] = 10.0
    # (n, k) rule: sensitive when the n largest contributions make up more than k% of the total.
    # ACRO: safe_nk_n, safe_nk_k (a fraction there, 0.9 by default).
    dominance_n: Annotated[int, Field(ge=1)] = 2
    dominance_k_percent: Annotated[float, Field(gt=0, le=100)] = 85.0
    # Whether a share of exactly k% is sensitive too (share >= k, as ACRO 1.0.2's NKCheck);
    # false: only a share over k% (as ACRO's agg_nk before 1.0).
    dominance_nk_inclusive: bool = False
    # Whether a shown count of people of 0 is disclosive: it then fails the threshold check and
    # is suppressed. False: a 0 is allowed, and the zeros check flags a 0 within a non-empty
    # group for the reviewer. ACRO: zeros_are_disclosive (true by default there).
    zeros_are_disclosive: bool = False
    # Release every shown count of people rounded to the nearest multiple of this (after
    # suppression; halves round up); none: released as counted. ACRO: safe_round_base (5) with
    # its "round" mitigation.
    rounding_base: Annotated[int, Field(ge=2)] | None = None
    # Provable protection of a suppressed cell: the interval of its values consistent with what
    # is published (linear programming) must reach at least +/- this % of min_cell_count for a
    # count, +/- dominance_p_percent % of its value for a magnitude. ACRO has no equivalent (it
    # checks no interval); tau-Argus calls these protection levels.
    protection_percent: Annotated[float, Field(ge=0, le=100)] = 50.0
    # Whether every hidden cell must reach that level, the secondary ones too (the strict
    # reading, which refuses more releases: a secondary cell hidden beside a small one is often
    # bounded by their line's total). False: only the primary cells, as in tau-Argus, where a
    # secondary cell is publishable in itself and is hidden only to protect a primary one.
    protect_secondary_cells: bool = False


class ReviewSettings(Strict):
    """``conf/review.yaml``: who reviews outputs, and the review console's sessions."""

    # Directory user names (LDAP uid) of the secretariat's output checkers. Signing in to the
    # console, or approving in the CLI, takes a name on this list: the directory alone says who
    # someone is, not that they may release outputs.
    reviewers: list[Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_.-]{0,63}$")]]
    # A console session ends this long after sign-in, whatever the browser does.
    session_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 30


class Lifecycle(Strict):
    """``conf/lifecycle.yaml``: how long superseded Delta versions stay readable, per zone."""

    # VACUUM removes files that older table versions need once they are this old (hours).
    version_retention_hours: dict[Literal["linkage", "deidentified", "pools", "outputs"], int]  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _non_negative(self) -> Lifecycle:
        bad = {z: h for z, h in self.version_retention_hours.items() if h < 0}
        if bad:
            raise ValueError(f"retention hours must be >= 0, got {bad}")
        return self


class RiskSettings(Strict):
    """A project's re-identification limits on its pool, row by row as analysts see it."""

    # Every member must share its quasi-identifiers with at least k - 1 others (k-anonymity); the
    # pool build coarsens and suppresses until it holds, or refuses.
    k: Annotated[int, Field(ge=2)]
    # Columns whose distinct values per class are counted (distinct l-diversity).
    sensitive: list[Identifier] = []
    # Pool columns that identify in this project beyond the standard's (a diagnosis code).
    quasi_identifiers: list[Identifier] = []
    # A pool table taken as the population (journalist risk); none: prosecutor risk only.
    population: Identifier | None = None
    # The build is refused when more of the pool's members than this must be suppressed.
    max_suppressed_share: Annotated[float, Field(ge=0, le=1)] = 0.05


class ProjectSpec(Strict):
    name: Identifier
    title: str
    title_th: str
    question: str
    pool_key_version: Annotated[int, Field(ge=1)]
    pool: dict[Identifier, PoolSource]
    analysts: list[str]
    disclosure: DisclosureSettings
    risk: RiskSettings | None = None


# --------------------------------------------------------------------------- loading


def _format_errors(path: Path, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            msg = "unknown key (not allowed here)"
        elif e["type"] == "missing":
            msg = "missing required key"
        else:
            msg = e["msg"]
            if "input" in e and not isinstance(e["input"], dict | list):
                msg += f" (got {e['input']!r})"
        lines.append(f"  {where}: {msg}")
    return f"{path}: {len(lines)} problem(s):\n" + "\n".join(lines)


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None


def load_model(path: Path, model: type[M]) -> M:
    """Load one YAML file into ``model``; every problem names the file and the key."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_errors(path, e)) from None


_ENV_REF = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}")


def expand_env(value: str) -> str:
    """Expand ``${VAR}`` / ``${VAR:-default}`` in storage paths (never used for key material)."""

    def sub(m: re.Match[str]) -> str:
        var, default = m.group(1), m.group(2)
        if var in os.environ:
            return os.environ[var]
        if default is not None:
            return default
        raise ConfigError(f"environment variable {var} is referenced in a profile but not set")

    return _ENV_REF.sub(sub, value)


class Conf:
    """The whole ``conf/`` directory, validated and cross-checked at load time."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        if not (self.root / "standard.yaml").is_file():
            raise ConfigError(
                f"{self.root}: not a configuration directory (no standard.yaml). "
                "Pass --conf DIR or set POOLING_CONF."
            )
        self.standard: Standard = load_model(self.root / "standard.yaml", Standard)
        self.lifecycle: Lifecycle = load_model(self.root / "lifecycle.yaml", Lifecycle)
        self.review: ReviewSettings = load_model(self.root / "review.yaml", ReviewSettings)
        self.agencies: dict[str, AgencyContract] = {}
        for path in sorted((self.root / "agencies").glob("*.yaml")):
            contract = load_model(path, AgencyContract)
            if contract.agency != path.stem:
                raise ConfigError(
                    f"{path}: agency: {contract.agency!r} must match the file name {path.stem!r}"
                )
            self._check_contract(path, contract)
            self.agencies[contract.agency] = contract
        self.projects: dict[str, ProjectSpec] = {}
        for path in sorted((self.root / "projects").glob("*.yaml")):
            spec = load_model(path, ProjectSpec)
            if spec.name != path.stem:
                raise ConfigError(f"{path}: name: {spec.name!r} must match the file name")
            self._check_project(path, spec)
            self.projects[spec.name] = spec

    def _check_contract(self, path: Path, contract: AgencyContract) -> None:
        problems = []
        for ds_name, ds in contract.datasets.items():
            for i, col in enumerate(ds.columns):
                for g in col.generalise:
                    try:
                        self.standard.generalisation(g).check_input(col.type.value)
                    except ValueError as e:
                        problems.append(f"  datasets.{ds_name}.columns.{i}.generalise: {e}")
        if problems:
            raise ConfigError(f"{path}: {len(problems)} problem(s):\n" + "\n".join(problems))

    def _check_project(self, path: Path, spec: ProjectSpec) -> None:
        problems = []
        person_columns: dict[str, list[str]] = {}  # person-level table -> its pool columns
        for table, src in spec.pool.items():
            where = f"pool.{table}"
            try:
                ds = self.dataset(src.agency, src.dataset)
            except UnknownNameError as e:
                problems.append(f"  {where}: {e}")
                continue
            available = self.standard.output_columns(ds.columns)
            for c in src.columns:
                if c not in available:
                    problems.append(
                        f"  {where}.columns: {c!r} is not a de-identified column of "
                        f"{src.agency}.{src.dataset}; available: {sorted(available)}"
                    )
            if LINKAGE_PSEUDONYM in src.columns:
                problems.append(
                    f"  {where}.columns: {LINKAGE_PSEUDONYM!r} is never listed: the subject's "
                    f"pseudonym enters as {POOL_PSEUDONYM!r} unless 'pseudonym: false'"
                )
            roles = [c for c in src.columns if is_linkage_column(c)]
            if roles and not src.pseudonym:
                problems.append(
                    f"  {where}.columns: {roles} are pseudonyms, in a table taken with "
                    "'pseudonym: false'"
                )
            linked = src.pseudonym and LINKAGE_PSEUDONYM in available
            in_pool = [
                *([POOL_PSEUDONYM] if linked else []),
                *[pool_column(c) if c in roles else c for c in src.columns],
            ]
            for c in src.cluster_by or []:
                if c not in in_pool:
                    problems.append(
                        f"  {where}.cluster_by: {c!r} is not a column of this pool table {in_pool}"
                    )
            if linked:
                person_columns[table] = in_pool
        problems += self._risk_problems(spec, person_columns)
        if problems:
            raise ConfigError(f"{path}: {len(problems)} problem(s):\n" + "\n".join(problems))

    @staticmethod
    def _risk_problems(spec: ProjectSpec, person_columns: dict[str, list[str]]) -> list[str]:
        """The risk block names columns of the pool's person-level tables, and one of them as
        the population."""
        risk, problems = spec.risk, []
        if risk is None:
            return problems
        columns = sorted({c for cols in person_columns.values() for c in cols})
        for key in ("sensitive", "quasi_identifiers"):
            for c in getattr(risk, key):
                if c not in columns:
                    problems.append(
                        f"  risk.{key}: project {spec.name}: {c!r} is not a column of its "
                        f"person-level pool tables; columns: {columns}"
                    )
        if risk.population is not None and risk.population not in person_columns:
            problems.append(
                f"  risk.population: project {spec.name}: {risk.population!r} is not a "
                f"person-level table of its pool: {sorted(person_columns)}"
            )
        return problems

    def agency(self, name: str) -> AgencyContract:
        return lookup(
            self.agencies,
            name,
            f"agency {name!r} is not configured",
            "agencies",
            error=UnknownNameError,
        )

    def dataset(self, agency: str, dataset: str) -> DatasetContract:
        return self.agency(agency).dataset(dataset)

    def project(self, name: str) -> ProjectSpec:
        return lookup(
            self.projects,
            name,
            f"project {name!r} is not configured",
            "projects",
            error=UnknownNameError,
        )

    def profile(self, name: str) -> Profile:
        path = self.root / "profiles" / f"{name}.yaml"
        if not path.is_file():
            available = sorted(p.stem for p in (self.root / "profiles").glob("*.yaml"))
            raise UnknownNameError(
                f"profile {name!r} not found in {path.parent}. Available: {available}"
            )
        profile = load_model(path, Profile)
        if profile.name != name:
            raise ConfigError(f"{path}: name: {profile.name!r} must match the file name")
        return profile

    def datasets(self) -> Iterable[tuple[str, str, DatasetContract]]:
        for a_name, a in self.agencies.items():
            for d_name, d in a.datasets.items():
                yield a_name, d_name, d


def default_conf_dir() -> Path:
    return Path(os.environ.get("POOLING_CONF", "conf"))


__all__ = [
    "AgencyContract",
    "ColumnSpec",
    "ColumnType",
    "Conf",
    "DataClass",
    "DatasetContract",
    "Lifecycle",
    "Profile",
    "ProjectSpec",
    "ReviewSettings",
    "RiskSettings",
    "Strict",
    "ZONES",
    "default_conf_dir",
    "expand_env",
    "load_model",
]
