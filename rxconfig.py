import os

import reflex as rx

config = rx.Config(
    app_name="medupload",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # Several backend workers share state through Redis when this is set (see README).
    redis_url=os.environ.get("REFLEX_REDIS_URL") or None,
)
