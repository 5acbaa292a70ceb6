#!/usr/bin/env python3
"""Offline checks of the deployment files, run by scripts/validate-deploy (do not run alone).

Input: the rendered compose file (`docker-compose config`), the rendered kustomize overlays, the
authoritative configuration keys (`suite-admin config`) and the suite-admin binary, used to load
each environment's settings exactly as the services do (types, URL schemes, unknown keys).

Checks:
  * built-in Kubernetes kinds against the Kubernetes JSON schemas, strictly (unknown fields fail);
  * ServiceMonitor / PrometheusRule against the prometheus-operator models (PyPI
    cloudcoil-models-prometheus-operator, generated from the CRDs), unknown fields forbidden;
  * Strimzi and CloudNativePG resources: no schema is available from a package registry, so
    they get structural policy checks only (logged);
  * policy: every agent has probes, resources, a PDB, an HPA (CPU 70 %, memory 80 %,
    agent_queue_length, seed behaviour), a Service, an Ingress route, a ServiceMonitor, a
    termination grace above its shutdown grace; references resolve; topics match `suite-admin topics --list`; the Kafka version matches deploy/local/kafka/pom.xml;
  * configuration: every SUITE__ variable that compose or the manifests set is a real key, every
    key is set for every agent, secrets are in the Secret, and the resulting settings load.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

AGENTS = {"lead-triage": "/triage", "engagement": "/engagement",
          "campaign-optimization": "/optimization"}
SECRET_KEYS = {"SUITE__DATABASE__URL", "SUITE__DATABASE__REPLICA_URLS", "SUITE__REDIS__NODES", "SUITE__ENGAGEMENT__SMTP_PASSWORD",
               "SUITE__LLM__API_KEY"}
SET_BY_BINARY = {"SUITE__SERVICE"}
SKIPPED_GROUPS = {"kafka.strimzi.io": "Strimzi", "postgresql.cnpg.io": "CloudNativePG"}

failures: list[str] = []
notes: list[str] = []


def fail(where: str, msg: str) -> None:
    failures.append(f"{where}: {msg}")


# ---------------------------------------------------------------------------------------------
# configuration keys and settings
# ---------------------------------------------------------------------------------------------
def read_keys(path: str) -> dict[str, str]:
    keys = {}
    for line in Path(path).read_text().splitlines():
        if "=" in line and line.startswith("SUITE__"):
            k, v = line.split("=", 1)
            keys[k] = v
    if len(keys) < 10:
        raise SystemExit(f"suspiciously few configuration keys in {path}: {sorted(keys)}")
    return keys


def load_settings(admin: str, env: dict[str, str], where: str) -> dict[str, str] | None:
    """Runs `suite-admin config` with exactly `env`: the services' own loader and validation."""
    clean = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
    clean.update(env)
    res = subprocess.run([admin, "config"], env=clean, capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        lines = (res.stderr.strip() or res.stdout.strip() or "no output").splitlines()
        fail(where, "settings do not load (suite-admin config): " + lines[0])
        return None
    out = {}
    for line in res.stdout.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out


def check_env(where: str, env: dict[str, str], keys: dict[str, str], admin: str,
              require_all: bool) -> dict[str, str] | None:
    suite = {k: v for k, v in env.items() if k.startswith("SUITE__")}
    for k in sorted(suite):
        if k in SET_BY_BINARY:
            fail(where, f"{k} is set by each binary itself and must not be configured")
        elif k not in keys:
            fail(where, f"{k} is not a configuration key of the services (suite-admin config)")
    if require_all:
        missing = sorted(set(keys) - SET_BY_BINARY - set(suite))
        if missing:
            fail(where, "configuration keys not set: " + ", ".join(missing))
    loadable = {k: v for k, v in suite.items() if k not in SET_BY_BINARY}
    effective = load_settings(admin, loadable, where)
    if effective is None:
        return None
    for k, v in loadable.items():
        if k in SECRET_KEYS or k not in effective:
            continue
        if not same_value(effective[k], v):
            fail(where, f"{k}={v!r} is read back as {effective[k]!r}")
    return effective


def same_value(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return float(a) == float(b)
    except ValueError:
        return a.lower() == b.lower()


def url_host(url: str) -> str:
    m = re.match(r"^[a-z]+://(?:[^@/]*@)?([^:/,]+)", url)
    return m.group(1) if m else ""


# ---------------------------------------------------------------------------------------------
# topics: their one definition is libs/domain/src/topics.rs, printed by `suite-admin topics --list`
# ---------------------------------------------------------------------------------------------
def suite_topics(admin: str) -> tuple[set[str], set[str]]:
    """(every topic with its .dlq twin, the compacted ones) as suite-admin creates them."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SUITE__")}
    res = subprocess.run([admin, "topics", "--list"], env=clean, capture_output=True, text=True,
                         timeout=60, check=True)
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.strip()]
    return {r["name"] for r in rows}, {r["name"] for r in rows if r["compacted"]}


# ---------------------------------------------------------------------------------------------
# the Kafka version: deploy/local/kafka/pom.xml chooses it; compose and Strimzi repeat it
# ---------------------------------------------------------------------------------------------
def kafka_version(root: Path) -> str:
    m = re.search(r"<kafka\.version>([^<]+)</kafka\.version>",
                  (root / "deploy/local/kafka/pom.xml").read_text())
    if not m:
        fail("deploy/local/kafka/pom.xml", "no <kafka.version>")
        return ""
    return m.group(1).strip()


# ---------------------------------------------------------------------------------------------
# compose
# ---------------------------------------------------------------------------------------------
def check_compose(path: str, root: Path, keys: dict[str, str], admin: str) -> None:
    doc = yaml.safe_load(Path(path).read_text())
    services = doc.get("services", {})
    grace = int(keys.get("SUITE__HTTP__SHUTDOWN_GRACE_SECS", "20"))
    seen_agents = set()
    for name, svc in services.items():
        where = f"compose service {name}"
        env = svc.get("environment") or {}
        if isinstance(env, list):
            env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
        env = {k: "" if v is None else str(v) for k, v in env.items()}
        for vol in svc.get("volumes", []) or []:
            src = vol.get("source") if isinstance(vol, dict) else str(vol).split(":")[0]
            if src and src.startswith("/") and not Path(src).exists():
                fail(where, f"mounted file {src} does not exist")
        command = svc.get("command") or []
        if isinstance(command, str):
            command = command.split()
        runs_suite = str(svc.get("image", "")).startswith("marketing-suite")
        if not runs_suite:
            if any(k.startswith("SUITE__") for k in env):
                fail(where, "sets SUITE__ variables but does not run the suite image")
            continue
        binary = command[0] if command else "lead-triage"
        if binary in AGENTS:
            seen_agents.add(binary)
            check_env(where, env, keys, admin, require_all=True)
            hc = svc.get("healthcheck") or {}
            if hc.get("disable") or not hc.get("test"):
                fail(where, "no healthcheck")
            deps = svc.get("depends_on") or {}
            if not isinstance(deps, dict) or not deps:
                fail(where, "depends_on without conditions")
            else:
                for dep, cond in deps.items():
                    if dep not in services:
                        fail(where, f"depends_on unknown service {dep}")
                    if not (cond or {}).get("condition"):
                        fail(where, f"depends_on {dep} has no condition")
            if not env.get("SUITE__HTTP__BIND", "").startswith("0.0.0.0:"):
                fail(where, "SUITE__HTTP__BIND must listen on 0.0.0.0 in a container")
            stop = str(svc.get("stop_grace_period", "10s"))
            secs = parse_duration(stop)
            if secs <= int(env.get("SUITE__HTTP__SHUTDOWN_GRACE_SECS", grace)):
                fail(where, f"stop_grace_period {stop} is not above the shutdown grace")
        elif binary == "suite-admin":
            check_env(where, env, keys, admin, require_all=False)
        else:
            fail(where, f"runs unknown binary {binary!r}")
    for agent in AGENTS:
        if agent not in seen_agents:
            fail("compose", f"no service runs {agent}")
    # the topics: created by suite-admin (their one definition), after Kafka is healthy
    init = services.get("kafka-init") or {}
    if (init.get("command") or [])[:2] != ["suite-admin", "topics"]:
        fail("compose kafka-init", "must run suite-admin topics")
    if (init.get("depends_on") or {}).get("kafka", {}).get("condition") != "service_healthy":
        fail("compose kafka-init", "must wait for kafka to be healthy")
    # the same Kafka as the local stack
    image = str((services.get("kafka") or {}).get("image", ""))
    want_version = kafka_version(root)
    if image != f"apache/kafka:{want_version}":
        fail("compose kafka", f"image {image!r} is not apache/kafka:{want_version} (deploy/local/kafka/pom.xml)")


def parse_duration(s: str) -> float:
    total = 0.0
    for num, unit in re.findall(r"([\d.]+)(us|ms|s|m|h)", s):
        total += float(num) * {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[unit]
    return total


# ---------------------------------------------------------------------------------------------
# kubernetes
# ---------------------------------------------------------------------------------------------
_strict_models = None


def prometheus_operator_models():
    """The prometheus-operator CRD models with unknown fields forbidden at every level."""
    global _strict_models
    if _strict_models is None:
        import inspect

        import pydantic
        from cloudcoil import apimachinery
        from cloudcoil.models.prometheus_operator import v1

        classes = []
        for mod in (v1, apimachinery):
            for _, cls in inspect.getmembers(mod, inspect.isclass):
                if issubclass(cls, pydantic.BaseModel) and cls.__module__ == mod.__name__:
                    classes.append(cls)
        for cls in classes:
            cls.model_config["extra"] = "forbid"
        for cls in classes:
            cls.model_rebuild(force=True)
        _strict_models = {"ServiceMonitor": v1.ServiceMonitor, "PrometheusRule": v1.PrometheusRule,
                          "PodMonitor": v1.PodMonitor}
    return _strict_models


def schema_validate(docs: list[dict], overlay: str, k8s_version: str) -> None:
    import kubernetes_validate

    skipped: dict[str, int] = {}
    counted = {"kubernetes": 0, "prometheus-operator": 0}
    for d in docs:
        where = f"{overlay}: {d.get('kind')}/{d.get('metadata', {}).get('name')}"
        group = d.get("apiVersion", "").rpartition("/")[0]
        if group in SKIPPED_GROUPS:
            skipped[SKIPPED_GROUPS[group]] = skipped.get(SKIPPED_GROUPS[group], 0) + 1
            continue
        if group == "monitoring.coreos.com":
            model = prometheus_operator_models().get(d["kind"])
            if model is None:
                fail(where, "no model for this prometheus-operator kind")
                continue
            try:
                model.model_validate(d)
                counted["prometheus-operator"] += 1
            except Exception as e:  # pydantic.ValidationError
                fail(where, "prometheus-operator schema: " + str(e).replace("\n", " | ")[:600])
            continue
        try:
            kubernetes_validate.validate(d, k8s_version, strict=True)
            counted["kubernetes"] += 1
        except kubernetes_validate.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            fail(where, f"Kubernetes {k8s_version} schema (strict): {e.message} at {path or '(root)'}")
        except kubernetes_validate.SchemaNotFoundError:
            fail(where, f"no Kubernetes schema for {d.get('apiVersion')} {d.get('kind')}")
    print(f"   {overlay}: {counted['kubernetes']} built-in objects valid against Kubernetes "
          f"{k8s_version} (strict), {counted['prometheus-operator']} prometheus-operator objects "
          f"valid (unknown fields forbidden)")
    for name, n in sorted(skipped.items()):
        notes.append(f"{overlay}: {n} {name} objects: no CRD schema obtainable from a package "
                     f"registry, schema validation skipped (structural checks only)")


def labels_match(selector: dict, labels: dict) -> bool:
    ml = selector.get("matchLabels", selector if "matchExpressions" not in selector else {})
    if any(labels.get(k) != v for k, v in (ml or {}).items()):
        return False
    for expr in selector.get("matchExpressions", []) or []:
        val = labels.get(expr["key"])
        op = expr["operator"]
        if op == "In" and val not in expr["values"]:
            return False
        if op == "NotIn" and val in expr["values"]:
            return False
        if op == "Exists" and val is None:
            return False
        if op == "DoesNotExist" and val is not None:
            return False
    return True


def effective_env(container: dict, index: dict) -> tuple[dict[str, str], list[str]]:
    env: dict[str, str] = {}
    problems = []
    for src in container.get("envFrom", []) or []:
        if "configMapRef" in src:
            cm = index.get(("ConfigMap", src["configMapRef"]["name"]))
            if cm is None:
                problems.append(f"ConfigMap {src['configMapRef']['name']} not in the render")
                continue
            env.update({k: str(v) for k, v in (cm.get("data") or {}).items()})
        elif "secretRef" in src:
            sec = index.get(("Secret", src["secretRef"]["name"]))
            if sec is None:
                problems.append(f"Secret {src['secretRef']['name']} not in the render")
                continue
            env.update(secret_data(sec))
    for e in container.get("env", []) or []:
        if "value" in e:
            env[e["name"]] = str(e["value"])
        elif "valueFrom" in e:
            vf = e["valueFrom"]
            if "configMapKeyRef" in vf or "secretKeyRef" in vf:
                kind, ref = (("ConfigMap", vf["configMapKeyRef"]) if "configMapKeyRef" in vf
                             else ("Secret", vf["secretKeyRef"]))
                obj = index.get((kind, ref["name"]))
                data = (secret_data(obj) if kind == "Secret" else obj.get("data", {})) if obj else None
                if data is None or ref["key"] not in data:
                    problems.append(f"{kind} {ref['name']} key {ref['key']} not in the render")
                else:
                    env[e["name"]] = str(data[ref["key"]])
            else:
                env[e["name"]] = "<runtime>"
        else:
            env[e["name"]] = ""
    return env, problems


def secret_data(sec: dict) -> dict[str, str]:
    out = {k: base64.b64decode(v).decode() for k, v in (sec.get("data") or {}).items()}
    out.update({k: str(v) for k, v in (sec.get("stringData") or {}).items()})
    return out


def pod_templates(docs):
    for d in docs:
        kind = d.get("kind")
        if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
            yield d, d["spec"]["template"]
        elif kind == "Job":
            yield d, d["spec"]["template"]
        elif kind == "CronJob":
            yield d, d["spec"]["jobTemplate"]["spec"]["template"]


def check_k8s(docs: list[dict], overlay: str, root: Path, keys: dict[str, str], admin: str,
              ha: bool) -> None:
    index = {(d.get("kind"), d.get("metadata", {}).get("name")): d for d in docs}
    by_kind: dict[str, list[dict]] = {}
    for d in docs:
        by_kind.setdefault(d.get("kind"), []).append(d)

    # references from pod templates resolve
    for owner, tpl in pod_templates(docs):
        where = f"{overlay}: {owner['kind']}/{owner['metadata']['name']}"
        spec = tpl["spec"]
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            _, problems = effective_env(c, index)
            for p in problems:
                fail(where, p)
            for k in (c.get("env") or []):
                if k["name"].startswith("SUITE__") and k["name"] not in keys:
                    fail(where, f"{k['name']} is not a configuration key")
        for v in spec.get("volumes", []) or []:
            if "configMap" in v and ("ConfigMap", v["configMap"]["name"]) not in index:
                fail(where, f"volume ConfigMap {v['configMap']['name']} not in the render")
            if "secret" in v and ("Secret", v["secret"]["secretName"]) not in index:
                fail(where, f"volume Secret {v['secret']['secretName']} not in the render")
        sa = spec.get("serviceAccountName")
        if sa and ("ServiceAccount", sa) not in index:
            fail(where, f"ServiceAccount {sa} not in the render")

    # every ConfigMap/Secret SUITE__ key is a real key; the split secret/non-secret is right
    for kind in ("ConfigMap", "Secret"):
        for d in by_kind.get(kind, []):
            data = secret_data(d) if kind == "Secret" else (d.get("data") or {})
            for k in data:
                if k.startswith("SUITE__") and k not in keys:
                    fail(f"{overlay}: {kind}/{d['metadata']['name']}", f"{k} is not a configuration key")
                if kind == "ConfigMap" and k in SECRET_KEYS:
                    fail(f"{overlay}: ConfigMap/{d['metadata']['name']}",
                         f"{k} may carry a password: it belongs in a Secret")

    services = by_kind.get("Service", [])
    grace_default = int(keys.get("SUITE__HTTP__SHUTDOWN_GRACE_SECS", "20"))
    for agent, prefix in AGENTS.items():
        where = f"{overlay}: Deployment/{agent}"
        dep = index.get(("Deployment", agent))
        if dep is None:
            fail(overlay, f"no Deployment {agent}")
            continue
        tpl = dep["spec"]["template"]
        labels = tpl["metadata"].get("labels", {})
        pod = tpl["spec"]
        c = next((c for c in pod["containers"] if c.get("args", [None])[0] == agent
                  or c["name"] == agent), None)
        if c is None:
            fail(where, f"no container runs {agent}")
            continue
        for probe in ("readinessProbe", "livenessProbe"):
            if probe not in c:
                fail(where, f"no {probe}")
        if c.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
            fail(where, "readinessProbe must be GET /readyz")
        if c.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
            fail(where, "livenessProbe must be GET /healthz")
        res = c.get("resources", {})
        for part, names in (("requests", ("cpu", "memory")), ("limits", ("memory",))):
            for n in names:
                if n not in res.get(part, {}):
                    fail(where, f"no resources.{part}.{n}")
        if not pod.get("topologySpreadConstraints") and not pod.get("affinity", {}).get("podAntiAffinity"):
            fail(where, "no topology spread or pod anti-affinity")
        # configuration
        env, _ = effective_env(c, index)
        effective = check_env(where, env, keys, admin, require_all=True)
        grace = int(env.get("SUITE__HTTP__SHUTDOWN_GRACE_SECS", grace_default))
        pre_stop = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        tgp = pod.get("terminationGracePeriodSeconds", 30)
        if tgp <= grace + pre_stop:
            fail(where, f"terminationGracePeriodSeconds {tgp} must exceed preStop {pre_stop}s + "
                        f"SUITE__HTTP__SHUTDOWN_GRACE_SECS {grace}s")
        bind = env.get("SUITE__HTTP__BIND", "")
        ports = {p.get("containerPort") for p in c.get("ports", [])}
        if not bind.startswith("0.0.0.0:") or int(bind.rsplit(":", 1)[-1] or 0) not in ports:
            fail(where, f"SUITE__HTTP__BIND {bind!r} does not match the container ports {ports}")
        if effective is not None:
            if "pooler" not in url_host(env.get("SUITE__DATABASE__URL", "")):
                fail(where, "writes should go through the PgBouncer pooler (-pooler-rw)")
            for u in env.get("SUITE__DATABASE__REPLICA_URLS", "").split(","):
                if not url_host(u).endswith("-ro"):
                    fail(where, f"read replica URL host {url_host(u)!r} is not a -ro service")
        # PDB, HPA, Service, Ingress, ServiceMonitor
        if not any(labels_match(p["spec"]["selector"], labels) for p in by_kind.get("PodDisruptionBudget", [])):
            fail(where, "no PodDisruptionBudget selects its pods")
        hpa = next((h for h in by_kind.get("HorizontalPodAutoscaler", [])
                    if h["spec"]["scaleTargetRef"]["kind"] == "Deployment"
                    and h["spec"]["scaleTargetRef"]["name"] == agent), None)
        if hpa is None:
            fail(where, "no HorizontalPodAutoscaler")
        else:
            check_hpa(f"{overlay}: HorizontalPodAutoscaler/{hpa['metadata']['name']}", hpa)
            if "replicas" in dep["spec"]:
                fail(where, "spec.replicas is set although an HPA owns the replica count")
        svc = next((s for s in services if s["spec"].get("selector")
                    and labels_match({"matchLabels": s["spec"]["selector"]}, labels)), None)
        if svc is None:
            fail(where, "no Service selects its pods")
            continue
        routed = False
        for ing in by_kind.get("Ingress", []):
            for rule in ing["spec"].get("rules", []):
                for p in rule.get("http", {}).get("paths", []):
                    if p["backend"]["service"]["name"] == svc["metadata"]["name"] and \
                            p["path"].startswith(prefix + "/"):
                        routed = True
        if not routed:
            fail(where, f"no Ingress path {prefix}/... to Service {svc['metadata']['name']}")
        svc_labels = svc["metadata"].get("labels", {})
        if not any(labels_match(sm["spec"]["selector"], svc_labels) for sm in by_kind.get("ServiceMonitor", [])):
            fail(where, "no ServiceMonitor selects its Service")

    # Services select something (operator-managed pods excepted: none of ours)
    templates = [tpl["metadata"].get("labels", {}) for _, tpl in pod_templates(docs)]
    for s in services:
        sel = s["spec"].get("selector")
        if sel and not any(labels_match({"matchLabels": sel}, t) for t in templates):
            fail(f"{overlay}: Service/{s['metadata']['name']}", f"selector {sel} matches no pod template")

    # migration job: the primary directly, not the transaction pooler
    job = index.get(("Job", "suite-migrate"))
    if job is None:
        fail(overlay, "no migration Job suite-migrate")
    else:
        c = job["spec"]["template"]["spec"]["containers"][0]
        env, _ = effective_env(c, index)
        check_env(f"{overlay}: Job/suite-migrate", env, keys, admin, require_all=False)
        if not url_host(env.get("SUITE__DATABASE__URL", "")).endswith("-rw") or \
                "pooler" in env.get("SUITE__DATABASE__URL", ""):
            fail(f"{overlay}: Job/suite-migrate", "must use the primary's -rw service, not the pooler")
        if c.get("args", [])[:2] != ["suite-admin", "migrate"]:
            fail(f"{overlay}: Job/suite-migrate", "must run suite-admin migrate")

    check_operators(by_kind, index, overlay, root, admin, ha)


def check_hpa(where: str, hpa: dict) -> None:
    spec = hpa["spec"]
    found = {"cpu": False, "memory": False, "queue": False}
    for m in spec.get("metrics", []):
        if m["type"] == "Resource":
            r = m["resource"]
            want = {"cpu": 70, "memory": 80}.get(r["name"])
            if want is not None and r["target"].get("averageUtilization") == want:
                found[r["name"]] = True
        elif m["type"] in ("Pods", "External"):
            body = m["pods"] if m["type"] == "Pods" else m["external"]
            if body["metric"]["name"] == "agent_queue_length":
                found["queue"] = True
    for k, ok in found.items():
        if not ok:
            fail(where, {"cpu": "no CPU 70% target", "memory": "no memory 80% target",
                         "queue": "no agent_queue_length metric"}[k])
    b = spec.get("behavior", {})
    up, down = b.get("scaleUp", {}), b.get("scaleDown", {})
    if up.get("stabilizationWindowSeconds") is None or not up.get("policies"):
        fail(where, "no scale-up behaviour")
    if down.get("stabilizationWindowSeconds", 0) < 300 or not down.get("policies"):
        fail(where, "scale-down must wait at least 300 s and have policies (seed behaviour)")
    if spec.get("minReplicas", 1) > spec["maxReplicas"]:
        fail(where, "minReplicas above maxReplicas")


def check_operators(by_kind, index, overlay: str, root: Path, admin: str, ha: bool) -> None:
    # Strimzi
    kafkas = by_kind.get("Kafka", [])
    if len(kafkas) != 1:
        fail(overlay, f"expected one Strimzi Kafka, found {len(kafkas)}")
        return
    kafka = kafkas[0]
    kname = kafka["metadata"]["name"]
    ann = kafka["metadata"].get("annotations", {})
    if ann.get("strimzi.io/kraft") != "enabled" or ann.get("strimzi.io/node-pools") != "enabled":
        fail(f"{overlay}: Kafka/{kname}", "must run in KRaft mode with node pools")
    if "zookeeper" in kafka["spec"]:
        fail(f"{overlay}: Kafka/{kname}", "KRaft mode: no zookeeper section")
    pools = [p for p in by_kind.get("KafkaNodePool", [])
             if p["metadata"].get("labels", {}).get("strimzi.io/cluster") == kname]
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    controllers = sum(p["spec"]["replicas"] for p in pools if "controller" in p["spec"]["roles"])
    cfg = kafka["spec"]["kafka"].get("config", {})
    if ha:
        if brokers < 3 or controllers < 3:
            fail(f"{overlay}: Kafka/{kname}", f"{brokers} brokers / {controllers} controllers, want 3")
        if int(cfg.get("default.replication.factor", 1)) < 3 or int(cfg.get("min.insync.replicas", 1)) != 2:
            fail(f"{overlay}: Kafka/{kname}", "want replication 3 and min.insync.replicas 2")
    elif brokers < 1 or controllers < 1:
        fail(f"{overlay}: Kafka/{kname}", "no broker or controller")
    for k in ("default.replication.factor", "offsets.topic.replication.factor",
              "transaction.state.log.replication.factor", "min.insync.replicas"):
        if int(cfg.get(k, 1)) > brokers:
            fail(f"{overlay}: Kafka/{kname}", f"{k}={cfg.get(k)} exceeds {brokers} brokers")
    if cfg.get("auto.create.topics.enable") not in (False, "false"):
        fail(f"{overlay}: Kafka/{kname}", "auto.create.topics.enable must be false (the suite creates its topics)")
    want_version = kafka_version(root)
    if str(kafka["spec"]["kafka"].get("version")) != want_version:
        fail(f"{overlay}: Kafka/{kname}", f"version {kafka['spec']['kafka'].get('version')} is not "
                                          f"{want_version} (deploy/local/kafka/pom.xml)")
    want, compacted = suite_topics(admin)
    topics = {}
    for t in by_kind.get("KafkaTopic", []):
        name = t["spec"].get("topicName", t["metadata"]["name"])
        topics[name] = t
        where = f"{overlay}: KafkaTopic/{name}"
        if t["metadata"].get("labels", {}).get("strimzi.io/cluster") != kname:
            fail(where, f"not labelled strimzi.io/cluster={kname}")
        reps = t["spec"].get("replicas", 1)
        isr = int(t["spec"].get("config", {}).get("min.insync.replicas", 1))
        if reps > brokers or isr > reps:
            fail(where, f"replicas {reps} / min ISR {isr} impossible with {brokers} brokers")
        if ha and (reps < 3 or isr != 2):
            fail(where, f"want replicas 3 and min.insync.replicas 2, got {reps}/{isr}")
        is_compact = t["spec"].get("config", {}).get("cleanup.policy") == "compact"
        if is_compact != (name in compacted):
            fail(where, "cleanup.policy compact only (and always) for " + ", ".join(sorted(compacted)))
    if set(topics) != want:
        fail(f"{overlay}: KafkaTopics", f"differ from suite-admin topics --list: {sorted(set(topics) ^ want)}")
    # CloudNativePG
    clusters = by_kind.get("Cluster", [])
    if len(clusters) != 1:
        fail(overlay, f"expected one CloudNativePG Cluster, found {len(clusters)}")
        return
    pg = clusters[0]
    pgname = pg["metadata"]["name"]
    inst = pg["spec"].get("instances", 1)
    if ha and inst != 3:
        fail(f"{overlay}: Cluster/{pgname}", f"{inst} instances, want 1 primary + 2 replicas")
    if not ha and inst < 2:
        fail(f"{overlay}: Cluster/{pgname}", "needs at least one replica for the -ro service")
    sec = pg["spec"].get("bootstrap", {}).get("initdb", {}).get("secret", {}).get("name")
    if sec and ("Secret", sec) not in index:
        fail(f"{overlay}: Cluster/{pgname}", f"initdb secret {sec} not in the render (name suffix?)")
    poolers = by_kind.get("Pooler", [])
    if not any(p["spec"]["cluster"]["name"] == pgname and p["spec"].get("type") == "rw"
               and p["spec"].get("pgbouncer", {}).get("poolMode") == "transaction" for p in poolers):
        fail(overlay, f"no rw Pooler in transaction mode for Cluster {pgname}")
    # the agents' URLs name services that exist
    pooler_names = {p["metadata"]["name"] for p in poolers}
    pg_services = {f"{pgname}-rw", f"{pgname}-ro", f"{pgname}-r"} | pooler_names
    for agent in list(AGENTS) + ["suite-migrate"]:
        obj = index.get(("Deployment", agent)) or index.get(("Job", agent))
        if obj is None:
            continue
        env, _ = effective_env(obj["spec"]["template"]["spec"]["containers"][0], index)
        urls = [env.get("SUITE__DATABASE__URL", "")] + env.get("SUITE__DATABASE__REPLICA_URLS", "").split(",")
        for u in filter(None, urls):
            if url_host(u) not in pg_services:
                fail(f"{overlay}: {agent}", f"database host {url_host(u)!r} is none of {sorted(pg_services)}")
        if "SUITE__KAFKA__BROKERS" in env and not env["SUITE__KAFKA__BROKERS"].startswith(f"{kname}-kafka-bootstrap:"):
            fail(f"{overlay}: {agent}", "SUITE__KAFKA__BROKERS is not the Strimzi bootstrap service")
        nodes = env.get("SUITE__REDIS__NODES", "")
        sts = index.get(("StatefulSet", "redis-cluster"))
        if nodes and sts:
            want_hosts = {f"redis-cluster-{i}.redis-cluster" for i in range(sts["spec"]["replicas"])}
            got_hosts = {url_host(n) for n in nodes.split(",")}
            if got_hosts != want_hosts:
                fail(f"{overlay}: {agent}", f"SUITE__REDIS__NODES {sorted(got_hosts)} != {sorted(want_hosts)}")
    sts = index.get(("StatefulSet", "redis-cluster"))
    if sts is None or sts["spec"]["replicas"] != 6:
        fail(overlay, "the Redis cluster StatefulSet must have 6 nodes (3 masters + 3 replicas)")
    if ("Job", "redis-cluster-init") not in index:
        fail(overlay, "no Redis cluster init Job")


def check_alerts(root: Path, docs_by_overlay: dict[str, list[dict]]) -> None:
    compose_rules = yaml.safe_load((root / "deploy/compose/prometheus/alerts.yml").read_text())
    for overlay, docs in docs_by_overlay.items():
        rules = [d for d in docs if d.get("kind") == "PrometheusRule"]
        if len(rules) != 1 or rules[0]["spec"].get("groups") != compose_rules.get("groups"):
            fail(f"{overlay}: PrometheusRule", "differs from deploy/compose/prometheus/alerts.yml")


def check_docker_context(root: Path) -> None:
    """The build context keeps every workspace member; the Dockerfile builds the four binaries."""
    import tomllib

    cargo = root / "Cargo.toml"
    if not cargo.exists():
        cargo = Path(__file__).resolve().parent.parent / "Cargo.toml"
    members = tomllib.loads(cargo.read_text())["workspace"]["members"]
    ignored = [ln.strip().rstrip("/") for ln in (root / ".dockerignore").read_text().splitlines()
               if ln.strip() and not ln.startswith("#") and not ln.startswith("!")]
    for m in members + ["Cargo.toml", "Cargo.lock", "migrations"]:
        for pat in ignored:
            if m == pat or m.startswith(pat + "/"):
                fail(".dockerignore", f"{pat} excludes {m}, which the build needs")
    text = (root / "Dockerfile").read_text()
    for binary in list(AGENTS) + ["suite-admin"]:
        if f"-p {binary}" not in text or f"target/release/{binary}" not in text:
            fail("Dockerfile", f"does not build and copy {binary}")
    if not re.search(r"^USER\s+(?!0\b|root\b)\S+", text, re.M):
        fail("Dockerfile", "the runtime stage must run as a non-root USER")
    if "HEALTHCHECK" not in text:
        fail("Dockerfile", "no HEALTHCHECK")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--keys", required=True)
    ap.add_argument("--admin", required=True)
    ap.add_argument("--compose", required=True)
    ap.add_argument("--overlay", action="append", default=[], help="NAME=RENDERED_FILE")
    ap.add_argument("--ha-overlay", action="append", default=[])
    ap.add_argument("--k8s-version", default="1.31.0")
    args = ap.parse_args()
    root = Path(args.root)
    keys = read_keys(args.keys)
    print(f"   {len(keys)} configuration keys from suite-admin config")

    check_docker_context(root)
    check_compose(args.compose, root, keys, args.admin)
    docs_by_overlay = {}
    for spec in args.overlay:
        name, path = spec.split("=", 1)
        docs = [d for d in yaml.safe_load_all(Path(path).read_text()) if d]
        docs_by_overlay[name] = docs
        schema_validate(docs, name, args.k8s_version)
        check_k8s(docs, name, root, keys, args.admin, ha=name in args.ha_overlay)
    check_alerts(root, docs_by_overlay)

    for n in notes:
        print(f"   note: {n}")
    if failures:
        for f in failures:
            print(f"FAIL {f}")
        print(f"{len(failures)} deployment check(s) failed")
        return 1
    print("   compose and every overlay: configuration, schemas and policies OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
