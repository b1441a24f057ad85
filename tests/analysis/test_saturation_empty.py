"""Saturation of a project with nothing coded yet: empty tables, no error (the report download needs it)."""

import pandas as pd

from chimeqda.analysis.saturation import saturation_bootstrap


def test_bootstrap_over_no_interviews_is_empty():
    presence = pd.DataFrame(columns=["hope", "meaning"], dtype=int)
    curve, orders = saturation_bootstrap(presence, n_orders=5, random_state=0)
    assert curve.empty
    assert len(orders) == 5 and orders["position"].isna().all() and (orders["order"] == "").all()
