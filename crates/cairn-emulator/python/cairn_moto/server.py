"""Wire moto's server app, the cairn extensions and the middleware together."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any

from . import runtime, twin


def build_app() -> Any:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from . import ec2_routes_ext, elasticache_ext, rds_ext, s3_ext
    from .middleware import CairnMiddleware

    from . import ec2_ext, scale_ext

    scale_ext.install()
    ec2_ext.install()
    ec2_routes_ext.install()
    elasticache_ext.install()
    from . import iam_ext

    iam_ext.install()
    from . import eks_ext

    eks_ext.install()
    rds_ext.install()
    from . import rds_instance_ext

    rds_instance_ext.install()
    s3_ext.install()
    return CairnMiddleware(DomainDispatcherApplication(create_backend_app))


def _watch_parent(server: Any) -> None:
    """Shut down when the process that started us dies (we get re-parented)."""
    import os
    import time

    parent = os.getppid()
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            print("cairn_moto: parent process exited, shutting down", file=sys.stderr, flush=True)
            server.shutdown()
            return


def serve(
    host: str,
    port: int,
    state_dir: Path,
    twin_enabled: bool,
    delay_ms: int | None,
    exit_with_parent: bool = False,
) -> None:
    from werkzeug.serving import make_server

    from moto.moto_server.werkzeug_app import MotoRequestHandler

    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("cairn_moto only binds loopback addresses")
    state_dir.mkdir(parents=True, exist_ok=True)
    with runtime.LOCK:
        runtime.CONFIG["state_dir"] = str(state_dir)
        if twin_enabled:
            runtime.CONFIG["twin"] = True
        if delay_ms is not None:
            runtime.CONFIG["delay_ms"] = delay_ms
    if runtime.twin_enabled() and not twin.redis_server_bin():
        print(
            "cairn_moto: twin mode requires redis-server on PATH (or CAIRN_REDIS_SERVER)",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(3)
    manager = twin.init(state_dir)

    app = build_app()
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)

    def shutdown(signum: int, _frame: Any) -> None:
        print(f"cairn_moto: signal {signum}, shutting down", file=sys.stderr, flush=True)
        threading.Thread(target=server.shutdown, daemon=True).start()

    if exit_with_parent:
        threading.Thread(target=_watch_parent, args=(server,), daemon=True).start()
    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    print(f"cairn_moto: listening on http://{host}:{port} (state dir {state_dir})", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        manager.stop_all()
        manager.clean_stale()
        print("cairn_moto: stopped", file=sys.stderr, flush=True)
