# soc-platform image for the docker-compose stack (Dagster webserver and daemon).
FROM python:3.11-slim
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /opt/soc-platform
COPY pyproject.toml uv.lock README.md ./
COPY soc_platform ./soc_platform
COPY assets ./assets
COPY sensors ./sensors
COPY rules ./rules
RUN uv sync --frozen --no-dev --compile-bytecode
ENV PATH=/opt/soc-platform/.venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/home
COPY dagster.yaml workspace.yaml /opt/dagster/home/
