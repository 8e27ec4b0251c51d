"""Swagger UI and ReDoc served by the app itself, so ``/docs`` and ``/redoc`` work offline.

The JavaScript and CSS come from the ``fastapi-offline`` package (MIT licence; it ships
Swagger UI's ``swagger-ui-bundle.js`` / ``swagger-ui.css`` under Apache-2.0 and ReDoc's
``redoc.standalone.js`` under MIT), mounted at ``/static-docs``: a well-kept package that
pins the assets beats vendoring minified files into this repository. Nothing is loaded from
a CDN.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request

STATIC_URL = "/static-docs"


def assets_dir() -> Path:
    """The directory of the packaged Swagger UI / ReDoc assets."""
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def install(app: Any, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Serve the assets and the two documentation pages on ``app`` (created with
    ``docs_url=None, redoc_url=None``)."""
    from fastapi.openapi.docs import (
        get_redoc_html,
        get_swagger_ui_html,
        get_swagger_ui_oauth2_redirect_html,
    )
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    app.mount(STATIC_URL, StaticFiles(directory=assets_dir()), name="static-docs")
    oauth_redirect = app.swagger_ui_oauth2_redirect_url

    @app.get(docs_url, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=oauth_redirect,
            swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_URL}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    if oauth_redirect:

        @app.get(oauth_redirect, include_in_schema=False)
        def swagger_ui_redirect() -> HTMLResponse:
            return get_swagger_ui_oauth2_redirect_html()

    @app.get(redoc_url, include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{STATIC_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{STATIC_URL}/favicon.png",
            with_google_fonts=False,
        )
