"""The analyst web UI: a Starlette (ASGI) app served by uvicorn (``soc-platform ui``)."""
