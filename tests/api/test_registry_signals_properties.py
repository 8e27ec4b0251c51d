"""Property tests of signal parsing and validation (pure: no database)."""

from __future__ import annotations

import math
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.errors import InvalidInputError
from api.schemas.registry import SIGNAL_METRICS
from api.services.signals import SignalValue, parse_signals_csv, validate_signal_rows

months = st.builds(date, st.integers(2000, 2099), st.integers(1, 12), st.just(1))
values = st.floats(min_value=0.0, max_value=1e12, allow_nan=False, allow_infinity=False)
batches = st.lists(
    st.tuples(st.sampled_from(sorted(SIGNAL_METRICS)), months, values),
    min_size=1,
    max_size=40,
    unique_by=lambda r: (r[0], r[1]),
)
bad_cells = st.sampled_from(
    [
        ("value", "-1"),
        ("value", "nan"),
        ("value", "-inf"),
        ("value", "1e400"),
        ("value", "ten"),
        ("month", "2025-00"),
        ("month", "25-01"),
        ("month", "2025-1"),
        ("metric", "Revenue"),
        ("metric", ""),
    ]
)


def to_csv(rows: list[tuple[str, date, float]]) -> str:
    return "month,metric,value\n" + "".join(f"{m:%Y-%m},{k},{v!r}\n" for k, m, v in rows)


@settings(max_examples=60, deadline=None)
@given(batch=batches)
def test_csv_round_trip_keeps_every_value_exactly(batch) -> None:
    parsed = validate_signal_rows(parse_signals_csv(to_csv(batch)), from_text=True)
    assert parsed == [SignalValue(metric=k, month=m, value=v) for k, m, v in batch]


@settings(max_examples=60, deadline=None)
@given(batch=batches, data=st.data(), bad=bad_cells)
def test_one_bad_cell_rejects_the_batch_naming_its_row_and_field(batch, data, bad) -> None:
    field, cell = bad
    row_no = data.draw(st.integers(1, len(batch)))
    rows = parse_signals_csv(to_csv(batch))
    rows[row_no - 1] = dict(rows[row_no - 1], **{field: cell})
    with pytest.raises(InvalidInputError) as info:
        validate_signal_rows(rows, from_text=True)
    assert info.value.errors is not None
    assert info.value.errors[0]["field"] == f"rows[{row_no}].{field}"
    assert f"Row {row_no}" in info.value.detail


@given(value=st.floats(allow_nan=True, allow_infinity=True))
def test_json_values_accepted_iff_finite_and_non_negative(value) -> None:
    rows = [{"month": "2025-01", "metric": "revenue", "value": value}]
    ok = math.isfinite(value) and value >= 0.0
    if ok:
        assert validate_signal_rows(rows)[0].value == value
    else:
        with pytest.raises(InvalidInputError):
            validate_signal_rows(rows)
