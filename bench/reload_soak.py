"""Hot reload, many times over: does anything leak (memory, file descriptors, Redis connections)?

A real ``llm-sidecar run`` on a policy in a directory updated as the kubelet updates a ConfigMap (a new
timestamped directory, ``..data_tmp`` renamed over ``..data``), a fake provider and a redis-server for
the response cache and the budgets' store. Each round writes the next policy and sends SIGHUP, waits
until ``/status`` serves its version, then sends ``--in-flight`` requests that wait 0.3 s on the
upstream, and swaps the policy again while they run. Every 50 rounds it prints the sidecar's RSS, its
open file descriptors and the connections open on Redis (by database). Modes:

- ``route``: only a route's target order changes (the stores are kept);
- ``cache``, ``budgets``, ``stores``: the cache's key prefix, the budgets' database (0 or 1), or both
  change each round, so each reload builds new stores and retires the old ones with requests still in
  flight on them (the cache's Redis is database 2).

A flat line is the pass; RSS settles within a few hundred rounds (the allocator's pools).

    python bench/reload_soak.py [--mode stores] [--rounds 500] [--in-flight 3]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from listening import port_zero, start_redis, start_with_ports_file

BIN = Path(sys.executable).with_name("llm-sidecar")


def policy_text(fake: int, redis: int, mode: str, n: int) -> str:
    first, second = ("m0", "m1") if n % 2 == 0 else ("m1", "m0")
    prefix = f"soak{n % 2}" if mode in ("cache", "stores") else "soak"
    db = n % 2 if mode in ("budgets", "stores") else 0
    price = "{input_per_mtok: 1, output_per_mtok: 2}"
    return f"""version: 1
providers:
  fake: {{kind: openai, base_url: "http://127.0.0.1:{fake}/v1", api_key: {{env: FAKE_KEY}}}}
models:
  m0: {{provider: fake, model: fake-mini, price: {price}}}
  m1: {{provider: fake, model: fake-big, price: {price}}}
cache:
  redis: {{url: "redis://127.0.0.1:{redis}/2", key_prefix: {prefix}}}
budgets:
  store: {{url: "redis://127.0.0.1:{redis}/{db}"}}
  limits:
    - {{name: all, measure: usd, amount: 1000000, window: month}}
routes:
  - {{name: chat, match: {{model: chat}}, target: [{first}, {second}], cache: {{enabled: true, cacheable: always}}}}
"""


def kubelet_update(volume: Path, text: str, stamp: str) -> None:
    """The kubelet's atomic update of a ConfigMap volume with one key, ``policy.yaml``."""
    data = volume / f"..{stamp}"
    data.mkdir()
    (data / "policy.yaml").write_text(text)
    link = volume / "..data"
    old = os.readlink(link) if link.is_symlink() else None
    (volume / "..data_tmp").symlink_to(data.name)
    os.replace(volume / "..data_tmp", link)
    if not (volume / "policy.yaml").is_symlink():
        (volume / "policy.yaml").symlink_to("..data/policy.yaml")
    if old:
        (volume / old / "policy.yaml").unlink()
        (volume / old).rmdir()


def chat(base: str, text: str) -> None:
    body = json.dumps({"model": "chat", "messages": [{"role": "user", "content": text}]}).encode()
    headers = {"content-type": "application/json"}
    request = urllib.request.Request(f"{base}/v1/chat/completions", data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def version(base: str) -> str:
    with urllib.request.urlopen(f"{base}/status", timeout=5) as response:
        return str(json.loads(response.read())["policy"]["version"])


def redis_connections(port: int) -> dict[str, int]:
    out = subprocess.run(["redis-cli", "-p", str(port), "client", "list"], capture_output=True, text=True).stdout
    lines = [line for line in out.splitlines() if "cmd=client" not in line]
    return dict(collections.Counter(line.split(" db=")[1].split()[0] for line in lines))


def sample(pid: int, redis: int, rounds: int) -> str:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(status.split("VmRSS:")[1].split()[0])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return f"rounds={rounds:5d} rss_kb={rss} fds={fds} redis_connections_by_db={redis_connections(redis)}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["route", "cache", "budgets", "stores"], default="stores")
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--in-flight", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        redis_proc, redis = start_redis(work)
        fake_proc, fake = start_with_ports_file(
            [str(BIN), "fake-provider", *port_zero(work / "fake.json")], work / "fake.json", stdout=subprocess.DEVNULL
        )
        volume = work / "policy"
        volume.mkdir()
        kubelet_update(volume, policy_text(fake, redis, args.mode, 0), "0")
        env = {**os.environ, "FAKE_KEY": "k"}
        command = [str(BIN), "run", "--policy", str(volume / "policy.yaml"), *port_zero(work / "sidecar.json")]
        sidecar, port = start_with_ports_file(command, work / "sidecar.json", env=env, stdout=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            chat(base, "warm up")
            print(sample(sidecar.pid, redis, 0), flush=True)
            started = time.monotonic()
            for n in range(1, args.rounds + 1):
                serving = version(base)
                kubelet_update(volume, policy_text(fake, redis, args.mode, n), str(n))
                sidecar.send_signal(signal.SIGHUP)
                while version(base) == serving:
                    time.sleep(0.002)
                slow = [f"[fault:stall=0.3] round {n} request {i}" for i in range(args.in_flight)]
                calls = [threading.Thread(target=chat, args=(base, text)) for text in slow]
                for call in calls:
                    call.start()
                time.sleep(0.1)  # the requests wait on the upstream: the next reload comes meanwhile
                if n % 50 == 0:
                    print(sample(sidecar.pid, redis, n), flush=True)
                if n < args.rounds:
                    continue
                for call in calls:
                    call.join()
            time.sleep(2)  # the last writes and closes
            print(sample(sidecar.pid, redis, args.rounds), "(settled)")
            print(f"{args.rounds} reloads in {time.monotonic() - started:.1f} s ({args.mode})")
        finally:
            for proc in (sidecar, fake_proc, redis_proc):
                proc.send_signal(signal.SIGTERM)
                proc.wait(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
