"""The Kubernetes manifests against the binaries they run.

Renders every overlay with `kubectl kustomize` and checks what a typo would
break only in a cluster: each POLKU_* variable a container sets is a flag of
its binary, probes and Services point at declared ports, the readiness probe
names a health service the binary reports, every Secret key a pod reads is
provided (dev) and every autoscaler targets a Deployment.
"""
import os
import re
import subprocess
import sys
import unittest

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN_DIR = os.environ.get("POLKU_BIN_DIR", os.path.join(ROOT, "build", "release", "bin"))
OVERLAYS = ["dev", "production"]
# Health services a binary reports besides "" (see services/*/main.cc).
HEALTH_SERVICES = {"polku-feedback": {"polku.v1.FeedbackService"}}


def render(overlay):
    out = subprocess.run(
        ["kubectl", "kustomize", os.path.join(ROOT, "k8s", "overlays", overlay)],
        check=True, capture_output=True, text=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


_flag_cache = {}


def flags_of(binary):
    if binary not in _flag_cache:
        out = subprocess.run([os.path.join(BIN_DIR, binary), "--helpfull"],
                             capture_output=True, text=True)
        _flag_cache[binary] = set(re.findall(r"^\s+--(\w+)", out.stdout + out.stderr, re.M))
    return _flag_cache[binary]


def workloads(docs):
    return [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]


class ManifestTest(unittest.TestCase):
    def setUp(self):
        self.docs = {overlay: render(overlay) for overlay in OVERLAYS}

    def of_kind(self, overlay, kind):
        return {d["metadata"]["name"]: d for d in self.docs[overlay] if d["kind"] == kind}

    def test_every_variable_is_a_flag_of_its_binary(self):
        for overlay in OVERLAYS:
            config_maps = self.of_kind(overlay, "ConfigMap")
            for workload in workloads(self.docs[overlay]):
                for container in workload["spec"]["template"]["spec"]["containers"]:
                    command = container.get("command", [""])[0]
                    if not command.startswith("/usr/local/bin/polku-"):
                        continue
                    binary = os.path.basename(command)
                    known = flags_of(binary)
                    self.assertIn("listen" if binary != "polku-gateway" else "grpc_listen",
                                  known, binary)
                    for env in container.get("env", []):
                        self.assertTrue(env["name"].startswith("POLKU_"), env["name"])
                        flag = env["name"][len("POLKU_"):].lower()
                        self.assertIn(flag, known, f"{overlay}: {binary} has no --{flag}")
                    # One ConfigMap for every process: each key must be a
                    # flag of some Polku binary (the others ignore it).
                    for source in container.get("envFrom", []):
                        name = source["configMapRef"]["name"]
                        self.assertIn(name, config_maps, f"{overlay}: no ConfigMap {name}")
                        for key in config_maps[name]["data"]:
                            flag = key[len("POLKU_"):].lower()
                            users = [b for b in ("polku-journey", "polku-feedback",
                                                 "polku-insight", "polku-gateway")
                                     if flag in flags_of(b)]
                            self.assertTrue(users, f"{overlay}: {key} is nobody's flag")

    def test_probes_and_services_use_declared_ports(self):
        for overlay in OVERLAYS:
            services = self.of_kind(overlay, "Service")
            for workload in workloads(self.docs[overlay]):
                spec = workload["spec"]["template"]["spec"]
                labels = workload["spec"]["template"]["metadata"]["labels"]
                for container in spec["containers"]:
                    ports = {p["containerPort"] for p in container.get("ports", [])}
                    names = {p["name"] for p in container.get("ports", [])}
                    binary = os.path.basename(container.get("command", [""])[0])
                    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                        check = container.get(probe)
                        if not check:
                            continue
                        if "grpc" in check:
                            self.assertIn(check["grpc"]["port"], ports, f"{binary} {probe}")
                            service = check["grpc"].get("service")
                            if service:
                                self.assertIn(service, HEALTH_SERVICES.get(binary, set()),
                                              f"{binary} reports no health for {service}")
                        elif "httpGet" in check:
                            self.assertIn(check["httpGet"]["port"], names | ports)
                matching = [s for s in services.values()
                            if s["spec"]["selector"].items() <= labels.items()]
                self.assertTrue(matching, f"{overlay}: no Service selects {labels}")
                declared = {p["name"] for c in spec["containers"] for p in c.get("ports", [])}
                for service in matching:
                    for port in service["spec"]["ports"]:
                        self.assertIn(port["targetPort"], declared, service["metadata"]["name"])

    def test_dev_provides_every_secret_key_pods_read(self):
        secrets = self.of_kind("dev", "Secret")
        for workload in workloads(self.docs["dev"]):
            for container in workload["spec"]["template"]["spec"]["containers"]:
                for env in container.get("env", []):
                    ref = env.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        self.assertIn(ref["name"], secrets)
                        self.assertIn(ref["key"], secrets[ref["name"]]["stringData"])

    def test_production_scales_every_backend(self):
        deployments = self.of_kind("production", "Deployment")
        autoscalers = self.of_kind("production", "HorizontalPodAutoscaler")
        self.assertEqual(set(autoscalers), {"polku-journey", "polku-feedback", "polku-insight"})
        for name, hpa in autoscalers.items():
            self.assertEqual(hpa["spec"]["scaleTargetRef"]["name"], name)
            self.assertIn(name, deployments)
            self.assertGreaterEqual(deployments[name]["spec"]["replicas"], 2)
            self.assertGreaterEqual(hpa["spec"]["minReplicas"], 2)


if __name__ == "__main__":
    unittest.main(argv=sys.argv)
