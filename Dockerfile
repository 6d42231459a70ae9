# ITR API and worker image: `itr api` by default, `itr worker` / `itr migrate` as commands.
#
# Two stages: dependencies are installed from pyproject.toml alone first, so editing
# application code rebuilds only the last layers.

FROM python:3.11-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/itr
ENV PATH=/opt/itr/bin:$PATH

WORKDIR /src
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

COPY . .
RUN pip install --no-deps . \
    && itr --help >/dev/null


FROM python:3.11-slim

ENV PATH=/opt/itr/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ITR_ENVIRONMENT=production \
    ITR_API_HOST=0.0.0.0 \
    ITR_API_PORT=8000 \
    ITR_LOG_JSON=true \
    ITR_SEED_DEMO_DATA=false \
    ITR_DATA_DIR=/var/lib/itr

RUN groupadd --system --gid 10001 itr \
    && useradd --system --uid 10001 --gid itr --home-dir /var/lib/itr --create-home itr

COPY --from=build /opt/itr /opt/itr

USER itr
WORKDIR /var/lib/itr
EXPOSE 8000

CMD ["itr", "api"]
