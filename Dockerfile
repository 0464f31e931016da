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
RUN pip install --no-cache-dir '.[postgres]'
RUN useradd --create-home hub && mkdir -p /var/lib/hub && chown hub /var/lib/hub
USER hub
ENTRYPOINT []
CMD ["hub", "--help"]
