"""Charts and the run report: what a reader sees is computed from the output's counts."""

import pandas as pd
import pytest

from pooling.outputs.reports import OutputFacts, chart_data, draw, report_markdown
from projects import Chart, Output

CELLS = pd.DataFrame(
    {
        "province_code": ["10", "10", "20"],
        "group": ["elderly", "disabled", "elderly"],
        "persons": [100, 10, 900],
        "screened": [50, 5, 100],
        "diabetes": [10, 5, 10],
    }
)


def test_a_rate_is_computed_from_summed_counts_not_averaged_over_cells():
    chart = Chart("t", x="group", y=("screened",), per="persons", scale=100, ylabel="%")
    data = chart_data(CELLS, chart)
    # elderly: (50 + 100) / (100 + 900) = 15 %, not the mean of 50 % and 11.1 %.
    assert data.loc["elderly", "screened"] == pytest.approx(15.0)
    assert data.loc["disabled", "screened"] == pytest.approx(50.0)


def test_each_series_can_have_its_own_denominator():
    chart = Chart(
        "t", x="group", y=("screened", "diabetes"), per=("persons", "screened"), ylabel="%"
    )
    data = chart_data(CELLS, chart)
    assert list(data.columns) == ["screened / persons", "diabetes / screened"]
    assert data.loc["elderly", "diabetes / screened"] == pytest.approx(20 / 150)


def test_a_series_column_splits_the_bars():
    chart = Chart("t", x="province_code", y=("persons",), series="group", ylabel="n")
    data = chart_data(CELLS, chart)
    assert data.loc["10", "disabled"] == 10 and data.loc["20", "elderly"] == 900
    assert pd.isna(data.loc["20", "disabled"])


def test_a_zero_denominator_gives_no_value_rather_than_infinity():
    cells = pd.DataFrame({"x": ["a"], "n": [0], "k": [0]})
    data = chart_data(cells, Chart("t", x="x", y=("k",), per="n", ylabel="%"))
    assert pd.isna(data.loc["a", "k"])


def test_the_chart_is_a_png_and_the_report_names_pool_versions_and_chart(spark):
    chart = Chart(
        "Screened by group", x="group", y=("screened",), per="persons", scale=100, ylabel="%"
    )
    data = chart_data(CELLS, chart)
    assert draw(data, chart)[:8] == b"\x89PNG\r\n\x1a\n"
    df = spark.createDataFrame(CELLS)
    output = Output(df, ("province_code", "group"), "Screening", "Each row ...", "persons", chart)
    text = report_markdown(
        title="Public health",
        question="Who is screened?",
        run_id="R1",
        pool_versions={"ncd_screening": 3, "elderly_registry": 1},
        pool_path="/pools/public_health/",
        outputs={"o": OutputFacts(output, 3, 0, "o.png", data)},
        min_cell_count=10,
    )
    assert "| ncd_screening | 3 |" in text and "| elderly_registry | 1 |" in text
    assert "![Screened by group](o.png)" in text
    assert "pending review" in text and "under 10 people" in text
    assert "| elderly | 15.0 |" in text
