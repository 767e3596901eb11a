# Spruce server image: `docker build -t spruce . && docker run -p 5080-5100:5080-5100 -v spruce-data:/data spruce`
# Each index gets its own port above 5080, so publish a range. Set SPRUCE_API_KEYS to require keys.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SPRUCE_DATA=/data \
    SPRUCE_HOST=0.0.0.0 \
    SPRUCE_PORT=5080

WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . && rm -rf /src && useradd --create-home --uid 10001 spruce && mkdir -p /data && chown spruce /data

USER spruce
WORKDIR /data
VOLUME ["/data"]
EXPOSE 5080-5100
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"SPRUCE_PORT\"]}/health', timeout=2)"
# --external-url makes describe_index advertise a host clients outside the container can reach.
ENTRYPOINT ["spruce", "serve"]
CMD ["--external-url", "http://127.0.0.1"]
