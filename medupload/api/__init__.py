"""The REST and SSE API under ``/api/v1``, handed to Reflex through ``api_transformer``."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from medupload.api import auth_routes, documents, health, metrics, review, stream
from medupload.api.docs import install_docs
from medupload.api.errors import install_error_handlers

API_PREFIX = "/api/v1"


def create_api() -> FastAPI:
    api = FastAPI(
        title="MedUpload API",
        version="1",
        docs_url=None,  # served from local files by install_docs below
        openapi_url=f"{API_PREFIX}/openapi.json",
        redoc_url=None,
    )
    install_error_handlers(api)
    install_docs(api, API_PREFIX)
    v1 = APIRouter(prefix=API_PREFIX)
    for router in (health.router, auth_routes.router, stream.router, documents.router, review.router):
        v1.include_router(router)
    api.include_router(v1)
    api.include_router(metrics.router)  # GET /metrics, outside /api/v1 as Prometheus expects
    return api
