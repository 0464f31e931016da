FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
# every package of the wheel (pyproject.toml, [tool.hatch.build.targets.wheel]); the console script is cli:main
COPY hub ./hub
COPY projections ./projections
COPY consumers ./consumers
COPY demo ./demo
COPY cli ./cli
# the data the wheel force-includes
COPY schemas ./schemas
COPY agreements ./agreements
COPY fx ./fx
COPY topology.yaml ./topology.yaml
RUN pip install --no-cache-dir '.[postgres]'
# uid 1000, as apache/kafka's appuser: docker-compose.yml runs both as 1000:1000, and the compose
# secrets (deploy/compose/make-secrets.sh) belong to that user, mode 600
RUN useradd --uid 1000 --user-group --create-home hub && mkdir -p /var/lib/hub && chown hub:hub /var/lib/hub
USER 1000:1000
ENTRYPOINT []
CMD ["hub", "--help"]
