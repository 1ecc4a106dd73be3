"""The proxies a benchmark measures: the sidecar under test and the minimal aiohttp proxy (the baseline).

The sidecar: its policy on the nginx upstream (``sidecar_policy``; the ``routing`` kind adds 20 task
classes, ``routing_block``), the variants of ``proxy_bench.py`` (``VARIANTS``: a policy kind and extra
environment, ``variant_env``), its command line and environment as the image starts it
(``sidecar_command``: ``OPTIMISED``, the Dockerfile's ``ENV``, ``image_env``; ``started_as`` says how),
its bytecode compiled first (``compile_bytecode``), another git revision of it (``checkout``), started on
a port or on port 0 (``start_sidecar``, ``sidecar_on_port_zero``), its policy replaced while it runs
(``write_policy``: whole, never half-written to its watcher). ``start_minimal`` starts
bench/minimal_proxy.py. ``ROOT`` is this checkout.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any

from listening import free_pick, port_zero, read_port, wait_port, write_ports_file
from measuring import wait_http

ROOT = Path(__file__).resolve().parents[1]


SYNTHETIC_CLASSES = {
    # 14 classes beside the six of bench/data/routing_rules.yaml: 20 in all, each with keywords and a regex
    "legal": ["contract", "clause", "liability", "indemnify", "jurisdiction", "statute"],
    "medical": ["symptom", "diagnosis", "dosage", "prescription", "patient", "clinical"],
    "finance": ["invoice", "ledger", "revenue", "forecast", "dividend", "portfolio"],
    "support": ["refund", "password", "login", "account", "cancel", "subscription"],
    "marketing": ["slogan", "campaign", "audience", "headline", "tagline", "brand"],
    "hr": ["candidate", "interview", "onboarding", "payroll", "vacation", "resume"],
    "travel": ["flight", "hotel", "itinerary", "visa", "booking", "luggage"],
    "cooking": ["recipe", "ingredient", "bake", "oven", "simmer", "dough"],
    "science": ["molecule", "photosynthesis", "gravity", "electron", "enzyme", "genome"],
    "history": ["empire", "dynasty", "revolution", "medieval", "ancient", "treaty"],
    "sports": ["league", "tournament", "striker", "coach", "season", "championship"],
    "music": ["chord", "melody", "tempo", "lyrics", "guitar", "symphony"],
    "security": ["vulnerability", "exploit", "phishing", "malware", "firewall", "encryption"],
    "data": ["dataset", "dataframe", "histogram", "regression", "outlier", "pivot"],
}


def routing_block() -> str:
    """A routing block of 20 task classes (bench/data/routing_rules.yaml's six and 14 more), as YAML."""
    import yaml

    routing = yaml.safe_load((ROOT / "bench/data/routing_rules.yaml").read_text())["routing"]
    for name, words in SYNTHETIC_CLASSES.items():
        routing["classes"].append(
            {
                "name": name,
                "rules": [
                    {"keywords": words, "in": ["last_user"]},
                    {"regex": f"#{name}-\\d+", "in": ["last_user", "system"]},
                ],
            }
        )
    return yaml.safe_dump({"routing": routing}, allow_unicode=True)


def write_policy(path: Path, text: str) -> None:
    """``text`` written to ``path`` whole: to a temporary name beside it, then renamed over it, so a running
    sidecar's watcher reads the old policy or the new one, never half of it."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def sidecar_policy(workdir: Path, upstream: int, variant: str) -> Path:
    chain = "[bench-model, backup]" if variant != "single" else "bench-model"  # "sample-R": a chain too
    routing, _, sample = variant.partition("sample-")  # "routing-sample-R": routing, its lines sampled
    if routing.startswith("routing"):  # the cheapest capable of the two, decided by 20 classes and 3 levels
        chain = "{select: cheapest, from: [bench-model, backup]}"
    text = f"""
version: 1
providers:
  nginx: {{dialect: openai, base_url: "http://127.0.0.1:{upstream}/v1"}}
  nginx-stream: {{dialect: openai, base_url: "http://127.0.0.1:{upstream}/stream/v1"}}
  nginx-anthropic: {{dialect: anthropic, base_url: "http://127.0.0.1:{upstream}/anthropic"}}
  nginx-anthropic-stream: {{dialect: anthropic, base_url: "http://127.0.0.1:{upstream}/anthropic-stream"}}
models:
  translated-model: {{provider: nginx-anthropic, model: claude-bench, max_output_tokens: 1024}}
  translated-stream: {{provider: nginx-anthropic-stream, model: claude-bench, max_output_tokens: 1024}}
  bench-model: {{provider: nginx, model: bench-upstream, price: {{input_per_mtok: 1, output_per_mtok: 2}}}}
  backup: {{provider: nginx, model: bench-backup}}
  stream-model: {{provider: nginx-stream, model: bench-upstream}}
routes:
  - name: bench
    match: {{model: bench-model}}
    target: {chain}
  - name: stream
    match: {{model: stream-model}}
    target: stream-model
"""
    if routing.startswith("routing"):
        text += routing_block()
    if sample:  # the access line sampled (docs/logs.md): every request a plain success
        text += f"access_log: {{sample: {sample}}}\n"
    path = workdir / f"policy-{variant}.yaml"
    path.write_text(text)
    return path


# How the image starts the server (the Dockerfile's ENTRYPOINT, with this interpreter); UNOPTIMISED: as
# `llm-sidecar run` starts it.
OPTIMISED = ["-OO", "-P", "-m", "sidecar", "run"]


UNOPTIMISED = ["-m", "sidecar", "run"]


# The image's ENV that a sidecar under test does not take: its own PATH and policy are the bench's.
NOT_FROM_IMAGE = {"PATH", "SIDECAR_POLICY"}


def image_env(ref: str | None = None) -> dict[str, str]:
    """The variables the image's final stage sets (``ENV``: ``SSL_CERT_FILE``, ``PYTHONUNBUFFERED``...), from
    the Dockerfile of this tree or of git revision ``ref``, but for ``NOT_FROM_IMAGE``."""
    if ref is None:
        text = (ROOT / "Dockerfile").read_text()
    else:
        shown = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:Dockerfile"], check=True, capture_output=True)
        text = shown.stdout.decode()
    final = re.split(r"^FROM ", text.replace("\\\n", " "), flags=re.M)[-1]
    settings = " ".join(line[4:] for line in final.splitlines() if line.startswith("ENV "))
    values = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', settings))
    return {name: value.strip('"') for name, value in values.items() if name not in NOT_FROM_IMAGE}


def sidecar_command(
    policy: Path, port: int | Path, env_extra: dict[str, str], optimised: bool = True, image: str | None = None
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of a sidecar under test (info level: one access line per request),
    optimised as the image runs it (its ENTRYPOINT's flags and its ``ENV``, ``image_env``: of this tree, or of
    git revision ``image``) unless ``optimised`` is false. ``port``: the port, or a ports file (port 0: the
    port it got is written there, ``listening.wait_port``)."""
    form = OPTIMISED if optimised else UNOPTIMISED
    where = port_zero(port) if isinstance(port, Path) else ["--port", str(port)]
    command = [sys.executable, *form, "--policy", str(policy), *where]
    as_image = image_env(image) if optimised else {}
    return command, {**os.environ, **as_image, "SIDECAR_LOG_LEVEL": "info", **env_extra}


def started_as(optimised: bool) -> str:
    """The line a bench prints to say how its sidecars were started."""
    form = " ".join(OPTIMISED if optimised else UNOPTIMISED)
    env = " ".join(f"{name}={value}" for name, value in image_env().items())
    how = f"optimised, as the image runs it, with its ENV {env}" if optimised else "unoptimised (--unoptimised)"
    return f"sidecar started as: python {form} ({how}; bytecode compiled, plain and -OO)"


def compile_bytecode(*code: Path) -> None:
    """Compile the installed packages and the ``sidecar`` packages run from ``code`` (default: this tree)
    to bytecode, plain and -OO, as the image's build does: on a machine with PYTHONDONTWRITEBYTECODE=1
    nothing else writes it, and a start that compiles from source is slower and holds more memory."""
    purelib = Path(sysconfig.get_paths()["purelib"])
    places = [purelib, *(c / "sidecar" for c in code or [ROOT])]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", "-o", "0", "-o", "2", *map(str, places)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def variant_env(name: str, upstream: int) -> tuple[str, dict[str, str]]:
    """A variant's policy kind and extra environment (its OTLP exports go to the nginx upstream)."""
    policy_variant, env_extra = VARIANTS[name]
    sink = f"http://127.0.0.1:{upstream}"
    return policy_variant, {k: (sink if v == "SINK" else v) for k, v in env_extra.items()}


def checkout(ref: str, workdir: Path) -> Path:
    """The ``sidecar`` package at git revision ``ref``, extracted under ``workdir`` and compiled to bytecode;
    returns the directory to put on PYTHONPATH. Compiled extensions are copied from this checkout when their
    C source is the same."""
    target = workdir / f"baseline-{ref}"
    target.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "sidecar"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    for built in ROOT.glob("sidecar/*/*.so"):
        source = built.with_name(built.name.split(".")[0] + ".c")
        copy = target / built.relative_to(ROOT)
        twin = copy.with_name(source.name)
        if twin.exists() and twin.read_bytes() == source.read_bytes():
            shutil.copy2(built, copy)
    compile_bytecode(target)  # as the image's build does: no start compiles from source
    return target


def start_sidecar(
    policy: Path,
    port: int | Path,
    env_extra: dict[str, str],
    code: Path | None = None,
    ready_timeout_s: float = 120.0,
    optimised: bool = True,
    image: str | None = None,
) -> tuple[subprocess.Popen[bytes], float]:
    """Start the sidecar (``sidecar_command``; ``image``: whose image ENV it takes, default this tree's);
    ``code``: a directory holding another ``sidecar`` package;
    ``port`` a ports file: on port 0, the port it got read with ``listening.read_port`` once started. A
    ``code`` from before port 0 (no ``sidecar/ports_file.py``) starts on a free pick instead, again on a
    new pick when it exits before ready, and the ports file is written for it."""
    if isinstance(port, Path) and code is not None and not (code / "sidecar/ports_file.py").exists():
        return _start_sidecar_on_pick(policy, port, env_extra, code, ready_timeout_s, optimised, image)
    command, env = sidecar_command(policy, port, env_extra, optimised, image)
    if code is not None:
        env["PYTHONPATH"] = str(code)
    started = time.monotonic()
    # From ``code``: PYTHONPATH comes before the editable install's finder (and without -P, ``-m`` also puts
    # the working directory first on sys.path)
    if isinstance(port, Path):
        port.unlink(missing_ok=True)
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, cwd=code)
    if isinstance(port, Path):
        port = wait_port(port, proc, ready_timeout_s)
    wait_http(f"http://127.0.0.1:{port}/readyz", timeout=ready_timeout_s)
    return proc, time.monotonic() - started


def sidecar_on_port_zero(
    policy: Path, ports_file: Path, env_extra: dict[str, str], **options: Any
) -> tuple[subprocess.Popen[bytes], int]:
    """``start_sidecar`` on port 0 (``options``: its keyword arguments); the process and the port it got."""
    proc, _ = start_sidecar(policy, ports_file, env_extra, **options)
    return proc, read_port(ports_file)


def _start_sidecar_on_pick(
    policy: Path,
    ports_file: Path,
    env_extra: dict[str, str],
    code: Path,
    ready_timeout_s: float,
    optimised: bool,
    image: str | None,
) -> tuple[subprocess.Popen[bytes], float]:
    for _ in range(5):
        port = free_pick()
        command, env = sidecar_command(policy, port, env_extra, optimised, image)
        started = time.monotonic()
        proc = subprocess.Popen(command, env={**env, "PYTHONPATH": str(code)}, stdout=subprocess.DEVNULL, cwd=code)
        while proc.poll() is None and time.monotonic() - started < ready_timeout_s:
            try:
                wait_http(f"http://127.0.0.1:{port}/readyz", timeout=0.5)
            except TimeoutError:
                continue
            if proc.poll() is None:  # ready, and not some other process on the port it could not take
                write_ports_file(ports_file, port)
                return proc, time.monotonic() - started
        if proc.poll() is None:
            proc.kill()
            raise TimeoutError(f"sidecar from {code} not ready after {ready_timeout_s} s")
    raise RuntimeError(f"5 picks of a free port for the sidecar from {code} were all taken")


def start_minimal(upstream: int, port: int | Path) -> subprocess.Popen[bytes]:
    """bench/minimal_proxy.py on ``port``, or on port 0 writing the ports file ``port``."""
    target = f"http://127.0.0.1:{upstream}"
    where = ["0", target, str(port)] if isinstance(port, Path) else [str(port), target]
    if isinstance(port, Path):
        port.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench/minimal_proxy.py"), *where])
    if isinstance(port, Path):
        port = wait_port(port, proc)
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return proc


_TRACES = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "SINK", "OTEL_METRICS_EXPORTER": "prometheus"}


VARIANTS = {
    # name: (policy variant, extra env)
    "sidecar": ("chain", {}),
    # the same sidecar started without -OO (python -m sidecar run), in the same rounds: what -OO changes
    "sidecar-unoptimised": ("chain", {}),
    "sidecar-single-target": ("single", {}),
    # the access line off by the log level (SIDECAR_LOG_LEVEL=warning): what the one line a request costs
    "sidecar-no-access-line": ("chain", {"SIDECAR_LOG_LEVEL": "warning"}),
    # the access line sampled by the policy (access_log.sample): 0 writes none, 0.1 one request in ten
    "sidecar-access-sample-0": ("sample-0", {}),
    "sidecar-access-sample-0.1": ("sample-0.1", {}),
    # the bench route a cheapest selection behind a routing block of 20 classes (every request classified)
    "sidecar-routing-20": ("routing", {}),
    # the same at access_log.sample 0: no line written, routing's savings still counted
    "sidecar-routing-20-sample-0": ("routing-sample-0", {}),
    # Traces over OTLP/HTTP to nginx; metrics stay on /metrics, so these measure tracing alone. wrk sends
    # no traceparent: the default sampler (parentbased_always_on) traces every request.
    "sidecar-tracing": ("chain", {**_TRACES}),
    "sidecar-tracing-10%": (
        "chain",
        {**_TRACES, "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
    ),
    # every request left out by the sampler (ratio 0): what the nine requests in ten a 10 % ratio drops pay
    "sidecar-tracing-unsampled": (
        "chain",
        {**_TRACES, "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"},
    ),
}
