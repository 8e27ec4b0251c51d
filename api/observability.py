"""Request ids, Prometheus metrics and structured (JSON-line) logs for the HTTP service.

`install(app)` wraps the whole application (outside Starlette's error middleware, so even
an unhandled 500 carries its id) in `ObservabilityMiddleware`, a plain ASGI middleware
that costs a few microseconds per request:

* ``X-Request-ID`` on every response: the caller's own when it sent a well-formed one
  (1-128 characters of letters, digits and ``-_.:``), else a new random one; the id is in
  ``request.state.request_id`` for handlers and in every access-log line.
* Metrics (``GET /metrics``, Prometheus text format, prometheus-client): requests by
  route template, method and status (``datafin_http_requests_total``), request latency
  histograms by route (``datafin_http_request_duration_seconds``), valuation and pricing
  durations (``datafin_valuation_duration_seconds``, ``datafin_pricing_duration_seconds``:
  the requests of the routes that value an asset or price a product), job queue depth by
  kind and status (``datafin_job_queue_depth``, read from the job table at each scrape) and
  job durations by kind and outcome (``datafin_job_duration_seconds``, observed by the
  worker, see `api.worker`).
* One access-log line per request on the ``datafin.access`` logger: request id, method,
  route template (never the raw path or query), status, duration in ms and the caller's
  tenant and key id once authenticated. Headers and bodies are never logged, so neither
  are API keys. `configure_logging` (called by ``datafin serve`` and ``datafin worker``)
  makes every logger write JSON lines to stderr.

With several server processes (``datafin serve --workers N``) each process keeps its own
counters; set ``PROMETHEUS_MULTIPROC_DIR`` (``serve`` does it for N > 1) and ``/metrics``
adds them up across processes (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access_logger = logging.getLogger("datafin.access")

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

#: Latency buckets (seconds) from 1 ms to 30 s: API reads sit at the low end, valuations
#: and pricing in the middle.
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
JOB_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)

HTTP_REQUESTS = Counter(
    "datafin_http_requests_total",
    "HTTP requests by route and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "datafin_http_request_duration_seconds",
    "HTTP request latency by route.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
VALUATION_DURATION = Histogram(
    "datafin_valuation_duration_seconds",
    "Duration of the requests that value an asset, by route.",
    ["route"],
    buckets=LATENCY_BUCKETS,
)
PRICING_DURATION = Histogram(
    "datafin_pricing_duration_seconds",
    "Duration of the requests that price a product, by route.",
    ["route"],
    buckets=LATENCY_BUCKETS,
)
JOB_QUEUE_DEPTH = Gauge(
    "datafin_job_queue_depth",
    "Jobs in the job table by kind and status (queued or running), read at each scrape.",
    ["kind", "status"],
    multiprocess_mode="livemax",
)
JOB_DURATION = Histogram(
    "datafin_job_duration_seconds",
    "Durations of finished job attempts by kind and outcome.",
    ["kind", "outcome"],
    buckets=JOB_BUCKETS,
)


def _family(method: str, route: str) -> Histogram | None:
    """The domain histogram a request also counts in (valuation or pricing), if any."""
    if method != "POST":
        return None
    if route.endswith("/valuations") or route.endswith("/revalue"):
        return VALUATION_DURATION
    if route.endswith("/price") or route.endswith("/loans/quote"):
        return PRICING_DURATION
    return None


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/v1/assets/{asset_id}``), from the request path
    with each path parameter's segment put back as ``{name}``; ``<unmatched>`` when no
    route matched (so label values stay bounded whatever paths clients send)."""
    if scope.get("route") is None:
        return "<unmatched>"
    path = scope.get("path", "")
    params = scope.get("path_params") or {}
    if not params:
        return path
    by_value = {str(v): k for k, v in params.items()}
    return "/".join(
        "{" + by_value[seg] + "}" if seg in by_value else seg for seg in path.split("/")
    )


def request_id_of(scope: Scope) -> str:
    """The caller's ``X-Request-ID`` when well formed, else a new random id."""
    for name, value in scope.get("headers") or ():
        if name == b"x-request-id":
            try:
                candidate = value.decode("ascii")
            except UnicodeDecodeError:
                break
            if _REQUEST_ID_OK.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex


class ObservabilityMiddleware:
    """ASGI middleware: request id header, metrics and one access-log line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id_of(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        header = (b"x-request-id", rid.encode("ascii"))
        status = 500
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            route = route_template(scope)
            method = scope.get("method", "")
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(elapsed)
            family = _family(method, route)
            if family is not None and status < 400:
                family.labels(route).observe(elapsed)
            if access_logger.isEnabledFor(logging.INFO):
                principal = state.get("principal")
                access_logger.info(
                    "request",
                    extra={
                        "fields": {
                            "request_id": rid,
                            "method": method,
                            "route": route,
                            "status": status,
                            "duration_ms": round(elapsed * 1000.0, 3),
                            "tenant": getattr(principal, "tenant", None),
                            "key_id": getattr(principal, "key_id", None),
                        }
                    },
                )


def install(app: Any) -> None:
    """Wrap ``app`` (a FastAPI app) in `ObservabilityMiddleware` and add ``GET /metrics``.

    The middleware goes around the whole stack Starlette builds (error middleware
    included), so every response, a 500 too, carries ``X-Request-ID``.
    """
    build = app.build_middleware_stack

    def build_with_observability() -> ASGIApp:
        return ObservabilityMiddleware(build())

    app.build_middleware_stack = build_with_observability

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        """Prometheus text format (not part of the versioned API)."""
        refresh_queue_depth(request.app.state.session_factory)
        return Response(render(), media_type=CONTENT_TYPE_LATEST)


def refresh_queue_depth(session_factory: Callable[[], Any]) -> None:
    """Set `JOB_QUEUE_DEPTH` from the job table (0 for the kinds with nothing waiting)."""
    from api import jobs

    try:
        with session_factory() as session:
            counts = jobs.queue_depth(session)
    except Exception:  # a scrape never fails for this (e.g. before the table exists)
        logging.getLogger("datafin.api").exception("could not read the job queue depth")
        return
    for kind in jobs.KINDS:
        for status in ("queued", "running"):
            JOB_QUEUE_DEPTH.labels(kind, status).set(counts.get((kind, status), 0))


def render() -> bytes:
    """This process's metrics, or every server process's in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()


# ------------------------------------------------------------------------- JSON logs
#: Attribute names a log record always has (everything else came in through ``extra``).
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None)))
_SECRET_WORDS = re.compile(r"dfk_[0-9a-f]{8}_[A-Za-z0-9_\-]+")


def redact(text: str) -> str:
    """Replace anything shaped like an API key (``dfk_<prefix>_<secret>``) by its prefix."""
    return _SECRET_WORDS.sub(lambda m: m.group(0)[:12] + "_<redacted>", text)


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (RFC 3339, ``Z``), ``level``, ``logger``,
    ``message``, the record's ``fields`` (see `ObservabilityMiddleware`) and, for an
    exception, its traceback as ``exc``. API keys are redacted from messages."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            doc.update(fields)
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and key not in (
                "fields",
                "message",
                "asctime",
                "color_message",
            ):
                doc.setdefault(key, value)
        if record.exc_info:
            doc["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(doc, default=str, ensure_ascii=False)


def configure_logging(level: str | int = "INFO") -> None:
    """Every logger writes JSON lines to stderr (uvicorn's own access log is replaced by
    ``datafin.access``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
