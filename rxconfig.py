import reflex as rx

from medupload.settings import Settings

# Reflex also reads REFLEX_* environment variables: REFLEX_REDIS_URL switches its state manager
# to Redis, which several server processes need: `WEB_WORKERS=N make run` sets it from
# MEDUPLOAD_REDIS_URL (scripts/run.sh, docs/deploy.md).
config = rx.Config(
    app_name="medupload",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # The UI is built on Radix Themes components; saying so keeps Reflex from guessing (and warning).
    plugins=[rx.plugins.RadixThemesPlugin()],
    # Every page is behind a login: a sitemap would only advertise the routes.
    disable_plugins=[rx.plugins.SitemapPlugin],
    # Reflex's default "*" mirrors any Origin with credentials (CORS and the socket): only ours.
    # A fresh Settings, not the cached one: this file is read before `reflex run` exports the port.
    cors_allowed_origins=list(Settings().allowed_origins),
)
