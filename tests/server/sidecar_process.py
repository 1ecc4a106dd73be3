"""Real processes from an async test, started as a user starts them, each on port 0 (it says the port it
got: tests/listening.py): ``run_sidecar`` (``llm-sidecar run``) and ``start_fake_and_policy`` (a fake
provider and a policy file whose one model it serves). The caller stops them (``stop``).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from ..conftest import provider_block
from ..listening import port_zero, wait_ports


async def run_sidecar(policy: Path, env: dict[str, str]) -> tuple[asyncio.subprocess.Process, str]:
    """`python -m sidecar run` as a real process on any free port (its access lines discarded), and its
    URL once it is ready."""
    ports = policy.with_suffix(".ports")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sidecar", "run", "--policy", str(policy), *port_zero(ports),
        env=env, stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    return proc, f"http://127.0.0.1:{(await asyncio.to_thread(wait_ports, ports, proc))['port']}"


async def start_fake_and_policy(
    tmp_path: Path, tokens_per_s: int, words: int
) -> tuple[asyncio.subprocess.Process, Path]:
    """A fake provider on any free port answering ``words`` words at ``tokens_per_s``, and a policy file
    whose one model is served by it."""
    fake_ports = tmp_path / "fake.ports"
    fake = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sidecar", "fake-provider", *port_zero(fake_ports),
        "--tokens-per-s", str(tokens_per_s), "--reply", " ".join(["word"] * words),
    )  # fmt: skip
    fake_port = (await asyncio.to_thread(wait_ports, fake_ports, fake))["port"]
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nproviders:\n"
        + provider_block("up", f"http://127.0.0.1:{fake_port}", "openai")
        + "models:\n  m: {provider: up, model: m}\n"
    )
    return fake, policy


async def stop(*processes: asyncio.subprocess.Process) -> None:
    """Kill those of ``processes`` still running, and reap them."""
    for process in processes:
        if process.returncode is None:
            process.kill()
            await process.wait()
