"""``nightshift serve``: check who may call, say so, and run the app under uvicorn."""

from __future__ import annotations

import logging
import os

from api.access import AccessConfigError, parse_keys, require_open_allowed
from pipelines.settings import get_settings

log = logging.getLogger("api")


def serve(host: str, port: int) -> int:
    """Run the service until interrupted; 2 when the settings forbid starting it."""
    # One row at a time, OpenMP's thread team costs the gradient booster more than it saves:
    # set before scikit-learn loads its runtime (the app is imported below, by uvicorn).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = get_settings()
    try:
        keys = parse_keys(settings.api_keys.get_secret_value() if settings.api_keys else None)
        require_open_allowed(keys, settings.publish_dsn is not None, host)
    except AccessConfigError as exc:
        log.error("not starting the predictions API: %s", exc)
        return 2
    store = "PostgreSQL application table" if settings.publish_dsn else "lake"
    if keys.open:
        log.warning(
            "predictions API OPEN on %s:%d: no NIGHTSHIFT_API_KEYS, anyone on this machine may "
            "read and score (the embedded default; production refuses to start so)",
            host,
            port,
        )
    else:
        log.info("predictions API on %s:%d, %d API keys", host, port, len(keys.keys))
    log.info("published predictions read from the %s", store)
    import uvicorn

    # The factory by name (not an import here): the app and its services load in the server.
    uvicorn.run(
        "api.app:create_app", factory=True, host=host, port=port, access_log=False, workers=1
    )
    return 0
