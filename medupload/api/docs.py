"""Swagger UI for ``/api/v1`` from files served here (Swagger UI 5, shipped in the swagger-ui-py
package), not from a CDN: the page runs under the app's Content-Security-Policy, no inline script."""

from __future__ import annotations

from pathlib import Path

import swagger_ui
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

SWAGGER_UI_DIR = Path(swagger_ui.__file__).parent / "static"


def install_docs(api: FastAPI, prefix: str) -> None:
    docs = f"{prefix}/docs"
    assets = f"{docs}/assets"
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{api.title} · docs</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{docs}/init.js"></script>
</body>
</html>
"""
    init = f"""window.ui = SwaggerUIBundle({{
  url: "{api.openapi_url}",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
}});
"""

    @api.get(docs, include_in_schema=False)
    def swagger_page() -> HTMLResponse:
        return HTMLResponse(page)

    @api.get(f"{docs}/init.js", include_in_schema=False)
    def swagger_init() -> Response:
        return Response(init, media_type="text/javascript")

    api.mount(assets, StaticFiles(directory=SWAGGER_UI_DIR), name="swagger-ui")
