FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY schemas ./schemas
COPY agreements ./agreements
COPY fx ./fx
COPY projections ./projections
COPY consumers ./consumers
RUN pip install --no-cache-dir '.[postgres]'
RUN useradd --create-home hub && mkdir -p /var/lib/hub && chown hub /var/lib/hub
USER hub
ENTRYPOINT []
CMD ["hub", "--help"]
