"""deploy/k8s: every kustomization renders, validates offline against pinned Kubernetes schemas, and keeps
the sidecar's invariants (hardening, hot-reloadable policy mount, probes on the health port, loopback
base URLs, a grace period that covers the drain, native vs legacy sidecar lifecycle)."""

from __future__ import annotations

import posixpath
import re
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from sidecar.settings import Settings, unknown_variables

from .manifests import (
    K8S,
    KUSTOMIZATIONS,
    NATIVE,
    REPO,
    SIDECAR,
    Obj,
    all_containers,
    app,
    container,
    env,
    one,
    pod_spec,
    policy_configmaps,
    port_number,
    prestop_seconds,
    rendered,
    sidecar,
    volume,
)

# The schemas every rendering must pass (kubernetes-validate ships them; strict = no unknown fields).
# Native sidecars are on by default since 1.29; kubectl here is 1.32.
PINNED_VERSION = "1.32"
# The legacy overlay is for clusters older than 1.29: it must also be valid there.
LEGACY_VERSION = "1.28"

ALL = list(KUSTOMIZATIONS)

_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 10**3, "M": 10**6, "G": 10**9}


def memory_bytes(quantity: str) -> int:
    """A Kubernetes memory quantity (``96Mi``, ``1G``, ``500000``) in bytes."""
    for suffix, factor in _UNITS.items():
        if quantity.endswith(suffix):
            return int(float(quantity.removesuffix(suffix)) * factor)
    return int(quantity)


def hardened(c: Obj, pod: Obj) -> list[str]:
    """What is missing from a container's securityContext (pod-level values count where Kubernetes
    inherits them: runAsNonRoot, runAsUser, seccompProfile)."""
    sc, psc = c.get("securityContext", {}), pod.get("securityContext", {})
    problems = []
    if sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is not True:
        problems.append("runAsNonRoot")
    uid = sc.get("runAsUser", psc.get("runAsUser"))
    if not (isinstance(uid, int) and uid > 0):
        problems.append("runAsUser (a non-zero number)")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append("readOnlyRootFilesystem")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append("allowPrivilegeEscalation: false")
    if sc.get("capabilities", {}).get("drop") != ["ALL"]:
        problems.append("capabilities.drop [ALL]")
    if sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type") != "RuntimeDefault":
        problems.append("seccompProfile RuntimeDefault")
    return problems


@pytest.mark.parametrize("name", ALL)
def test_kustomization_renders(name: str) -> None:
    """`kubectl kustomize` renders the kustomization into a ConfigMap for the policy and one Deployment."""
    objects = rendered(name)
    assert one(objects, "Deployment")["metadata"]["name"] == "example-app"
    assert len(policy_configmaps(objects)) == 1


@pytest.mark.parametrize("name", ALL)
def test_rendered_objects_validate_against_pinned_schemas(name: str) -> None:
    """Every rendered object validates strictly (no unknown fields) against the Kubernetes 1.32 schemas."""
    for obj in rendered(name):
        kubernetes_validate.validate(obj, PINNED_VERSION, strict=True)


def test_legacy_overlay_validates_against_pre_native_sidecar_schemas() -> None:
    """The legacy overlay, meant for clusters before 1.29, validates strictly against the 1.28 schemas."""
    for obj in rendered("legacy-sidecar"):
        kubernetes_validate.validate(obj, LEGACY_VERSION, strict=True)


@pytest.mark.parametrize("name", ALL)
def test_sidecar_security_context_is_hardened(name: str) -> None:
    """The sidecar runs non-root with a read-only root, no privilege escalation, no capabilities, seccomp."""
    spec = pod_spec(rendered(name))
    assert hardened(sidecar(spec), spec) == []


@pytest.mark.parametrize("name", ALL)
def test_every_container_is_hardened(name: str) -> None:
    """Every container of the example pod (app, sidecars) gets the same hardened securityContext."""
    spec = pod_spec(rendered(name))
    problems = {c["name"]: hardened(c, spec) for c in all_containers(spec)}
    assert problems == {c["name"]: [] for c in all_containers(spec)}


@pytest.mark.parametrize("name", ALL)
def test_sidecar_mounts_never_use_subpath(name: str) -> None:
    """No volume mount of the sidecar uses subPath (subPath mounts never receive ConfigMap/Secret updates)."""
    mounts = sidecar(pod_spec(rendered(name))).get("volumeMounts", [])
    assert mounts
    assert [m["name"] for m in mounts if "subPath" in m or "subPathExpr" in m] == []


@pytest.mark.parametrize("name", ALL)
def test_policy_is_a_directory_mount_of_the_configmap(name: str) -> None:
    """SIDECAR_POLICY is a file inside a directory mount of the rendered policy ConfigMap, key for key."""
    objects = rendered(name)
    spec = pod_spec(objects)
    c = sidecar(spec)
    policy_path = env(c)["SIDECAR_POLICY"]
    directory, filename = posixpath.split(policy_path)
    mounts = [m for m in c["volumeMounts"] if m["mountPath"].rstrip("/") == directory]
    assert len(mounts) == 1, f"no mount at {directory}"
    source = volume(spec, mounts[0]["name"])["configMap"]
    assert "items" not in source, "items remaps keys; mount the whole ConfigMap"
    configmap = policy_configmaps(objects)[0]
    assert source["name"] == configmap["metadata"]["name"]
    assert filename in configmap["data"]


@pytest.mark.parametrize("name", ALL)
def test_probes_hit_health_endpoints_on_the_health_port(name: str) -> None:
    """Liveness GETs /healthz, readiness and startup GET /readyz, all on SIDECAR_HEALTH_PORT."""
    c = sidecar(pod_spec(rendered(name)))
    health_port = int(env(c)["SIDECAR_HEALTH_PORT"])
    expected = {"livenessProbe": "/healthz", "readinessProbe": "/readyz", "startupProbe": "/readyz"}
    for probe, path in expected.items():
        get = c[probe]["httpGet"]
        assert (get["path"], port_number(c, get["port"])) == (path, health_port), probe


@pytest.mark.parametrize("name", ALL)
def test_proxy_listens_on_loopback_only(name: str) -> None:
    """The proxy binds 127.0.0.1 and its port is not published on the pod IP; the health port differs."""
    c = sidecar(pod_spec(rendered(name)))
    values = env(c)
    assert values.get("SIDECAR_HOST", "127.0.0.1") == "127.0.0.1"
    proxy_port = int(values.get("SIDECAR_PORT", "8080"))
    assert proxy_port not in [p["containerPort"] for p in c.get("ports", [])]
    assert int(values["SIDECAR_HEALTH_PORT"]) != proxy_port


@pytest.mark.parametrize("name", ALL)
def test_sidecar_settings_are_ones_it_reads_with_values_it_accepts(name: str) -> None:
    """Every SIDECAR_* variable the sidecar container sets is a setting the sidecar reads (a misspelt one
    would be ignored, its default in force), and the literal values pass the settings' checks."""
    c = sidecar(pod_spec(rendered(name)))
    names = {e["name"]: e.get("value", "x") for e in c.get("env", [])}
    assert "SIDECAR_POLICY" in names and unknown_variables(names) == []
    Settings.from_env(env(c))


@pytest.mark.parametrize("name", ALL)
def test_app_base_urls_point_at_the_sidecar_port(name: str) -> None:
    """The app's OpenAI, Anthropic and Gemini base URLs are http://127.0.0.1:SIDECAR_PORT (OpenAI: /v1)."""
    spec = pod_spec(rendered(name))
    proxy_port = int(env(sidecar(spec)).get("SIDECAR_PORT", "8080"))
    app_env = env(app(spec))
    expected_paths = {"OPENAI_BASE_URL": "/v1", "ANTHROPIC_BASE_URL": "", "GOOGLE_GEMINI_BASE_URL": ""}
    for variable, path in expected_paths.items():
        url = urlsplit(app_env[variable])
        assert (url.scheme, url.hostname, url.port, url.path.rstrip("/")) == (
            "http",
            "127.0.0.1",
            proxy_port,
            path,
        ), variable


@pytest.mark.parametrize("name", ALL)
def test_grace_period_covers_prestop_and_drain(name: str) -> None:
    """terminationGracePeriodSeconds exceeds the sidecar's preStop sleep plus SIDECAR_DRAIN_TIMEOUT_S."""
    spec = pod_spec(rendered(name))
    c = sidecar(spec)
    drain = float(env(c).get("SIDECAR_DRAIN_TIMEOUT_S", "20"))
    assert spec.get("terminationGracePeriodSeconds", 30) > prestop_seconds(c) + drain


@pytest.mark.parametrize("name", NATIVE)
def test_native_sidecar_is_a_restartable_init_container_with_startup_probe(name: str) -> None:
    """In native mode the sidecar is an init container with restartPolicy Always and a startupProbe."""
    spec = pod_spec(rendered(name))
    [c] = [c for c in spec.get("initContainers", []) if c["name"] == SIDECAR]
    assert c["restartPolicy"] == "Always"
    assert "startupProbe" in c
    assert SIDECAR not in [c["name"] for c in spec["containers"]]


def test_legacy_sidecar_is_the_first_container_with_prestop_and_poststart() -> None:
    """Legacy: the sidecar is containers[0] without restartPolicy, holds the app back in postStart and
    keeps serving during the app's drain with a preStop sleep."""
    spec = pod_spec(rendered("legacy-sidecar"))
    assert "initContainers" not in spec or all(c["name"] != SIDECAR for c in spec["initContainers"])
    c = spec["containers"][0]
    assert c["name"] == SIDECAR
    assert "restartPolicy" not in c
    assert prestop_seconds(c) > 0
    assert "readyz" in " ".join(c["lifecycle"]["postStart"]["exec"]["command"])


@pytest.mark.parametrize("name", ALL)
def test_provider_keys_are_files_on_the_secret_mount(name: str) -> None:
    """Every `api_key: {file: ...}` in the policy lies on a read-only Secret mount with mode 0400/0440."""
    objects = rendered(name)
    spec = pod_spec(objects)
    c = sidecar(spec)
    policy = yaml.safe_load(policy_configmaps(objects)[0]["data"]["policy.yaml"])
    files = [p["api_key"]["file"] for p in policy["providers"].values() if "file" in p.get("api_key", {})]
    assert files, "the example policy reads its keys from files"
    for path in files:
        [mount] = [m for m in c["volumeMounts"] if path.startswith(m["mountPath"].rstrip("/") + "/")]
        assert mount.get("readOnly") is True
        secret = volume(spec, mount["name"])["secret"]
        assert secret.get("defaultMode") in (0o400, 0o440)
        if secret["defaultMode"] == 0o440:
            assert spec["securityContext"].get("fsGroup") is not None, "0440 needs an fsGroup to be readable"


@pytest.mark.parametrize("name", ALL)
def test_sidecar_has_resource_requests_and_a_memory_limit(name: str) -> None:
    """The sidecar requests CPU and memory and has a memory limit at least its request."""
    resources = sidecar(pod_spec(rendered(name)))["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert memory_bytes(resources["limits"]["memory"]) >= memory_bytes(resources["requests"]["memory"])


def sizing() -> dict[str, int]:
    """The sidecar's memory figures docs/operations.md ("Sizing for concurrency") gives, in MB: at its
    peak under load with every request traced, and the top of its peak at 2,000 concurrent streams (the
    concurrency the defaults hold)."""
    text = " ".join((REPO / "docs" / "operations.md").read_text().split())
    traced = re.search(r"with every request traced and exported, \d+ MB at start and (\d+) MB at that peak", text)
    streams = re.search(r"with 2,000 concurrent 5-second streams the sidecar peaked at \d+-(\d+) MB", text)
    assert traced is not None and streams is not None, "docs/operations.md's sizing sentences changed"
    return {"traced": int(traced.group(1)), "streams": int(streams.group(1))}


@pytest.mark.parametrize("name", ALL)
def test_sidecar_resources_hold_the_memory_the_sizing_docs_give(name: str) -> None:
    """The sidecar's memory request holds its peak under load with every request traced, and its limit
    the peak at 2,000 concurrent streams, as docs/operations.md measures them (the limit was sized when
    that peak was 112-123 MB: a new measure above the limit fails here)."""
    resources = sidecar(pod_spec(rendered(name)))["resources"]
    figures = sizing()
    assert memory_bytes(resources["requests"]["memory"]) >= figures["traced"] * 10**6
    assert memory_bytes(resources["limits"]["memory"]) >= figures["streams"] * 10**6


def test_the_deployments_sizing_comment_quotes_the_sizing_docs() -> None:
    """The comment over the sidecar's resources in deploy/k8s/base/deployment.yaml, which an SRE copying
    it reads, gives the peak at 2,000 streams docs/operations.md gives (it said 112-123 MB after the docs
    had moved to 150-156)."""
    text = " ".join((REPO / "docs" / "operations.md").read_text().split())
    peak = re.search(r"with 2,000 concurrent 5-second streams the sidecar peaked at (\d+-\d+ MB)", text)
    assert peak is not None
    comment = " ".join(
        line.strip().removeprefix("# ") for line in (K8S / "base" / "deployment.yaml").read_text().splitlines()
    )
    assert f"{peak.group(1)} at 2,000 concurrent streams" in comment


def test_otel_overlay_adds_collector_sidecar_before_llm_sidecar() -> None:
    """The collector is a native sidecar started before llm-sidecar (so it stops after it), with its
    config mounted as a directory from the generated ConfigMap."""
    objects = rendered("otel-collector")
    spec = pod_spec(objects)
    names = [c["name"] for c in spec["initContainers"]]
    assert names.index("otel-collector") < names.index(SIDECAR)
    collector = container(spec, "otel-collector")
    assert collector["restartPolicy"] == "Always"
    assert "startupProbe" in collector
    config_arg = next(a for a in collector["args"] if a.startswith("--config="))
    directory, key = posixpath.split(config_arg.removeprefix("--config="))
    [mount] = [m for m in collector["volumeMounts"] if m["mountPath"].rstrip("/") == directory]
    assert "subPath" not in mount
    configmap_name = volume(spec, mount["name"])["configMap"]["name"]
    [configmap] = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == configmap_name]
    assert key in configmap["data"]


def test_otel_overlay_points_sidecar_at_the_collector_receiver() -> None:
    """llm-sidecar's OTEL_EXPORTER_OTLP_ENDPOINT is the collector's OTLP/HTTP receiver on loopback."""
    objects = rendered("otel-collector")
    spec = pod_spec(objects)
    endpoint = urlsplit(env(sidecar(spec))["OTEL_EXPORTER_OTLP_ENDPOINT"])
    assert env(sidecar(spec))["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    [configmap] = [o for o in objects if o["metadata"]["name"].startswith("otel-collector-config")]
    config = yaml.safe_load(configmap["data"]["config.yaml"])
    receiver = config["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    assert f"{endpoint.hostname}:{endpoint.port}" == receiver
