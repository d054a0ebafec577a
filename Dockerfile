# bandsync: one image for the API (default command) and the worker (`arq workers.settings.WorkerSettings`).
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 VIRTUAL_ENV=/opt/venv
RUN pip install "uv==0.13.9" && uv venv /opt/venv
WORKDIR /src
COPY requirements.lock ./
RUN uv pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY app ./app
COPY workers ./workers
RUN uv pip install --no-deps --no-build-isolation .

FROM python:3.11-slim
RUN groupadd --gid 10001 bandsync && useradd --uid 10001 --gid 10001 --create-home bandsync
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/bandsync
COPY alembic.ini ./
COPY migrations ./migrations
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 BANDSYNC_ENVIRONMENT=production
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["uvicorn", "app.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers", "--no-access-log"]
