"""Executors: run a list of independent chunk tasks locally or on a Dask cluster.

One interface, `Executor.map(fn, tasks, shared=..., progress=...)`: call
``fn(task, **shared)`` for every task and return the results in task order. Chunks are
seeded by their content (the runner derives every random stream from the run's seed and
the position's id), never by the worker that runs them, so `LocalExecutor` and
`DaskExecutor` give identical numbers. ``progress(done, total)`` is called as chunks
finish (in completion order on Dask).

The scheduler address is an argument: the shell reads it from its configuration or the
environment; the core never does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[int, int], None]


class Executor(Protocol):
    """Runs chunk tasks; results come back in task order."""

    name: str

    def map(
        self,
        fn: Callable[..., R],
        tasks: Sequence[Any],
        *,
        shared: Mapping[str, Any] | None = None,
        progress: Progress | None = None,
    ) -> list[R]:
        """``[fn(task, **shared) for task in tasks]``, reporting ``progress(done, total)``."""
        ...


class LocalExecutor:
    """Runs the chunks one after the other in this process (each chunk is vectorised)."""

    name = "local"

    def map(
        self,
        fn: Callable[..., R],
        tasks: Sequence[Any],
        *,
        shared: Mapping[str, Any] | None = None,
        progress: Progress | None = None,
    ) -> list[R]:
        """Apply ``fn`` to every task and return the results in order."""
        kw = dict(shared or {})
        out: list[R] = []
        total = len(tasks)
        for i, task in enumerate(tasks):
            out.append(fn(task, **kw))
            if progress is not None:
                progress(i + 1, total)
        return out

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Box:
    """Wraps a shared argument so that Dask scatters it as one object (not element-wise)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __reduce__(self) -> tuple[type[_Box], tuple[Any]]:
        return (_Box, (self.value,))


def _call_boxed(fn: Callable[..., R], task: Any, **boxes: _Box) -> R:
    return fn(task, **{k: b.value for k, b in boxes.items()})


class DaskExecutor:
    """Runs the chunks on a ``dask.distributed`` cluster.

    Parameters
    ----------
    address : str, optional
        Scheduler address (``tcp://host:8786``); used when ``client`` is not given.
    client : distributed.Client, optional
        An existing client (not closed by this executor).
    timeout_s : float, optional
        Seconds to wait for the scheduler (dask's default when None).

    Notes
    -----
    ``shared`` arguments (large read-only arrays) are scattered once to every worker and
    passed to the tasks as futures; tasks are submitted with ``pure=False`` so that two
    runs never share cached results by accident.
    """

    name = "dask"

    def __init__(
        self,
        address: str | None = None,
        *,
        client: Any | None = None,
        timeout_s: float | None = None,
    ) -> None:
        if client is None and not address:
            from valuation.errors import ConventionError

            raise ConventionError(
                "The `address` of `DaskExecutor` must be a scheduler address "
                "such as 'tcp://127.0.0.1:8786' when no client is given.",
                field="address",
            )
        if client is None:
            from distributed import Client

            # distributed ships no type hints
            client = (
                Client(address, timeout=timeout_s)  # type: ignore[no-untyped-call]
                if timeout_s
                else Client(address)  # type: ignore[no-untyped-call]
            )
            self._owns = True
        else:
            self._owns = False
        self.client = client

    def map(
        self,
        fn: Callable[..., R],
        tasks: Sequence[Any],
        *,
        shared: Mapping[str, Any] | None = None,
        progress: Progress | None = None,
    ) -> list[R]:
        """Apply ``fn`` to every task on the Dask cluster and return the results in order."""
        from distributed import as_completed

        total = len(tasks)
        if total == 0:
            return []
        kw = {
            k: self.client.scatter(_Box(v), broadcast=True, hash=False)
            for k, v in (shared or {}).items()
        }
        futures = [self.client.submit(_call_boxed, fn, task, pure=False, **kw) for task in tasks]
        try:
            for done, fut in enumerate(as_completed(futures), start=1):  # type: ignore[no-untyped-call]
                if fut.status == "error":
                    fut.result()  # raises the task's exception here
                if progress is not None:
                    progress(done, total)
            return [f.result() for f in futures]
        finally:
            for f in futures:
                f.release()
            for f in kw.values():
                f.release()

    def close(self) -> None:
        """Close the client if this executor opened it."""
        if self._owns:
            self.client.close()

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
