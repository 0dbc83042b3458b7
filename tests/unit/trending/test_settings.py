from __future__ import annotations

import pydantic
import pytest

from paperwire_common.trends.port import ETYPES
from paperwire_trending.settings import TrendingSettings


def test_env_prefix_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERWIRE_TRENDING_WEIGHT_VIEW", "3")
    monkeypatch.setenv("PAPERWIRE_TRENDING_HALF_LIFE_24H_S", "43200")
    s = TrendingSettings()
    assert s.weight_view == 3.0 and s.weight("view") == 3.0
    assert s.half_lives() == {"24h": 43_200.0, "7d": 604_800.0, "30d": 2_592_000.0}
    assert (s.weight_upvote, s.weight_download, s.weight_mention, s.weight_comment) == (5.0, 2.0, 3.0, 2.0)
    assert s.max_future_s == 300.0
    assert [s.weight(e) for e in ETYPES] == [3.0, 5.0, 2.0, 2.0, 3.0, 2.0, 5.0]  # every breakdown type


@pytest.mark.parametrize("field", ["weight_view", "half_life_7d_s", "prior_weight", "dedupe_horizon_s"])
@pytest.mark.parametrize("value", [float("inf"), float("nan"), -1.0])
def test_weights_and_times_must_be_finite_and_not_negative(field: str, value: float) -> None:
    with pytest.raises(pydantic.ValidationError):
        TrendingSettings.model_validate({field: value})


def test_every_setting_is_documented() -> None:
    for name, f in TrendingSettings.model_fields.items():
        assert f.description, name
