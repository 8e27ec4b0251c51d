"""Compiled kernel of the loss recursion: conditional loss distributions, one factor node at a time.

`credit.portfolio.conditional_distributions` adds loans one by one to the conditional loss
distributions of every factor node with whole-array numpy operations; each step passes over
the ``(nodes, grid)`` array several times, which does not fit in cache for large grids. This
kernel runs the same recursion (Andersen, Sidenius and Basu 2003) node by node, in place on
one row that stays in cache, and spreads the nodes over the machine's cores. It is compiled by
numba on first use (imported lazily so that importing `credit` stays fast); without numba the
numpy path runs. The two are tested equal (``tests/credit/test_credit_quadrature.py``).

In-place update for a loan with default probability ``p`` and loss ``k`` units (``k + 1``
with weight ``1 - w`` when the grid splits it), walking the grid downwards so that every
source cell is read before it is overwritten::

    new[j] = (1 - p) old[j] + p w old[j - k] + p (1 - w) old[j - k - 1]
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import numpy as np

from credit._jit import PARALLEL_LOCK

AVAILABLE = importlib.util.find_spec("numba") is not None


def _one_node(
    cp: np.ndarray, order: np.ndarray, k_lo: np.ndarray, w_lo: np.ndarray, row: np.ndarray
) -> None:
    row[:] = 0.0
    row[0] = 1.0
    top = 0
    for i in order:
        p = cp[i]
        s = 1.0 - p
        k = k_lo[i]
        w = w_lo[i]
        if w >= 1.0:
            if k == 0:
                continue  # no loss: the distribution does not move
            pw = p
            for j in range(top, -1, -1):
                v = row[j]
                row[j + k] += v * pw
                row[j] = v * s
            top += k
        else:
            pw = p * w
            ph = p - pw
            for j in range(top, -1, -1):
                v = row[j]
                row[j + k + 1] += v * ph
                if k == 0:
                    row[j] = v * (s + pw)
                else:
                    row[j + k] += v * pw
                    row[j] = v * s
            top += k + 1


def _all_nodes(
    cp: np.ndarray, order: np.ndarray, k_lo: np.ndarray, w_lo: np.ndarray, out: np.ndarray
) -> None:
    for q in _prange(cp.shape[0]):
        _one_node(cp[q], order, k_lo, w_lo, out[q])


_prange = range
_compiled: Callable[..., None] | None = None


def conditional_distributions(
    cp: np.ndarray, order: np.ndarray, k_lo: np.ndarray, w_lo: np.ndarray, n_units: int
) -> np.ndarray:
    """P(L = j unit | z_q) for every node q (rows of ``cp``), shape ``(n_nodes, n_units + 1)``."""
    global _compiled, _prange
    with PARALLEL_LOCK:
        if _compiled is None:
            import numba

            g = globals()
            g["_one_node"] = numba.njit(cache=True, nogil=True)(_one_node)
            _prange = numba.prange
            _compiled = numba.njit(cache=True, nogil=True, parallel=True)(_all_nodes)
        out = np.empty((cp.shape[0], n_units + 1))
        _compiled(
            np.ascontiguousarray(cp),
            order.astype(np.int64),
            k_lo.astype(np.int64),
            w_lo.astype(np.float64),
            out,
        )
    return out
