"""The image's runtime without a Docker engine: the wheel built from exactly what the Dockerfile's builder
copies, installed into a fresh venv and compiled to bytecode as the builder does (plain and -OO), run with
the Dockerfile's ENTRYPOINT (the optimised server, `python -OO -P -m sidecar run`) by a non-root uid from a
read-only tree (venv, policy and working directory all unwritable), the way the pod runs it.

The fresh venv gets the runtime dependencies requirements.lock pins, hashes checked, from the package index
(pip's cache), then the wheel; the `sidecar` package itself comes only from the wheel. The policy is the
base ConfigMap's policy with every provider switched to the keyless `fake` dialect.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
import pytest
import yaml

from ..sdk_clients import SIDECAR_TIMEOUT_S
from .dockerfile import builder_compile_options, builder_sources, entrypoint
from .manifests import K8S, REPO

# The first test's setup builds the wheel and installs it with its dependencies into a fresh venv: past a
# minute on a loaded 2-core machine (pip's install alone took more than 50 s there, twice in two runs).
pytestmark = pytest.mark.timeout(900)

UID = 10001  # the Dockerfile's USER and the manifests' runAsUser
DRAIN_S = 3
STARTUP_S = 90  # a cold start from a read-only tree: 20 s was overrun at a load of 30 (the file's limit is 900 s)


@dataclass(frozen=True)
class Installed:
    root: Path
    venv: Path
    policy: Path
    workdir: Path


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    port: int
    health_port: int
    output: IO[bytes]

    def log(self) -> str:
        self.output.seek(0)
        return self.output.read().decode(errors="replace")[-4000:]


def as_user() -> list[str]:
    """The command prefix that drops to UID: setpriv when we are root, nothing when we already are not."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot drop to a non-root uid")
    return [setpriv, f"--reuid={UID}", f"--regid={UID}", "--clear-groups", "--"]


def run_uid() -> int:
    return UID if os.geteuid() == 0 else os.geteuid()


def base_interpreter() -> str:
    """A Python with the tests' major.minor that the non-root uid can execute (a pyenv under /root is
    not), so the dependencies' compiled extensions load in it."""
    version = "{}.{}".format(*sys.version_info[:2])
    candidates = [
        os.path.realpath(getattr(sys, "_base_executable", sys.executable)),
        shutil.which(f"python{version}"),
        f"/usr/local/bin/python{version}",
        f"/usr/bin/python{version}",
    ]
    check = "import sys; print('{}.{}'.format(*sys.version_info[:2]))"
    for candidate in dict.fromkeys(c for c in candidates if c and os.path.exists(c)):
        probe = subprocess.run(
            [*as_user(), candidate, "-c", check], capture_output=True, text=True, timeout=30, check=False
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    pytest.skip(f"no python{version} the uid {UID} can execute")


def fake_policy() -> str:
    """The base policy with every provider on the keyless fake dialect (nothing listens there: the
    sidecar starts and answers health checks without calling any upstream)."""
    policy = yaml.safe_load((K8S / "base" / "policy.yaml").read_text())
    fake = {"dialect": "fake", "base_url": "http://127.0.0.1:9"}
    policy["providers"] = {name: dict(fake) for name in policy["providers"]}
    return yaml.safe_dump(policy, sort_keys=False)


def make_read_only(root: Path) -> None:
    for directory, _, files in os.walk(root):
        for name in files:
            path = Path(directory, name)
            if not path.is_symlink():
                path.chmod(path.stat().st_mode & ~0o222)
        Path(directory).chmod(Path(directory).stat().st_mode & ~0o222)


def make_writable(root: Path) -> None:
    for directory, _, _ in os.walk(root):
        Path(directory).chmod(Path(directory).stat().st_mode | stat.S_IWUSR)


def pip(*args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, f"pip {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def installed() -> Iterator[Installed]:
    """The wheel built from the builder's COPY sources, installed in a fresh venv; the tree made read-only."""
    interpreter = base_interpreter()
    root = Path(tempfile.mkdtemp(prefix="llm-sidecar-image-"))
    root.chmod(0o755)  # traversable by the non-root uid (mkdtemp makes it 0700)
    try:
        context = root / "context"
        context.mkdir()
        for src in builder_sources():
            source = REPO / src
            if source.is_dir():
                shutil.copytree(source, context / src, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.so"))
            else:
                shutil.copy2(source, context / src)
        pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(root / "wheels"), str(context))
        [wheel] = (root / "wheels").glob("llm_sidecar-*.whl")

        venv = root / "venv"
        subprocess.run([interpreter, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=30)
        target = str(venv / "bin" / "python")
        # Like the Dockerfile's builder: the locked runtime dependencies (hashes checked), the wheel without
        # resolving anything, `pip check`; nothing else. The project's own venv may live where the non-root
        # uid cannot read, so nothing points into it.
        quiet = ("--quiet", "--disable-pip-version-check")
        lock = str(context / "requirements.lock")
        pip("--python", target, "install", *quiet, "--require-hashes", "--only-binary", ":all:", "-r", lock)
        pip("--python", target, "install", *quiet, "--no-deps", str(wheel))
        pip("--python", target, "check")
        # The builder's compileall: the .opt-2.pyc files the optimised server reads (nothing may write them)
        compileall = [target, "-m", "compileall", *builder_compile_options(), str(venv / "lib")]
        subprocess.run(compileall, check=True, timeout=240)
        shutil.rmtree(context)  # like the final stage: only the venv remains
        shutil.rmtree(root / "wheels")

        policy = root / "etc" / "llm-sidecar" / "policy.yaml"
        policy.parent.mkdir(parents=True)
        policy.write_text(fake_policy())
        workdir = root / "work"
        workdir.mkdir()
        make_read_only(root)
        yield Installed(root, venv, policy, workdir)
    finally:
        make_writable(root)
        shutil.rmtree(root)


def get(port: int, path: str, host: str = "127.0.0.1") -> int:
    """The HTTP status of GET http://host:port/path (errors as their status; no connection raises)."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=SIDECAR_TIMEOUT_S) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


def server_command(installed: Installed) -> list[str]:
    """The Dockerfile's ENTRYPOINT with the image's venv path replaced by the test's."""
    return [arg.replace("/opt/llm-sidecar", str(installed.venv)) for arg in entrypoint()]


def listening(output: IO[bytes]) -> dict[str, Any] | None:
    """The ``listening`` log line in the server's output so far, parsed; None before it is written."""
    output.seek(0)
    for line in output.read().splitlines():
        if line.startswith(b"{") and b'"event":"listening"' in line:
            entry: dict[str, Any] = orjson.loads(line)
            return entry
    return None


def start(installed: Installed) -> Running:
    """The image's ENTRYPOINT (`python -OO -P -m sidecar run`) as the non-root uid, from the read-only
    working directory, on ports the kernel chooses (port 0; the ``listening`` log line says which: the
    run writes no file), once /healthz is 200."""
    env = {
        "PATH": f"{installed.venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(installed.workdir),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",  # as in the Dockerfile
        "SSL_CERT_FILE": "/dev/null",  # as in the Dockerfile (the CAs looked up by hash)
        "FROZENLIST_NO_EXTENSIONS": "1",  # as in the Dockerfile
        "SIDECAR_HEALTH_PORT": "0",
        "SIDECAR_DRAIN_TIMEOUT_S": str(DRAIN_S),
    }
    command = [*as_user(), *server_command(installed), "--policy", str(installed.policy), "--port", "0"]
    output = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
    process = subprocess.Popen(command, cwd=installed.workdir, env=env, stdout=output, stderr=output)
    running = Running(process, 0, 0, output)
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = running.log()
            output.close()
            pytest.fail(f"llm-sidecar exited with {process.returncode} before serving:\n{log}")
        line = listening(output)
        if line is not None:
            running.port, running.health_port = line["port"], line["health_port"]
            with contextlib.suppress(OSError):
                if get(running.port, "/healthz") == 200:
                    return running
        time.sleep(0.1)
    log = running.log()
    stop(running)
    pytest.fail(f"llm-sidecar did not answer /healthz within {STARTUP_S} s:\n{log}")


def stop(running: Running) -> int:
    """SIGTERM, then the exit status (SIGKILL if it outlives its drain by far)."""
    if running.process.poll() is None:
        running.process.send_signal(signal.SIGTERM)
    try:
        code = running.process.wait(timeout=DRAIN_S + 10)
    except subprocess.TimeoutExpired:
        running.process.kill()
        code = running.process.wait()
    running.output.close()
    return code


@pytest.fixture(scope="module")
def running(installed: Installed) -> Iterator[Running]:
    sidecar = start(installed)
    try:
        yield sidecar
    finally:
        stop(sidecar)


def files_owned_by(uid: int) -> set[str]:
    """Files and directories the uid owns in the places a non-root process could still write."""
    places = [p for p in ("/tmp", "/var/tmp", "/dev/shm") if os.path.isdir(p)]
    result = subprocess.run(
        ["find", *places, "-xdev", "-uid", str(uid)], capture_output=True, text=True, timeout=240, check=False
    )
    return set(result.stdout.split())


def pod_ip() -> str | None:
    """This host's non-loopback IPv4 address (what the kubelet would probe), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("10.254.254.254", 9))
        except OSError:
            return None
        address: str = sock.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def probe(installed: Installed, code: str, *flags: str) -> str:
    """What `code` prints when the installed venv's Python runs it (with ``flags``) as the non-root user."""
    result = subprocess.run(
        [*as_user(), str(installed.venv / "bin" / "python"), *flags, "-c", code],
        cwd=installed.workdir,
        env={"PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout.strip()


def test_wheel_installs_the_package_and_console_script_outside_the_repo(installed: Installed) -> None:
    """The installed `llm-sidecar` command runs and imports `sidecar` from the wheel, not the checkout."""
    assert Path(probe(installed, "import sidecar; print(sidecar.__file__)")).is_relative_to(installed.venv)
    version = subprocess.run(
        [*as_user(), str(installed.venv / "bin" / "llm-sidecar"), "--version"],
        cwd=installed.workdir,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert version.returncode == 0


def test_wheel_is_pure_python(installed: Installed) -> None:
    """The wheel built from the builder's sources installs no compiled module of the sidecar's own."""
    code = "import pathlib, sidecar; print(sorted(str(p) for p in pathlib.Path(sidecar.__file__).parent.rglob('*.so')))"
    assert probe(installed, code) == "[]"


def test_healthz_answers_as_non_root_from_a_read_only_tree(installed: Installed, running: Running) -> None:
    """`llm-sidecar run` serves GET /healthz 200 while running as uid 10001 in an unwritable directory."""
    assert get(running.port, "/healthz") == 200
    status = Path(f"/proc/{running.process.pid}/status").read_text()
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    assert set(uids) == {str(run_uid())}
    cwd = Path(os.readlink(f"/proc/{running.process.pid}/cwd"))
    assert cwd == installed.workdir
    assert cwd.stat().st_mode & 0o222 == 0


def test_health_port_serves_only_the_probes(running: Running) -> None:
    """SIDECAR_HEALTH_PORT answers /healthz and /readyz with 200 and nothing else (no /status there)."""
    assert get(running.health_port, "/healthz") == 200
    assert get(running.health_port, "/readyz") == 200
    assert get(running.health_port, "/status") == 404


def test_proxy_port_is_not_reachable_on_the_pod_ip(running: Running) -> None:
    """The proxy binds 127.0.0.1 only: the host's own non-loopback address gets no answer on its port,
    while the health port answers there (what the kubelet probes)."""
    address = pod_ip()
    if address is None:
        pytest.skip("this host has no non-loopback IPv4 address")
    refused = (ConnectionRefusedError, TimeoutError)
    with pytest.raises(refused), socket.create_connection((address, running.port), timeout=2):
        pass
    assert get(running.health_port, "/healthz", host=address) == 200


def test_sigterm_drains_and_exits_zero(installed: Installed) -> None:
    """On SIGTERM the sidecar stops within its drain timeout and exits 0."""
    sidecar = start(installed)
    started = time.monotonic()
    assert stop(sidecar) == 0
    assert time.monotonic() - started < DRAIN_S + 5


def test_a_run_writes_no_files(installed: Installed) -> None:
    """Starting, serving health, status and metrics, and stopping leaves no file owned by the run's uid."""
    before = files_owned_by(run_uid())
    sidecar = start(installed)
    try:
        for path in ("/healthz", "/readyz", "/status", "/metrics"):
            assert get(sidecar.port, path) == 200, path
    finally:
        stop(sidecar)
    assert files_owned_by(run_uid()) - before == set()


def test_the_server_process_runs_optimised(installed: Installed, running: Running) -> None:
    """The serving process is the ENTRYPOINT's optimised interpreter (-OO), as the pod's PID 1 would be."""
    cmdline = Path(f"/proc/{running.process.pid}/cmdline").read_bytes().split(b"\0")
    command = [arg.decode() for arg in cmdline if arg]
    assert command[: len(server_command(installed))] == server_command(installed)
    assert "-OO" in command
    assert get(running.port, "/healthz") == 200


# What `run` imports at start-up on the base policy, and whether each module of the venv it came from has
# the bytecode an -OO interpreter reads (else it would be compiled from source at every start).
_MISSING_OPT2 = """
import importlib.util, os, sys
import sidecar.cli, sidecar.server.app, sidecar.telemetry, sidecar.telemetry.logging
from sidecar.policy.load import load_policy
load_policy({policy!r})
venv = {venv!r}
files = [getattr(m, "__file__", None) or "" for m in list(sys.modules.values())]
mine = [f for f in files if f.startswith(venv) and f.endswith(".py")]
missing = [f for f in mine if not os.path.exists(importlib.util.cache_from_source(f))]
print(sys.flags.optimize, sidecar.cli.__doc__ is None, len(mine), missing)
"""


def test_the_venv_has_the_bytecode_the_optimised_server_reads(installed: Installed) -> None:
    """Under -OO, every module of the venv that `run` imports (sidecar, aiohttp, pydantic, ...) is read from
    its compiled .opt-2.pyc, which the read-only tree could not have had written at run time."""
    code = _MISSING_OPT2.format(policy=str(installed.policy), venv=str(installed.venv))
    optimize, stripped, count, missing = probe(installed, code, "-OO").split(" ", 3)
    assert (optimize, stripped) == ("2", "True")
    assert int(count) > 100
    assert missing == "[]"
