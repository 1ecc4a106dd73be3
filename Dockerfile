# syntax=docker/dockerfile:1
# llm-sidecar image: the proxy in a virtualenv on python:3.11-slim, run as a non-root numeric user,
# happy on a read-only root filesystem. Build: docker build -t llm-sidecar:0.1.0 .
# Kubernetes manifests: deploy/k8s/ (docs/operations.md). tests/deploy/test_dockerfile.py checks the
# invariants below; tests/deploy/test_image.py runs the same wheel the same way without Docker.

# Both stages use the same base so the venv's interpreter symlink resolves in the final image.
# Pin a digest in production: python:3.11-slim-bookworm@sha256:...
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- builder: build the wheel, install it and its dependencies into /opt/llm-sidecar ----
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
# Only what the wheel is built from and the lock its dependencies come from (.dockerignore keeps the rest
# of the tree out of the context).
COPY pyproject.toml README.md requirements.lock ./
COPY sidecar ./sidecar
# The package is pure Python and every runtime dependency ships manylinux wheels for amd64 and arm64:
# no compiler is needed. The venv has no pip of its own (the builder's pip installs into it). The
# dependencies are exactly requirements.lock's pins, each file checked against its sha256 (a file on the
# index that differs from the one locked fails the build; a newer release enters only by `make lock`); the
# wheel goes in without resolving anything, and `pip check` fails the build if the lock misses one of its
# requirements. Nothing can write bytecode at runtime, so it is compiled now: pip writes the plain .pyc
# files (the CLI commands), compileall adds the .opt-2.pyc files the optimised server (-OO, the ENTRYPOINT)
# reads.
RUN pip wheel --no-deps --wheel-dir /tmp/wheels . \
 && python -m venv --without-pip /opt/llm-sidecar \
 && pip --python /opt/llm-sidecar/bin/python install --require-hashes --only-binary :all: -r requirements.lock \
 && pip --python /opt/llm-sidecar/bin/python install --no-deps /tmp/wheels/*.whl \
 && pip --python /opt/llm-sidecar/bin/python check \
 && /opt/llm-sidecar/bin/python -m compileall -q -j 0 -o 0 -o 2 /opt/llm-sidecar/lib \
 && /opt/llm-sidecar/bin/llm-sidecar --version

# ---- runtime: the same base image plus the venv, nothing else ----
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="llm-sidecar" \
      org.opencontainers.image.description="A lightweight LLM traffic proxy that runs as a sidecar" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /opt/llm-sidecar /opt/llm-sidecar
# The base image ships its standard library without any bytecode (the official python images delete
# every .pyc): compile it once here, plain and -OO, or every start would compile the ~180 standard
# modules the server imports from source (slower, and the compiler's garbage in the heap). No packages.
RUN python -m compileall -q -j 0 -o 0 -o 2 -x '/(site-packages|tests?|idle_test)/' "$(python -c 'print(__import__("sysconfig").get_path("stdlib"))')"
# PYTHONDONTWRITEBYTECODE: the root filesystem is read-only in the pod (the .pyc files were compiled
# in the builder). The policy ConfigMap is mounted as a directory at /etc/llm-sidecar.
# SSL_CERT_FILE=/dev/null: OpenSSL finds the system CAs one at a time, by hash, in /etc/ssl/certs (the
# same ca-certificates, hashed by the base image), instead of parsing the whole 140-certificate bundle into
# every TLS context (aiohttp builds two at import): 2 MB less RSS, the same trust. Set SSL_CERT_FILE to a
# bundle to use one (docs/operations.md, "CA bundles and mutual TLS").
# FROZENLIST_NO_EXTENSIONS=1: frozenlist's pure-Python list instead of its C++ extension, the only one
# that maps libstdc++ into the process (1 MB of RSS); aiohttp uses it for its signals and middleware
# list, not per byte: a plain request's instructions stay within 0.1 % (docs/operations.md, "Memory and
# the optimised server").
ENV PATH="/opt/llm-sidecar/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SIDECAR_POLICY=/etc/llm-sidecar/policy.yaml \
    SSL_CERT_FILE=/dev/null \
    FROZENLIST_NO_EXTENSIONS=1
# A numeric user and group (no /etc/passwd entry needed) so runAsNonRoot can verify it.
USER 10001:10001
# 8080: the proxy (binds 127.0.0.1 unless SIDECAR_HOST says otherwise; for `docker run -p` set
# SIDECAR_HOST=0.0.0.0). 8081: /healthz and /readyz only, when SIDECAR_HEALTH_PORT=8081.
EXPOSE 8080 8081
# For plain Docker; Kubernetes ignores HEALTHCHECK and uses the probes in deploy/k8s.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SIDECAR_PORT', '8080'), timeout=2)"]
# Exec form: the sidecar is PID 1 and gets SIGTERM itself (it handles it: drain, then exit 0). The server
# runs optimised (-OO: no docstrings, no asserts; about 2 MB less memory, docs/operations.md); -P keeps the
# working directory off sys.path. `docker run IMAGE --policy ...` appends to `run` as before. The other
# commands (`kubectl exec ... llm-sidecar explain`, `schema`) run unoptimised: `schema` needs the docstrings.
ENTRYPOINT ["/opt/llm-sidecar/bin/python", "-OO", "-P", "-m", "sidecar", "run"]
