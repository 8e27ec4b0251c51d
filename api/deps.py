"""FastAPI dependencies: database session and API-key authentication.

Usage in a router::

    @router.post("/assets", status_code=201)
    def register(
        body: AssetCreate,
        principal: Annotated[Principal, Depends(require_roles("registrar"))],
        session: SessionDep,
    ): ...

Rules (the API contract): ``Authorization: Bearer <key>``; a missing, unknown or revoked key is a
401 with ``WWW-Authenticate: Bearer``; a valid key whose role is not among ``roles`` is a
403; ``admin`` passes every role check. Tenant isolation (another tenant's object is a
404) is the router's or service's job, using ``principal.tenant``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api import auth_cache
from models import security

ROLES: tuple[str, ...] = ("admin", "registrar", "bank", "fund_manager", "risk")

MAX_ROW_ID = 2**63 - 1
"""The largest integer id a row can have (a signed 64-bit integer, as on PostgreSQL)."""

RowId = Annotated[
    int, Path(ge=-MAX_ROW_ID - 1, le=MAX_ROW_ID, description="Integer id of the object.")
]
"""Path parameter type for integer ids: an id beyond any row's is a 422 naming the
parameter instead of reaching the database (where it would overflow the column type)."""

_bearer = HTTPBearer(auto_error=False, description="API key from `datafin keys create`.")


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: the key's id, its role and its tenant."""

    key_id: str
    role: str
    tenant: str

    def has_role(self, *roles: str) -> bool:
        """True when the caller's role is one of `roles` (``admin`` always is)."""
        return self.role == "admin" or self.role in roles

    @property
    def actor(self) -> str:
        """The caller as the audit chain names it: ``key:<key id>``."""
        return f"key:{self.key_id}"


def secret_key(request: Request) -> str:
    """The service's secret key (signs cursors and certificates)."""
    return str(request.app.state.settings.secret_key)


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One SQLModel session per request, from ``app.state.session_factory``.

    Objects stay readable after commit (``expire_on_commit=False``). Services commit
    their own unit of work; anything not committed is rolled back when the session
    closes. Making the session does no I/O (it connects at its first query, in the
    route's thread), so this dependency runs on the event loop: no thread hop.
    """
    session = request.app.state.session_factory()
    try:
        yield session
    finally:
        session.close()


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


SessionDep = Annotated[Session, Depends(get_session)]
"""Annotated dependency: ``session: SessionDep`` in a route signature."""


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Authenticate the bearer key; 401 when missing or not valid.

    The request guard (`api.limits`) has usually resolved the key already
    (``request.state.principal``); else a key seen within the last ``AUTH_CACHE_SECONDS``
    is answered from `api.auth_cache`, and only a miss reads the database (in a worker
    thread). The principal is kept in ``request.state.principal`` for the access log.
    """
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise _unauthorized("An API key is required: send `Authorization: Bearer <key>`.")
    guarded = getattr(request.state, "principal", None)
    principal = (
        guarded
        if isinstance(guarded, Principal)
        else cached_principal(request.app, credentials.credentials)
    )
    if principal is None:
        principal = await run_in_threadpool(resolve_principal, request.app, credentials.credentials)
    if principal is None:
        raise _unauthorized("The API key is not valid.")
    request.state.principal = principal
    return principal


def cached_principal(app: Any, plain: str) -> Principal | None:
    """The principal of ``plain`` when `api.auth_cache` holds it (no I/O), else None."""
    principal = auth_cache.for_app(app).get(security.hash_key(plain))
    return principal if isinstance(principal, Principal) else None


def resolve_principal(app: Any, plain: str) -> Principal | None:
    """The caller a plain API key stands for, or None (unknown, malformed or revoked).

    Answered from `api.auth_cache` when the key was seen within ``AUTH_CACHE_SECONDS``
    (revocation invalidates it), else with one database read. Used by the route
    dependency and by the request guard (`api.limits`), which authenticates before the
    body is read.
    """
    cache = auth_cache.for_app(app)
    digest = security.hash_key(plain)
    principal = cache.get(digest)
    if principal is None:
        with app.state.session_factory() as session:
            key = security.authenticate(session, plain)
            if key is None:
                return None
            principal = Principal(key_id=str(key.id), role=key.role, tenant=key.tenant)
        cache.put(digest, principal)
    return principal


def require_roles(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """Dependency factory: authenticate, then require one of `roles` (admin always passes).

    ``require_roles()`` with no roles admits every authenticated key.
    """
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"Unknown roles {sorted(unknown)}; known roles are {list(ROLES)}.")

    async def dependency(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if roles and not principal.has_role(*roles):
            raise HTTPException(
                status_code=403,
                detail=f"The role `{principal.role}` may not call this endpoint; "
                f"it needs one of: {', '.join(roles)}.",
            )
        return principal

    return dependency
