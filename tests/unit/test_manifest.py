"""The typed run manifest writes the JSON that runs always wrote, byte for byte (no Spark).

The texts below are manifests as the previous, dict-based code wrote them: a run waiting for
review (written by a local run, and by one on remote storage: no report) and a decided one. They
still read; written again, they gain only the disclosure settings added since, at their
defaults (the settings the review applies come from conf/, not from the manifest).
"""

import json

from pooling.outputs.manifest import PENDING, REJECTED, RunManifest

LOCAL_RUN = r"""{
  "project": "low_income",
  "run_id": "20260101T000000000001Z",
  "status": "pending_review",
  "created": "20260101T000000000001Z",
  "pool_versions": {
    "welfare_registry": 0,
    "population_register": 1,
    "service_records": 2,
    "benefit_recipients": 3,
    "elderly_registry": 4,
    "disability_registry": 5,
    "social_security": 6,
    "justice_records": 7
  },
  "outputs": {
    "welfare_overlap": {
      "path": "/data/outputs/low_income/20260101T000000000001Z/welfare_overlap",
      "version": 0,
      "rows": 1234,
      "title": "Overlap \u0e01",
      "dims": [
        "province_code",
        "sex",
        "age_band"
      ],
      "count_column": "members",
      "people_counts": [
        "members",
        "in_a",
        "in_b"
      ],
      "dominance_support": "/data/outputs/low_income/20260101T000000000001Z/_dominance/wo",
      "headline": true,
      "chart": "welfare_overlap.png",
      "chart_spec": {
        "title": "Registry members also in",
        "x": "province_code",
        "y": [
          "in_a",
          "in_b"
        ],
        "ylabel": "share %",
        "per": "members",
        "scale": 100.0,
        "series": null,
        "kind": "bar"
      }
    },
    "plain": {
      "path": "/data/outputs/low_income/20260101T000000000001Z/plain",
      "version": 0,
      "rows": 1235,
      "title": "Plain",
      "dims": [
        "province_code"
      ],
      "count_column": null,
      "people_counts": [],
      "dominance_support": null,
      "headline": false,
      "chart": null,
      "chart_spec": null
    },
    "lined": {
      "path": "/data/outputs/low_income/20260101T000000000001Z/lined",
      "version": 0,
      "rows": 1236,
      "title": "Lined",
      "dims": [
        "month",
        "province_code"
      ],
      "count_column": "n",
      "people_counts": [
        "n"
      ],
      "dominance_support": null,
      "headline": true,
      "chart": "lined.png",
      "chart_spec": {
        "title": "t2",
        "x": "month",
        "y": [
          "x"
        ],
        "ylabel": "y",
        "per": [
          "p"
        ],
        "scale": 1.0,
        "series": "province_code",
        "kind": "line"
      }
    }
  },
  "report": "report.md",
  "disclosure": {
    "min_cell_count": 10,
    "dominance_p_percent": 10.0,
    "dominance_n": 2,
    "dominance_k_percent": 85.0
  }
}
"""

REMOTE_RUN = r"""{
  "project": "agriculture",
  "run_id": "20260102T000000000001Z",
  "status": "pending_review",
  "created": "20260102T000000000001Z",
  "pool_versions": {
    "farmer_registry": 0,
    "plots": 1,
    "welfare_registry": 2,
    "crop_prices": 3
  },
  "outputs": {
    "plain": {
      "path": "/data/outputs/agriculture/20260102T000000000001Z/plain",
      "version": 0,
      "rows": 1234,
      "title": "Plain",
      "dims": [
        "province_code"
      ],
      "count_column": null,
      "people_counts": [],
      "dominance_support": "/data/outputs/agriculture/20260102T000000000001Z/_dominance/plain",
      "headline": false,
      "chart": null,
      "chart_spec": null
    }
  },
  "report": null,
  "disclosure": {
    "min_cell_count": 10,
    "dominance_p_percent": 10.0,
    "dominance_n": 2,
    "dominance_k_percent": 85.0
  }
}
"""

DECIDED = r"""{
  "project": "water",
  "run_id": "20251231T000000000001Z",
  "status": "rejected",
  "created": "20251231T000000000001Z",
  "pool_versions": {
    "rainfall": 0,
    "rain_forecasts": 1,
    "reservoirs": 2,
    "plots": 3
  },
  "outputs": {
    "lined": {
      "path": "/data/outputs/water/20251231T000000000001Z/lined",
      "version": 0,
      "rows": 1234,
      "title": "Lined",
      "dims": [
        "month",
        "province_code"
      ],
      "count_column": "n",
      "people_counts": [
        "n"
      ],
      "dominance_support": "/data/outputs/water/20251231T000000000001Z/_dominance/lined",
      "headline": true,
      "chart": "lined.png",
      "chart_spec": {
        "title": "t2",
        "x": "month",
        "y": [
          "x"
        ],
        "ylabel": "y",
        "per": [
          "p"
        ],
        "scale": 1.0,
        "series": "province_code",
        "kind": "line"
      }
    }
  },
  "report": "report.md",
  "disclosure": {
    "min_cell_count": 10,
    "dominance_p_percent": 10.0,
    "dominance_n": 2,
    "dominance_k_percent": 85.0
  },
  "review": {
    "decision": "rejected",
    "reviewer": "r1",
    "reason": "no",
    "outputs": [
      "lined"
    ]
  }
}
"""


ADDED_SETTINGS = {
    "dominance_nk_inclusive": False,
    "zeros_are_disclosive": False,
    "rounding_base": None,
    "protection_percent": 50.0,
    "protect_secondary_cells": False,
}


def _with_added_settings(text: str) -> str:
    d = json.loads(text)
    d["disclosure"] |= ADDED_SETTINGS
    return json.dumps(d, indent=2) + "\n"


def test_the_manifest_reads_and_writes_the_same_json():
    for text in (LOCAL_RUN, REMOTE_RUN, DECIDED):
        manifest = RunManifest.model_validate(json.loads(text))
        assert manifest.to_json() == _with_added_settings(text)
    assert RunManifest.model_validate(json.loads(LOCAL_RUN)).status == PENDING
    # A decision rewrites the status in place and appends the review, as decide() always did.
    before = json.loads(_with_added_settings(REMOTE_RUN))
    after = RunManifest.model_validate(before).decided(
        REJECTED, reviewer="r1", reason="no", outputs=["plain"]
    )
    before["status"] = "rejected"
    before["review"] = {
        "decision": "rejected",
        "reviewer": "r1",
        "reason": "no",
        "outputs": ["plain"],
    }
    assert after.to_json() == json.dumps(before, indent=2) + "\n"
    assert after["review"]["reviewer"] == "r1" and after.outputs["plain"]["rows"] == 1234
