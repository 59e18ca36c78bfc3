"""``GET /metrics``: Prometheus text, for the loopback interface or a staff token.

Behind a reverse proxy every request comes from loopback, so a request carrying
``X-Forwarded-For`` (which the proxy sets, docs/deploy.md) is not treated as local: from
outside, a staff bearer token is needed (else 403). What the database and Redis know is read
here at scrape time, so whichever server process answers, the figures are the same.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import col, select

from medupload import metrics
from medupload.api.deps import TokenDep, verified_principal
from medupload.api.errors import ApiError
from medupload.db import session_scope
from medupload.models import Document
from medupload.progress.stages import DocumentStatus
from medupload.redis_client import sync_redis

router = APIRouter(tags=["metrics"])

STATUSES = tuple(DocumentStatus)


@router.get("/metrics", include_in_schema=False)
async def scrape(request: Request, token: TokenDep) -> Response:
    if not _local(request):
        # The same check as every other route (forged, expired, signed out, disabled: no).
        principal = await verified_principal(token) if token else None
        if principal is None or principal.role != "staff":
            raise ApiError(403, "auth.forbidden")
    body = await asyncio.to_thread(metrics.render, [DatabaseCollector(), QueueCollector()])
    return Response(body, media_type=metrics.CONTENT_TYPE)


def _local(request: Request) -> bool:
    if request.headers.get("x-forwarded-for") or request.client is None:
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


class DatabaseCollector(Collector):
    """Documents by status. (Stage durations are a histogram the emitter observes,
    ``metrics.STAGE_SECONDS``: the staff dashboard's p50/p90 over the latest documents are not
    repeated here.)"""

    def collect(self) -> Iterator[Metric]:
        documents = GaugeMetricFamily("medupload_documents", "Documents by status", labels=["status"])
        with session_scope() as session:
            counts = dict(session.exec(
                select(Document.status, func.count()).group_by(col(Document.status))).all())
        for status in STATUSES:
            documents.add_metric([status], float(counts.get(status, 0)))
        yield documents


class QueueCollector(Collector):
    """Documents waiting for a worker (queue mode): the Dramatiq queue in Redis."""

    def collect(self) -> Iterator[Metric]:
        from medupload.pipeline import dispatch

        depth = GaugeMetricFamily("medupload_queue_depth", "Messages waiting in the document queue",
                                  labels=["queue"])
        key = f"{dispatch.namespace()}:{dispatch.QUEUE_NAME}"
        try:
            with sync_redis().pipeline(transaction=False) as pipe:
                pipe.llen(key)
                pipe.llen(f"{key}.DQ")
                waiting, delayed = pipe.execute()
        except Exception:
            return  # Redis down: no figure rather than a wrong one (health says degraded)
        depth.add_metric([dispatch.QUEUE_NAME], float(waiting))
        depth.add_metric([f"{dispatch.QUEUE_NAME}.delayed"], float(delayed))
        yield depth
