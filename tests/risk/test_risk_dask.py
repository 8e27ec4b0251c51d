"""The Dask executor on a local 2-process cluster gives the local executor's numbers."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from risk.book import Book
from risk.executors import DaskExecutor, LocalExecutor
from risk.inputs import MarketGrid, RunConfig
from risk.library import get_builtin
from risk.runner import run_stress
from valuation.errors import ConventionError


def test_dask_local_cluster_equals_local(small_book: Book, grid: MarketGrid) -> None:
    distributed = pytest.importorskip("distributed")
    config = RunConfig(n_paths=32, asset_chunk_size=3, loan_chunk_size=8)
    scenarios = [get_builtin("severe_combined"), get_builtin("rates_up_200bp")]
    local = run_stress(small_book, scenarios, grid, config=config, executor=LocalExecutor())
    seen: list[float] = []
    # dask's own start-up and shutdown chatter (ports, nanny restarts) is not ours to fail on
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"(distributed|dask|tornado)(\..*)?")
        warnings.filterwarnings("ignore", category=ResourceWarning)
        with (
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            remote = run_stress(
                small_book,
                scenarios,
                grid,
                config=config,
                executor=DaskExecutor(client=client),
                progress=seen.append,
            )
    for a, b in zip(local, remote, strict=True):
        pd.testing.assert_frame_equal(a.positions, b.positions, check_exact=True)
        pd.testing.assert_frame_equal(a.aggregate, b.aggregate, check_exact=True)
        assert b.record["executor"] == "dask"
    assert seen[-1] == 1.0


def test_dask_executor_needs_an_address() -> None:
    with pytest.raises(ConventionError) as info:
        DaskExecutor()
    assert info.value.field == "address"
