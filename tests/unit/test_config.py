import shutil
from pathlib import Path

import pytest

from pooling.core.config import AgencyContract, Conf, Profile, load_model
from pooling.core.errors import ConfigError, UnknownNameError

REPO = Path(__file__).resolve().parents[2]


def _copy_conf(tmp_path: Path) -> Path:
    dst = tmp_path / "conf"
    shutil.copytree(REPO / "conf", dst)
    return dst


def test_repository_conf_loads_and_cross_checks(conf):
    assert conf.standard.version
    assert set(conf.agencies) >= {
        "finance",
        "interior",
        "public_health",
        "social_development",
        "justice",
    }
    assert "low_income" in conf.projects
    assert conf.profile("local").spark.master == "local[*]"
    assert conf.profile("cluster").storage.zones["linkage"]


def test_unknown_key_names_file_and_key(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "name: x\ndescription: d\nspark: {master: 'local[1]', driver_memory: 1g, "
        "shuffle_partitions: 1, colour: blue}\nstorage: {root: data}\n"
    )
    with pytest.raises(ConfigError) as e:
        load_model(path, Profile)
    assert str(path) in str(e.value) and "spark.colour: unknown key" in str(e.value)


def test_wrong_type_and_missing_key_are_reported_together(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "name: x\nspark: {master: 'local[1]', driver_memory: lots, "
        "shuffle_partitions: many}\nstorage: {root: data}\n"
    )
    with pytest.raises(ConfigError) as e:
        load_model(path, Profile)
    msg = str(e.value)
    assert "3 problem(s)" in msg
    assert "description: missing required key" in msg
    assert "spark.driver_memory" in msg and "'lots'" in msg
    assert "spark.shuffle_partitions" in msg and "'many'" in msg


def test_quasi_identifier_without_generalisation_is_refused(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("""
agency: a
name: A
name_th: ก
steward: {unit: u, contact: c}
datasets:
  d:
    description: d
    data_class: personal
    format: csv
    key: [citizen_id]
    retention_days: 1
    update_frequency: yearly
    columns:
      - {name: citizen_id, type: string, class: citizen_id, description: id}
      - {name: birth_date, type: date, class: quasi_identifier, description: b}
      - {name: x, type: string, class: mystery, description: x}
""")
    with pytest.raises(ConfigError) as e:
        load_model(path, AgencyContract)
    msg = str(e.value)
    assert "datasets.d.columns.1" in msg and "needs 'generalise" in msg
    assert "datasets.d.columns.2.class" in msg and "'mystery'" in msg


def test_project_asking_for_a_column_the_dataset_does_not_publish(tmp_path):
    root = _copy_conf(tmp_path)
    spec = root / "projects" / "low_income.yaml"
    spec.write_text(
        spec.read_text().replace(
            "columns: [benefit, monthly_baht]", "columns: [benefit, first_name]"
        )
    )
    with pytest.raises(ConfigError) as e:
        Conf(root)
    assert "pool.benefit_recipients.columns: 'first_name' is not a de-identified column" in str(
        e.value
    )


def test_unknown_names_list_what_is_available(conf):
    with pytest.raises(UnknownNameError, match=r"Available projects are: \[.*'low_income'"):
        conf.project("nope")
    with pytest.raises(UnknownNameError, match="Available datasets are"):
        conf.dataset("finance", "nope")
