"""Everything a service process needs from its ``[tool.plimsoll]`` settings, in one object.

A FastAPI, Starlette, Flask or Django app, or a worker, builds one :class:`RuntimeService` at
import time and gets the health endpoints (readiness runs the configured checks), the
``/metrics`` endpoint, and, between :meth:`RuntimeService.start` and
:meth:`RuntimeService.stop`, the performance monitor sampling the process and its metrics into
the store (where ``plimsoll runtime watch`` evaluates alert rules and ``plimsoll runtime slo``
reads the counters) and the usage tracker flushing ``@track_usage`` events there::

    from contextlib import asynccontextmanager
    from fastapi import FastAPI
    from plimsoll.runtime.service import RuntimeService

    runtime = RuntimeService.from_config()          # [tool.plimsoll] found from the cwd

    app = FastAPI(lifespan=runtime.lifespan)        # start() at startup, stop() at shutdown
    app.mount("/metrics", runtime.metrics_asgi())
    app.mount("/health", runtime.health_asgi(base=""))   # /health/live and /health/ready

A WSGI app or a worker uses ``with runtime:`` (or ``start()`` and ``stop()``) around its life,
and :meth:`RuntimeService.health_wsgi` / :meth:`RuntimeService.metrics_wsgi`. One process
samples: with several workers each starts a monitor, the first to take the sampler lease
(:mod:`plimsoll.runtime.sampler_lease`; ``runtime.monitor.single_sampler``) samples and the
others stand by to take over when it exits. Put the counters in Prometheus's multiprocess
mode so that the one sampler reads every worker's (docs/runtime/metrics.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plimsoll.core.config import LoadedConfig, load

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from plimsoll.core.store import Store
    from plimsoll.runtime.endpoints import HealthASGI, HealthWSGI
    from plimsoll.runtime.exposition import MetricsASGIApp
    from plimsoll.runtime.health import HealthRunner
    from plimsoll.runtime.monitor import PerformanceMonitor
    from plimsoll.runtime.sampler_lease import SamplerLease

__all__ = ["RuntimeService"]


class RuntimeService:
    """The health runner, the metrics apps, the monitor and the usage tracker of one process.

    ``monitor`` (default on) starts the performance monitor with the service; ``usage``
    (default: ``runtime.usage.enabled``) sets up the ``@track_usage`` tracker; ``registry`` is
    the metrics registry to expose and sample (plimsoll's default registry when None).
    """

    def __init__(
        self,
        loaded: LoadedConfig,
        *,
        monitor: bool = True,
        usage: bool | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.loaded = loaded
        self.config = loaded.config
        self.registry = registry
        self._monitoring = monitor
        self._usage = self.config.runtime.usage.enabled if usage is None else usage
        self._runner: HealthRunner | None = None
        self.store: Store | None = None
        self.monitor: PerformanceMonitor | None = None

    @classmethod
    def from_config(
        cls,
        path: Path | str | None = None,
        *,
        start: Path | str | None = None,
        monitor: bool = True,
        usage: bool | None = None,
        registry: CollectorRegistry | None = None,
    ) -> RuntimeService:
        """The service of the configuration at ``path``, or the one found from ``start``.

        ``start`` defaults to the current folder (as the ``plimsoll`` command finds it); a
        service module usually passes its own folder. A bad configuration raises ConfigError
        naming the file and key.
        """
        found = load(
            Path(path) if path is not None else None,
            start=Path(start).resolve() if start is not None else Path.cwd(),
        )
        return cls(found, monitor=monitor, usage=usage, registry=registry)

    # --- endpoints ------------------------------------------------------------------------

    @property
    def health(self) -> HealthRunner:
        """The runner of ``runtime.health.checks`` (built on first use, then shared)."""
        if self._runner is None:
            from plimsoll.runtime.checks.loader import build_runner
            from plimsoll.runtime.config_loader import config_source
            from plimsoll.runtime.health import CheckContext

            context = CheckContext(database_url=self._database_url)
            self._runner = build_runner(
                self.config.runtime.health, where=config_source(self.loaded), context=context
            )
        return self._runner

    def _database_url(self, environment: str | None) -> str:
        from plimsoll.db.connection import resolve

        return resolve(self.loaded, environment).url.get_secret_value()

    def health_asgi(self, *, base: str = "/health") -> HealthASGI:
        """ASGI liveness (``<base>/live``) and readiness (``<base>``, ``<base>/ready``).

        Mounted under a router that strips the mount point (FastAPI's and Starlette's
        ``mount("/health", ...)``), pass ``base=""``.
        """
        from plimsoll.runtime.endpoints import HealthASGI

        return HealthASGI(self.health, **_paths(base))

    def health_wsgi(self, *, base: str = "/health") -> HealthWSGI:
        """The WSGI liveness and readiness app (the same paths as :meth:`health_asgi`)."""
        from plimsoll.runtime.endpoints import HealthWSGI

        return HealthWSGI(self.health, **_paths(base))

    def metrics_asgi(self, *, path: str | None = None) -> MetricsASGIApp:
        """The ASGI ``/metrics`` app of the service's registry."""
        from plimsoll.runtime.exposition import make_asgi_app

        return make_asgi_app(self.registry, path=path)

    def metrics_wsgi(self, *, path: str | None = None) -> Any:
        """The WSGI ``/metrics`` app of the service's registry."""
        from plimsoll.runtime.exposition import make_wsgi_app

        return make_wsgi_app(self.registry, path=path)

    # --- background work ------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether :meth:`start` ran and :meth:`stop` has not."""
        return self.store is not None

    def start(self) -> RuntimeService:
        """Open the store, sample once now and then every interval, set up usage tracking.

        The first sample is taken at once: the counters' values at start are the baseline
        that rates and SLO ratios count from.
        """
        if self.running:
            return self
        from plimsoll.core.store import open_configured

        self.store = store = open_configured(self.config.store, self.loaded.root)
        try:
            if self._monitoring:
                from plimsoll.runtime.monitor import PerformanceMonitor

                sampling = self.config.runtime.monitor
                self.monitor = PerformanceMonitor.from_config(
                    store,
                    sampling,
                    registry=self.registry,
                    usage_retention_seconds=self.config.runtime.usage.retention_seconds,
                    lease=self._lease(sampling.single_sampler, sampling.lock_file),
                )
                self.monitor.tick()
                self.monitor.start()
            if self._usage:
                from plimsoll.runtime import usage

                settings = self.config.runtime.usage
                usage.configure(
                    True,
                    store=store,
                    queue_size=settings.queue_size,
                    batch_size=settings.batch_size,
                    flush_interval=settings.flush_interval_seconds,
                    flush_timeout=settings.flush_timeout_seconds,
                )
        except BaseException:
            self.stop()
            raise
        return self

    def _lease(self, single: bool, lock_file: str | None) -> SamplerLease | None:
        """The sampler lease the workers of this service share (None: every process samples)."""
        if not single:
            return None
        from plimsoll.runtime.sampler_lease import SamplerLease, default_lock_path

        root = self.loaded.root
        path = root / Path(lock_file) if lock_file else default_lock_path(root)
        return SamplerLease(path)

    def stop(self) -> None:
        """Stop sampling (one last sample keeps the final counts), flush usage, close the store.

        The sampler lease goes with the monitor: a worker standing by takes it at its next tick.
        """
        if self.monitor is not None:
            self.monitor.stop()
            self.monitor.tick()
            if self.monitor.lease is not None:
                self.monitor.lease.release()
            self.monitor = None
        if self._usage:
            from plimsoll.runtime import usage

            usage.shutdown()
        if self.store is not None:
            self.store.close()
            self.store = None

    def __enter__(self) -> RuntimeService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @asynccontextmanager
    async def lifespan(self, app: object = None) -> AsyncIterator[None]:
        """An ASGI lifespan (FastAPI's and Starlette's ``lifespan=``): start, then stop."""
        self.start()
        try:
            yield
        finally:
            self.stop()


def _paths(base: str) -> dict[str, tuple[str, ...]]:
    base = base.rstrip("/")
    return {
        "readiness_paths": (base or "/", f"{base}/ready"),
        "liveness_paths": (f"{base}/live",),
    }
