# NexusTop: one image for the web app, the Celery worker, Celery beat and migrations.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # conversations/i18n.py finds locales/ next to the packages' parent directory: importing the
    # packages from /app (ahead of site-packages) keeps /app/locales reachable.
    PYTHONPATH=/app

WORKDIR /app

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app

# The dependencies first, exactly as locked and hash-checked (their own layer, rebuilt only when the
# lock changes), then the project itself with no dependency resolution of its own.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock

# Copy only what the package needs (no .venv, var/, caches).
COPY pyproject.toml README.md ./
COPY admin ./admin
COPY bots ./bots
COPY conversations ./conversations
COPY domain ./domain
COPY services ./services
COPY nexustop ./nexustop
COPY payments ./payments
COPY sandbox ./sandbox
COPY locales ./locales
RUN pip install --no-deps --no-build-isolation . \
    # var/ holds Celery beat's schedule file: the only place the app user may write.
    && mkdir -p /app/var \
    && chown app:app /app/var

USER app

EXPOSE 8080
CMD ["nexustop", "serve", "--host", "0.0.0.0", "--port", "8080"]
