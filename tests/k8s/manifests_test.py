"""The Kubernetes manifests against the binaries they run and the trust model.

Renders every overlay with each kubectl named in POLKU_KUBECTLS (":"-separated;
default `kubectl`; CMake adds Debian 12's 1.20, whose old kustomize is the
hard one) and checks what would break only in a cluster:

* every kubectl renders the same documents;
* every document validates offline against the Kubernetes API of the version
  the manifests target (validate.mjs), cert-manager's resources against
  cert-manager's;
* each POLKU_* variable is a flag of its binary; probes and Services use
  declared ports; the backends are probed on their plaintext health port;
* every pod gets what it reads: Secret and ConfigMap keys (rendered, made by
  cert-manager, or in the operator's list below, which k8s/README.md must
  name), mounted volumes, files that flags point at;
* replica counts the services can run with (SQLite: one; feedback: a shared
  secret from a Secret and PostgreSQL; gateway: PostgreSQL);
* mTLS identities: each process's certificate names exactly its identity;
* the NetworkPolicies allow exactly the connections of the table CALLS, and
  only the gateway's Service may be exposed.

Each check is a function returning problems; the tests named *_is_noticed
break a rendered copy and expect the check to say so.
"""
import base64
import copy
import ipaddress
import json
import os
import re
import subprocess
import sys
import unittest
import urllib.parse

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN_DIR = os.environ.get("POLKU_BIN_DIR", os.path.join(ROOT, "build", "release", "bin"))
KUBECTLS = [k for k in os.environ.get("POLKU_KUBECTLS", "kubectl").split(":") if k]
NODE = os.environ.get("POLKU_NODE", "node")
OVERLAYS = ["dev", "production"]

# --- What the services are: from their code and DESIGN.md, not the manifests.
GATEWAY = "polku-gateway"
BACKENDS = ["polku-feedback", "polku-journey", "polku-insight", "polku-cases"]
SERVERS = [GATEWAY] + BACKENDS
# Health services a binary reports besides "" (see services/*/main.cc).
HEALTH_SERVICES = {"polku-feedback": {"polku.v1.FeedbackService"}}
# Main gRPC port and the plaintext grpc.health.v1 port (--health_listen).
PORTS = {"polku-feedback": 7101, "polku-journey": 7102, "polku-insight": 7103,
         "polku-cases": 7104}
HEALTH_PORTS = {"polku-feedback": 7111, "polku-journey": 7112, "polku-insight": 7113,
                "polku-cases": 7114}
GATEWAY_PORTS = {"grpc": 7070, "http": 8080}
# Flags whose value is a file the process reads.
FILE_FLAGS = {"secret_file", "tls_cert", "tls_key", "tls_ca", "tls_client_ca",
              "backend_tls_cert", "backend_tls_key", "backend_tls_ca"}
# The mTLS flags each process presents and verifies with (lib/rpc/tls_flags.cc,
# gateway/main.cc).
MTLS_FLAGS = {GATEWAY: ("backend_tls_cert", "backend_tls_key", "backend_tls_ca"),
              **{b: ("tls_cert", "tls_key", "tls_ca") for b in BACKENDS}}
# Overlays whose services talk mTLS; the others plaintext behind the policies.
MTLS_OVERLAYS = {"production"}
CERT_MANAGER_KEYS = {"tls.crt", "tls.key", "ca.crt"}
# Secrets the operator creates before applying (k8s/README.md says how).
OPERATOR_PROVIDED = {
    "dev": {},
    "production": {
        "polku-database": {"journey-url", "feedback-url", "insight-url", "cases-url",
                           "gateway-url"},
        "polku-feedback-secret": {"feedback-secret.key"},
    },
}
README = os.path.join(ROOT, "k8s", "README.md")
with open(os.path.join(ROOT, "services", "feedback", "customer_hasher.h")) as f:
    MASTER_SECRET_BYTES = int(re.search(r"kMasterSecretBytes = (\d+)", f.read()).group(1))

# --- The trust graph: who may open a connection to whom (k8s/README.md).
ANYONE = "*"  # any address outside the namespace (clients, the nodes' kubelets)
CALLS = [
    (ANYONE, GATEWAY, 7070), (ANYONE, GATEWAY, 8080),
    (GATEWAY, "polku-feedback", 7101), (GATEWAY, "polku-journey", 7102),
    (GATEWAY, "polku-insight", 7103), (GATEWAY, "polku-cases", 7104),
    ("polku-insight", "polku-feedback", 7101),   # WatchEvents
    ("polku-feedback", "polku-journey", 7102),   # WatchJourneys
    ("polku-insight", "polku-journey", 7102),    # GetJourney, WatchJourneys
    ("polku-cases", "polku-feedback", 7101),     # WatchEvents, ExportEvents
    ("polku-cases", "polku-journey", 7102),      # GetJourneyVersion (owner teams)
    # Kubelet probes, from the node: plaintext, grpc.health.v1 only.
    (ANYONE, "polku-feedback", 7111), (ANYONE, "polku-journey", 7112),
    (ANYONE, "polku-insight", 7113), (ANYONE, "polku-cases", 7114),
]
DATABASE_CLIENTS = SERVERS
# Where PostgreSQL is: dev's pod, production's an address outside the
# cluster (in the range of overlays/production/postgres-egress.yaml).
DATABASE = {"dev": "polku-postgres", "production": "10.0.0.1"}
KUBE_DNS = "kube-dns"


def render(kubectl, overlay):
    out = subprocess.run(
        [kubectl, "kustomize", os.path.join(ROOT, "k8s", "overlays", overlay)],
        check=True, capture_output=True, text=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def kubectl_version(kubectl):
    out = subprocess.run([kubectl, "version", "--client", "-o", "json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["clientVersion"]["gitVersion"]


_flag_cache = {}


def flags_of(binary):
    if binary not in _flag_cache:
        out = subprocess.run([os.path.join(BIN_DIR, binary), "--helpfull"],
                             capture_output=True, text=True)
        _flag_cache[binary] = set(re.findall(r"^\s+--(\w+)", out.stdout + out.stderr, re.M))
    return _flag_cache[binary]


def key(doc):
    return (doc["kind"], doc["metadata"].get("namespace", ""), doc["metadata"]["name"])


def of_kind(docs, kind):
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_spec(docs, deployment):
    return of_kind(docs, "Deployment")[deployment]["spec"]["template"]["spec"]


def workloads(docs):
    return [d for d in docs if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet")]


def polku_containers(docs):
    """(workload, pod spec, container, binary) for every Polku process."""
    for workload in workloads(docs):
        spec = workload["spec"]["template"]["spec"]
        for container in spec["containers"]:
            command = container.get("command", [""])[0]
            if command.startswith("/usr/local/bin/polku-"):
                yield workload, spec, container, os.path.basename(command)


def settings(container, docs):
    """flag → its value, or ("secret"|"configMap", name, key) for a reference."""
    config_maps = of_kind(docs, "ConfigMap")
    result = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            data = config_maps.get(source["configMapRef"]["name"], {}).get("data", {})
            for name, value in data.items():
                result[name[len("POLKU_"):].lower()] = value
    for env in container.get("env", []):
        flag = env["name"][len("POLKU_"):].lower()
        if "value" in env:
            result[flag] = env["value"]
        elif "secretKeyRef" in env.get("valueFrom", {}):
            ref = env["valueFrom"]["secretKeyRef"]
            result[flag] = ("secret", ref["name"], ref["key"])
        elif "configMapKeyRef" in env.get("valueFrom", {}):
            ref = env["valueFrom"]["configMapKeyRef"]
            result[flag] = ("configMap", ref["name"], ref["key"])
    return result


def resolve(value, docs):
    """A setting's value where the overlay renders it, else None."""
    if not isinstance(value, tuple):
        return value
    kind, name, item = value
    source = of_kind(docs, "Secret" if kind == "secret" else "ConfigMap").get(name)
    if source is None:
        return None
    if item in source.get("stringData", {}):
        return source["stringData"][item]
    if item in source.get("data", {}):
        data = source["data"][item]
        return base64.b64decode(data).decode() if kind == "secret" else data
    return None


def secret_keys(docs, overlay):
    """Secret name → the keys the overlay gives it (rendered, cert-manager, operator)."""
    keys = {name: set(s.get("data", {})) | set(s.get("stringData", {}))
            for name, s in of_kind(docs, "Secret").items()}
    for certificate in of_kind(docs, "Certificate").values():
        keys.setdefault(certificate["spec"]["secretName"], set()).update(CERT_MANAGER_KEYS)
    for name, provided in OPERATOR_PROVIDED[overlay].items():
        keys.setdefault(name, set()).update(provided)
    return keys


def volume_files(volume, docs, overlay):
    """The file names a volume shows, None if it is not a Secret or ConfigMap."""
    if "secret" in volume:
        source = volume["secret"]
        keys = secret_keys(docs, overlay).get(source["secretName"], set())
    elif "configMap" in volume:
        source = volume["configMap"]
        config_map = of_kind(docs, "ConfigMap").get(source["name"], {})
        keys = set(config_map.get("data", {})) | set(config_map.get("binaryData", {}))
    else:
        return None
    if "items" in source:
        return {item["path"] for item in source["items"] if item["key"] in keys}
    return keys


def mount_of(path, container):
    """The volumeMount a path lies under (the deepest), or None."""
    best = None
    for mount in container.get("volumeMounts", []):
        root = mount["mountPath"].rstrip("/") + "/"
        if path.startswith(root) and (best is None or len(root) > len(best["mountPath"])):
            best = mount
    return best


def is_loopback(listen):
    host = listen.rsplit(":", 1)[0].strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")


def replicas(workload, docs):
    """The most pods a workload can have: its replicas or its autoscaler's maximum."""
    count = workload["spec"].get("replicas", 1)
    for hpa in of_kind(docs, "HorizontalPodAutoscaler").values():
        target = hpa["spec"]["scaleTargetRef"]
        if target["kind"] == workload["kind"] and target["name"] == workload["metadata"]["name"]:
            count = max(count, hpa["spec"]["maxReplicas"])
    return count


# --- Checks. Each returns a list of problems, empty when all is well.

def problems_pods_get_what_they_read(docs, overlay):
    problems = []
    secrets = secret_keys(docs, overlay)
    config_maps = of_kind(docs, "ConfigMap")
    for workload in workloads(docs):
        spec = workload["spec"]["template"]["spec"]
        where = f"{overlay}: {workload['metadata']['name']}"
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for claim in workload["spec"].get("volumeClaimTemplates", []):
            volumes[claim["metadata"]["name"]] = {"persistentVolumeClaim": {}}
        mounted = set()
        for container in spec.get("initContainers", []) + spec["containers"]:
            for env in container.get("env", []):
                ref = env.get("valueFrom", {})
                if "secretKeyRef" in ref:
                    name, item = ref["secretKeyRef"]["name"], ref["secretKeyRef"]["key"]
                    if item not in secrets.get(name, set()):
                        problems.append(f"{where}: {env['name']} reads Secret {name} key {item}, "
                                        "which nothing provides")
                if "configMapKeyRef" in ref:
                    name, item = ref["configMapKeyRef"]["name"], ref["configMapKeyRef"]["key"]
                    if item not in config_maps.get(name, {}).get("data", {}):
                        problems.append(f"{where}: {env['name']} reads ConfigMap {name} "
                                        f"key {item}, which is not rendered")
            for source in container.get("envFrom", []):
                if "configMapRef" in source and source["configMapRef"]["name"] not in config_maps:
                    problems.append(f"{where}: no ConfigMap {source['configMapRef']['name']}")
                if "secretRef" in source and source["secretRef"]["name"] not in secrets:
                    problems.append(f"{where}: no Secret {source['secretRef']['name']}")
            for mount in container.get("volumeMounts", []):
                mounted.add(mount["name"])
                if mount["name"] not in volumes:
                    problems.append(f"{where}: {mount['mountPath']} mounts no volume "
                                    f"({mount['name']} is not one)")
        for name, volume in volumes.items():
            if name not in mounted:
                problems.append(f"{where}: volume {name} is mounted nowhere")
            files = volume_files(volume, docs, overlay)
            if files is not None and not files:
                problems.append(f"{where}: volume {name} shows no file (its source is missing)")
            mode = volume.get("secret", {}).get("defaultMode", 0o644)
            if "secret" in volume and not (mode & 0o004 or (
                    mode & 0o040 and "fsGroup" in spec.get("securityContext", {}))):
                problems.append(f"{where}: volume {name} is unreadable for the non-root user "
                                f"(mode {oct(mode)} without fsGroup)")
    created_databases = set(re.findall(r"CREATE DATABASE (\w+)", "\n".join(
        text for config_map in config_maps.values()
        for name, text in config_map.get("data", {}).items() if name.endswith(".sql"))))
    for workload, spec, container, binary in polku_containers(docs):
        where = f"{overlay}: {binary}"
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        values = settings(container, docs)
        for flag in sorted(FILE_FLAGS & set(values)):
            path = values[flag]
            mount = mount_of(path, container)
            if mount is None:
                problems.append(f"{where}: --{flag}={path} lies under no mounted volume")
                continue
            files = volume_files(volumes.get(mount["name"], {}), docs, overlay) or set()
            relative = path[len(mount["mountPath"].rstrip("/")) + 1:]
            if relative not in files:
                problems.append(f"{where}: --{flag}={path}: volume {mount['name']} has no "
                                f"file {relative} (it has {sorted(files)})")
        data_dir = values.get("data_dir", "")
        mount = mount_of(data_dir + "/", container)
        source = volumes.get(mount["name"], {}) if mount else {}
        writable = {"emptyDir", "persistentVolumeClaim"} & set(source)
        if not mount or mount.get("readOnly") or not writable:
            problems.append(f"{where}: the data dir {data_dir} is not a writable volume")
        # An in-cluster PostgreSQL must serve the database a URL names.
        url = resolve(values.get("database_url"), docs)
        if url:
            parsed = urllib.parse.urlparse(url)
            service = of_kind(docs, "Service").get(parsed.hostname)
            if service and (parsed.path.lstrip("/") not in created_databases or parsed.port
                            not in [p["port"] for p in service["spec"]["ports"]]):
                problems.append(f"{where}: {parsed.hostname}:{parsed.port} has no database "
                                f"{parsed.path.lstrip('/')} (created: {sorted(created_databases)})")
        # A rendered customer secret must be what polku-feedback reads.
        secret_file = values.get("secret_file")
        if isinstance(secret_file, str) and mount_of(secret_file, container):
            volume = volumes.get(mount_of(secret_file, container)["name"], {})
            secret = of_kind(docs, "Secret").get(volume.get("secret", {}).get("secretName"))
            item = os.path.basename(secret_file)
            if secret and item in secret.get("data", {}):
                size = len(base64.b64decode(secret["data"][item]))
                if size != MASTER_SECRET_BYTES:
                    problems.append(f"{where}: the customer secret has {size} bytes, "
                                    f"polku-feedback needs exactly {MASTER_SECRET_BYTES}")
            elif secret and item in secret.get("stringData", {}):
                problems.append(f"{where}: the customer secret must be binary (data:), "
                                "not text (stringData:)")
    return problems


def store_of(container, docs):
    """("postgres"|"sqlite"|"unknown", the database URL's source)."""
    value = settings(container, docs).get("database_url")
    if not value:
        return "sqlite", None
    url = resolve(value, docs)
    if url is None:  # the operator's Secret: it must hold a postgres:// URL
        return "postgres", value
    return ("postgres" if re.match(r"postgres(ql)?://", url) else "unknown"), value


def problems_replicas(docs, overlay):
    problems = []
    for workload, spec, container, binary in polku_containers(docs):
        where = f"{overlay}: {binary}"
        count = replicas(workload, docs)
        store, _ = store_of(container, docs)
        if workload["kind"] != "Deployment" or workload["spec"].get("volumeClaimTemplates"):
            problems.append(f"{where}: a {workload['kind']}; its state is in PostgreSQL, "
                            "so it should be a Deployment without volumes of its own")
        if store == "sqlite" and count != 1:
            problems.append(f"{where}: on SQLite but up to {count} replicas (must be 1)")
        if store == "unknown":
            problems.append(f"{where}: --database_url is neither postgres:// nor empty")
        if count > 1 and binary == "polku-feedback":
            secret_file = settings(container, docs).get("secret_file")
            mount = mount_of(secret_file, container) if isinstance(secret_file, str) else None
            volumes = {v["name"]: v for v in spec.get("volumes", [])}
            if mount is None or "secret" not in volumes.get(mount["name"], {}):
                problems.append(f"{where}: {count} replicas, but the customer secret "
                                "(--secret_file) is not from a Secret: each would make its own")
            if store != "postgres":
                problems.append(f"{where}: {count} replicas need one PostgreSQL database")
        if binary == "polku-feedback":
            # Erasure receipts in every environment: both readers that hold
            # customer data (their progress is shared through the database).
            readers = settings(container, docs).get("erasure_readers")
            readers = resolve(readers, docs)
            if set((readers or "").split(",")) != {"polku-insight", "polku-cases"}:
                problems.append(f"{where}: --erasure_readers is {readers!r}, "
                                "not polku-insight,polku-cases")
        if count > 1 and binary == GATEWAY and store != "postgres":
            problems.append(f"{where}: {count} replicas need the key store on PostgreSQL")
    # Each service owns its database: no two read the same URL.
    urls = {}
    for workload, spec, container, binary in polku_containers(docs):
        value = settings(container, docs).get("database_url")
        if value:
            url = resolve(value, docs) or value
            if url in urls and urls[url] != binary:
                problems.append(f"{overlay}: {binary} and {urls[url]} share a database")
            urls[url] = binary
    return problems


def problems_transport(docs, overlay):
    """Every backend beyond loopback has mTLS or says plaintext; health port probed."""
    problems = []
    for workload, spec, container, binary in polku_containers(docs):
        where = f"{overlay}: {binary}"
        values = settings(container, docs)
        mtls = [values.get(flag) for flag in MTLS_FLAGS[binary]]
        if binary in BACKENDS:
            listen = values.get("listen", "")
            plaintext = str(values.get("plaintext_beyond_loopback", "")).lower() == "true"
            if not is_loopback(listen) and not all(mtls) and not plaintext:
                problems.append(f"{where}: listens on {listen} without mTLS and without "
                                "--plaintext_beyond_loopback (it would refuse to start)")
            if overlay in MTLS_OVERLAYS and (not all(mtls) or plaintext):
                problems.append(f"{where}: must run mTLS in {overlay}")
            health = values.get("health_listen", "")
            if not health.endswith(f":{HEALTH_PORTS[binary]}") or is_loopback(health):
                problems.append(f"{where}: --health_listen={health}, expected "
                                f"0.0.0.0:{HEALTH_PORTS[binary]}")
            if not listen.endswith(f":{PORTS[binary]}"):
                problems.append(f"{where}: --listen={listen}, expected port {PORTS[binary]}")
            ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
            if ports.get("health") != HEALTH_PORTS[binary]:
                problems.append(f"{where}: no container port 'health' {HEALTH_PORTS[binary]}")
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                port = container.get(probe, {}).get("grpc", {}).get("port")
                if port != HEALTH_PORTS[binary]:
                    problems.append(f"{where}: {probe} must be gRPC on the health port "
                                    f"{HEALTH_PORTS[binary]}, not {port}")
        elif overlay in MTLS_OVERLAYS and not all(mtls):
            problems.append(f"{where}: calls the backends without its client certificate")
    return problems


def problems_identities(docs, overlay):
    """Each mTLS process holds the certificate of exactly its own identity."""
    problems = []
    certificates = of_kind(docs, "Certificate")
    issuers = of_kind(docs, "Issuer")
    by_secret = {c["spec"]["secretName"]: c for c in certificates.values()}
    namespace = {d["metadata"].get("namespace") for d in docs} - {None}
    callers = {src for src, _, _ in CALLS if src != ANYONE}
    callees = {dst for src, dst, _ in CALLS if src in callers}
    used_issuers = set()
    for workload, spec, container, binary in polku_containers(docs):
        values = settings(container, docs)
        cert_path = values.get(MTLS_FLAGS[binary][0])
        if not cert_path:
            continue
        where = f"{overlay}: {binary}"
        mount = mount_of(cert_path, container)
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        secret = volumes.get(mount["name"] if mount else "", {}).get("secret", {}).get("secretName")
        certificate = by_secret.get(secret)
        if certificate is None:
            problems.append(f"{where}: its certificate (Secret {secret}) is made by no Certificate")
            continue
        cert = certificate["spec"]
        for flag in MTLS_FLAGS[binary]:
            if mount_of(values.get(flag, ""), container) is not mount:
                problems.append(f"{where}: --{flag} is not from the same Secret as the certificate")
        if cert.get("commonName") != binary:
            problems.append(f"{where}: certificate common name {cert.get('commonName')}, "
                            f"its identity is {binary}")
        names = set(cert.get("dnsNames", []))
        expected = {binary} | {f"{binary}.{ns}{suffix}" for ns in namespace
                               for suffix in ("", ".svc", ".svc.cluster.local")}
        if names != expected:
            problems.append(f"{where}: DNS names {sorted(names)}, expected {sorted(expected)}")
        usages = set(cert.get("usages", []))
        if binary in callers and "client auth" not in usages:
            problems.append(f"{where}: calls other services but its certificate lacks client auth")
        if binary in callees and "server auth" not in usages:
            problems.append(f"{where}: is called but its certificate lacks server auth")
        used_issuers.add(cert["issuerRef"]["name"])
    # One CA signs them all: a CA Issuer whose Secret a self-signed CA
    # Certificate fills.
    if len(used_issuers) > 1:
        problems.append(f"{overlay}: the services' certificates come from several issuers "
                        f"{sorted(used_issuers)}; they verify each other with one ca.crt")
    for name in used_issuers:
        issuer = issuers.get(name, {}).get("spec", {})
        ca = by_secret.get(issuer.get("ca", {}).get("secretName"))
        if ca is None or not ca["spec"].get("isCA"):
            problems.append(f"{overlay}: Issuer {name} is not a CA issuer "
                            "backed by a CA Certificate")
        elif "selfSigned" not in issuers.get(ca["spec"]["issuerRef"]["name"], {}).get("spec", {}):
            problems.append(f"{overlay}: the CA certificate is not issued by a self-signed Issuer")
    return problems


def problems_exposure(docs, overlay):
    problems = []
    for name, service in of_kind(docs, "Service").items():
        spec = service["spec"]
        exposed = (spec.get("type", "ClusterIP") != "ClusterIP" or spec.get("externalIPs")
                   or spec.get("loadBalancerIP"))
        if exposed and name != GATEWAY:
            problems.append(f"{overlay}: Service {name} is exposed beyond the cluster")
        if name in BACKENDS and spec.get("clusterIP") != "None":
            problems.append(f"{overlay}: Service {name} should be headless (clusterIP: None)")
    for workload in workloads(docs):
        spec = workload["spec"]["template"]["spec"]
        if spec.get("hostNetwork"):
            problems.append(f"{overlay}: {workload['metadata']['name']} uses the host's network")
        for container in spec["containers"]:
            for port in container.get("ports", []):
                if "hostPort" in port:
                    problems.append(f"{overlay}: {workload['metadata']['name']} port "
                                    f"{port['containerPort']} is a host port")
    def services_named(node):
        if isinstance(node, dict):
            if isinstance(node.get("service"), dict):
                yield node["service"].get("name")
            for value in node.values():
                yield from services_named(value)
        elif isinstance(node, list):
            for value in node:
                yield from services_named(value)
    for ingress in of_kind(docs, "Ingress").values():
        for backend in services_named(ingress.get("spec", {})):
            if backend in BACKENDS:
                problems.append(f"{overlay}: Ingress {ingress['metadata']['name']} "
                                f"routes to {backend}")
    return problems


# --- NetworkPolicy semantics, for the policies' subset these manifests use.

class Peer:
    def __init__(self, name, namespace=None, labels=None, ip=None):
        self.name, self.namespace, self.labels, self.ip = name, namespace, labels or {}, ip

    def namespace_labels(self):
        return {"kubernetes.io/metadata.name": self.namespace}


def selects(selector, labels):
    if selector is None:
        return False
    for k, v in selector.get("matchLabels", {}).items():
        if labels.get(k) != v:
            return False
    for expression in selector.get("matchExpressions", []):
        value, operator = labels.get(expression["key"]), expression["operator"]
        values = expression.get("values", [])
        if operator == "In" and value not in values or \
                operator == "NotIn" and value in values or \
                operator == "Exists" and value is None or \
                operator == "DoesNotExist" and value is not None:
            return False
    return True


def peer_matches(rule_peer, peer, namespace):
    if "ipBlock" in rule_peer:
        if peer.ip is None:
            return False
        address = ipaddress.ip_address(peer.ip)
        block = rule_peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(e) for e in block.get("except", []))
    if peer.namespace is None:
        return False
    if "namespaceSelector" in rule_peer:
        if not selects(rule_peer["namespaceSelector"], peer.namespace_labels()):
            return False
    elif peer.namespace != namespace:
        return False
    return selects(rule_peer.get("podSelector", {}), peer.labels)


def port_matches(rule_ports, port, protocol):
    if not rule_ports:
        return True
    for entry in rule_ports:
        if not isinstance(entry.get("port", 0), int):
            raise ValueError(f"named port {entry['port']}: the test resolves numbers only")
        if entry.get("protocol", "TCP") != protocol:
            continue
        if "port" not in entry or entry["port"] <= port <= entry.get("endPort", entry["port"]):
            return True
    return False


def policy_types(policy):
    spec = policy["spec"]
    return set(spec.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in spec else [])))


def allowed(policies, namespace, src, dst, port, protocol):
    """Whether src may open port/protocol on dst, as far as this namespace's
    policies decide (peers elsewhere are taken to allow everything)."""
    def side(pod, other, direction, peers_field):
        if pod.namespace != namespace:
            return True
        applying = [p for p in policies if direction in policy_types(p)
                    and selects(p["spec"]["podSelector"], pod.labels)]
        if not applying:
            return True
        for policy in applying:
            for rule in policy["spec"].get(direction.lower(), []) or []:
                peers = rule.get(peers_field)
                if (not peers or any(peer_matches(r, other, namespace) for r in peers)) and \
                        port_matches(rule.get("ports"), port, protocol):
                    return True
        return False
    return side(src, dst, "Egress", "to") and side(dst, src, "Ingress", "from")


def universe(docs, overlay):
    namespace = {d["metadata"].get("namespace") for d in docs} - {None}
    assert len(namespace) == 1, namespace
    namespace = namespace.pop()
    peers = [Peer(w["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"],
                  namespace, w["spec"]["template"]["metadata"]["labels"])
             for w in workloads(docs)]
    peers += [
        Peer(KUBE_DNS, "kube-system", {"k8s-app": "kube-dns"}),
        # Pods that must not get in: one of this namespace that is not
        # Polku's, one elsewhere that calls itself the gateway.
        Peer("intruder", namespace, {"app.kubernetes.io/name": "intruder"}),
        Peer("impostor", "elsewhere", {"app.kubernetes.io/name": GATEWAY,
                                       "app.kubernetes.io/part-of": "polku"}),
        Peer("internet", ip="203.0.113.7"),
    ]
    if not DATABASE[overlay].startswith("polku-"):
        peers.append(Peer(DATABASE[overlay], ip=DATABASE[overlay]))
    return namespace, peers


def expected_connections(peers, namespace, overlay):
    # ANYONE is whoever is outside the namespace; the default deny holds
    # every pod inside it to what the table names.
    outside = [p.name for p in peers if p.namespace != namespace]
    expected = set()
    for src, dst, port in CALLS:
        for s in (outside if src == ANYONE else [src]):
            if s != dst:
                expected.add((s, dst, port, "TCP"))
    # Every pod of the namespace resolves names, the intruder's too.
    for pod in (p for p in peers if p.namespace == namespace):
        expected |= {(pod.name, KUBE_DNS, 53, "UDP"), (pod.name, KUBE_DNS, 53, "TCP")}
    for client in DATABASE_CLIENTS:
        expected.add((client, DATABASE[overlay], 5432, "TCP"))
    return expected


def problems_network_policies(docs, overlay):
    policies = list(of_kind(docs, "NetworkPolicy").values())
    namespace, peers = universe(docs, overlay)
    if not any(p["spec"]["podSelector"] == {} and policy_types(p) == {"Ingress", "Egress"}
               and not p["spec"].get("ingress") and not p["spec"].get("egress")
               for p in policies):
        return [f"{overlay}: no default-deny NetworkPolicy (ingress and egress)"]
    ports = {p["containerPort"] for w in workloads(docs)
             for c in w["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
    probes = {(port, "TCP") for port in ports | {53, 5432, 22, 443}} | {(53, "UDP")}
    actual = {(s.name, d.name, port, protocol)
              for s in peers for d in peers if s is not d
              and namespace in (s.namespace, d.namespace)
              for port, protocol in probes
              if allowed(policies, namespace, s, d, port, protocol)}
    expected = expected_connections(peers, namespace, overlay)
    return ([f"{overlay}: allowed but not in CALLS: {c}" for c in sorted(actual - expected)] +
            [f"{overlay}: in CALLS but not allowed: {c}" for c in sorted(expected - actual)])


def validate(entries):
    """validate.mjs over [{"name", "doc"}]: (target, problems)."""
    if not os.path.isdir(os.path.join(HERE, "node_modules", "kubernetes-models")):
        raise AssertionError("tests/k8s/node_modules is missing: build the CMake target "
                             "polku_k8s_node_modules (npm ci)")
    run = subprocess.run([NODE, os.path.join(HERE, "validate.mjs")], input=json.dumps(entries),
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise AssertionError(f"validate.mjs failed: {run.stderr}")
    result = json.loads(run.stdout)
    return result["target"], result["problems"]


def rendering_differences(renderings):
    """renderings: kubectl → docs. Differences between the first and each other."""
    (first, reference), *others = renderings.items()
    problems = []
    expected = {key(d): d for d in reference}
    for kubectl, docs in others:
        got = {key(d): d for d in docs}
        for k in sorted(set(expected) | set(got)):
            if expected.get(k) != got.get(k):
                problems.append(f"{k[0]}/{k[2]} differs between {first} and {kubectl}")
    return problems


class ManifestTest(unittest.TestCase):
    renderings = {}  # overlay → kubectl → docs

    @classmethod
    def setUpClass(cls):
        for kubectl in KUBECTLS:
            print(f"rendering with {kubectl} ({kubectl_version(kubectl)})", file=sys.stderr)
            for overlay in OVERLAYS:
                cls.renderings.setdefault(overlay, {})[kubectl] = render(kubectl, overlay)
        cls.docs = {overlay: cls.renderings[overlay][KUBECTLS[0]] for overlay in OVERLAYS}

    def test_every_kubectl_renders_the_same(self):
        for overlay in OVERLAYS:
            self.assertEqual(rendering_differences(self.renderings[overlay]), [], overlay)

    def test_a_different_rendering_is_noticed(self):
        docs = copy.deepcopy(self.docs["dev"])
        docs[0]["metadata"]["labels"] = {"changed": "yes"}
        self.assertTrue(rendering_differences({"a": self.docs["dev"], "b": docs}))
        self.assertTrue(rendering_differences({"a": self.docs["dev"], "b": docs[1:]}))

    def test_every_document_validates_against_the_target_api(self):
        entries = [{"name": f"{overlay}: {d['kind']}/{d['metadata']['name']}", "doc": d}
                   for overlay in OVERLAYS for d in self.docs[overlay]]
        target, problems = validate(entries)
        print(f"validated {len(entries)} documents against {target}", file=sys.stderr)
        self.assertEqual(problems, [])
        with open(README) as f:
            self.assertTrue(f"target {target}" in f.read(),
                            f"k8s/README.md must say: target {target}")

    def test_a_document_the_target_would_refuse_is_noticed(self):
        docs = {d["kind"]: d for d in self.docs["production"]}
        broken = []

        def add(name, kind, change):
            doc = copy.deepcopy(docs[kind])
            change(doc)
            broken.append({"name": name, "doc": doc})
        add("typo", "Deployment", lambda d: d["spec"]["template"]["spec"]["containers"][0]
            .update(readinesProbe={"grpc": {"port": 7111}}))
        add("type", "Service", lambda d: d["spec"]["ports"][0].update(port="7101"))
        add("required", "Deployment", lambda d: d["spec"].pop("selector"))
        add("removed", "PodDisruptionBudget", lambda d: d.update(apiVersion="policy/v1beta1"))
        add("enum", "Certificate", lambda d: d["spec"].update(usages=["server-auth"]))
        add("cert-typo", "Certificate", lambda d: d["spec"].update(dnsName=["x"]))
        add("issuer", "Issuer", lambda d: d["spec"].update(selfsigned={}))
        _, problems = validate(broken)
        for entry in broken:
            self.assertTrue([p for p in problems if p.startswith(entry["name"] + ":")],
                            f"{entry['name']} not noticed: {problems}")

    def test_every_variable_is_a_flag_of_its_binary(self):
        missing = set()
        for overlay in OVERLAYS:
            config_maps = of_kind(self.docs[overlay], "ConfigMap")
            for workload, spec, container, binary in polku_containers(self.docs[overlay]):
                known = flags_of(binary)
                self.assertIn("listen" if binary != GATEWAY else "grpc_listen", known, binary)
                for env in container.get("env", []):
                    self.assertTrue(env["name"].startswith("POLKU_"), env["name"])
                    flag = env["name"][len("POLKU_"):].lower()
                    if flag not in known:
                        missing.add(f"{binary} has no --{flag} ({overlay})")
                # One ConfigMap for every process: each key must be a flag
                # of some Polku binary (the others ignore it).
                for source in container.get("envFrom", []):
                    for key_ in config_maps[source["configMapRef"]["name"]]["data"]:
                        flag = key_[len("POLKU_"):].lower()
                        if not [b for b in SERVERS if flag in flags_of(b)]:
                            missing.add(f"{key_} is nobody's flag ({overlay})")
        self.assertEqual(sorted(missing), [])

    def test_addresses_name_services_and_their_ports(self):
        for overlay in OVERLAYS:
            services = of_kind(self.docs[overlay], "Service")
            for workload, spec, container, binary in polku_containers(self.docs[overlay]):
                for flag, value in settings(container, self.docs[overlay]).items():
                    if flag.endswith("_address"):
                        host, port = re.fullmatch(r"dns:///([\w-]+):(\d+)", value).groups()
                        self.assertIn(host, services, f"{overlay}: --{flag}={value}")
                        self.assertIn(int(port),
                                      [p["port"] for p in services[host]["spec"]["ports"]])
                        self.assertEqual(int(port), PORTS[host])

    def test_probes_and_services_use_declared_ports(self):
        for overlay in OVERLAYS:
            services = of_kind(self.docs[overlay], "Service")
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
            for name, port in GATEWAY_PORTS.items():
                self.assertIn(port, [p["port"] for p in services[GATEWAY]["spec"]["ports"]])

    def test_backends_listen_with_mtls_or_say_plaintext_and_probe_the_health_port(self):
        for overlay in OVERLAYS:
            self.assertEqual(problems_transport(self.docs[overlay], overlay), [])

    def test_a_probe_on_the_mtls_port_or_a_silent_plaintext_backend_is_noticed(self):
        docs = copy.deepcopy(self.docs["production"])
        pod_spec(docs, "polku-feedback")["containers"][0]["livenessProbe"]["grpc"]["port"] = 7101
        self.assertTrue(problems_transport(docs, "production"))
        docs = copy.deepcopy(self.docs["dev"])
        container = pod_spec(docs, "polku-journey")["containers"][0]
        container["env"] = [e for e in container["env"] if "PLAINTEXT" not in e["name"]]
        self.assertTrue(problems_transport(docs, "dev"))

    def test_every_pod_gets_what_it_reads(self):
        for overlay in OVERLAYS:
            self.assertEqual(problems_pods_get_what_they_read(self.docs[overlay], overlay), [])

    def test_operator_provided_secrets_are_documented(self):
        with open(README) as f:
            readme = f.read()
        for overlay, secrets in OPERATOR_PROVIDED.items():
            for name, keys in secrets.items():
                self.assertTrue(name in readme, f"k8s/README.md does not name {name}")
                for item in keys:
                    self.assertTrue(item in readme,
                                    f"k8s/README.md does not say {name} needs {item}")

    def test_a_pod_missing_what_it_reads_is_noticed(self):
        def broken(overlay, change):
            docs = copy.deepcopy(self.docs[overlay])
            change(docs)
            return problems_pods_get_what_they_read(docs, overlay)

        def feedback(docs):
            return pod_spec(docs, "polku-feedback")

        def drop_secret_mount(docs):
            c = feedback(docs)["containers"][0]
            c["volumeMounts"] = [m for m in c["volumeMounts"] if "secret" not in m["name"]]
        self.assertTrue(broken("production", drop_secret_mount))
        self.assertTrue(broken("dev", lambda d: of_kind(d, "Secret")["polku-database"]
                               ["stringData"].pop("gateway-url")))
        self.assertTrue(broken("dev", lambda d: of_kind(d, "Secret")["polku-feedback-secret"]
                               ["data"].update({"feedback-secret.key": "c2hvcnQ="})))
        self.assertTrue(broken("production", lambda d: feedback(d)["volumes"].pop()))
        self.assertTrue(broken("production", lambda d: feedback(d)["containers"][0]["env"].append(
            {"name": "POLKU_TLS_CA", "value": "/etc/polku/tls/ca.pem"})))
        self.assertTrue(broken("production",
                               lambda d: feedback(d)["securityContext"].pop("fsGroup")))
        self.assertTrue(broken("production",
                               lambda d: d.remove(of_kind(d, "Certificate")["polku-journey"])))

        def forget_a_database(docs):
            init = of_kind(docs, "ConfigMap")["polku-postgres-init"]["data"]
            init["init.sql"] = init["init.sql"].replace("CREATE DATABASE polku_gateway", "")
        self.assertTrue(broken("dev", forget_a_database))

    def test_replica_counts_are_ones_the_services_run_with(self):
        for overlay in OVERLAYS:
            self.assertEqual(problems_replicas(self.docs[overlay], overlay), [])
        deployments = of_kind(self.docs["production"], "Deployment")
        autoscalers = of_kind(self.docs["production"], "HorizontalPodAutoscaler")
        budgets = of_kind(self.docs["production"], "PodDisruptionBudget")
        # Every process, polku-cases too (its WatchCases follows the change
        # sequence in the shared database, docs/cases.md): no single pod.
        self.assertEqual(set(autoscalers), set(SERVERS))
        cases = deployments["polku-cases"]
        self.assertEqual(store_of(cases["spec"]["template"]["spec"]["containers"][0],
                                  self.docs["production"])[0], "postgres")
        # dev's polku-cases stays one pod (as every dev process).
        self.assertEqual(replicas(of_kind(self.docs["dev"], "Deployment")["polku-cases"],
                                  self.docs["dev"]), 1)
        for name, hpa in autoscalers.items():
            self.assertEqual(hpa["spec"]["scaleTargetRef"]["name"], name)
            self.assertGreaterEqual(deployments[name]["spec"]["replicas"], 2, name)
            self.assertGreaterEqual(hpa["spec"]["minReplicas"], 2, name)
            self.assertIn(name, budgets)
            self.assertTrue(deployments[name]["spec"]["template"]["spec"]
                            .get("topologySpreadConstraints"), f"{name} is not spread")

    def test_replicas_a_service_cannot_run_with_are_noticed(self):
        def broken(overlay, name, change):
            docs = copy.deepcopy(self.docs[overlay])
            change(of_kind(docs, "Deployment")[name], docs)
            return problems_replicas(docs, overlay)

        def sqlite(workload, docs):
            c = workload["spec"]["template"]["spec"]["containers"][0]
            c["env"] = [e for e in c["env"] if e["name"] != "POLKU_DATABASE_URL"]
        self.assertTrue(broken("production", "polku-journey", sqlite))
        self.assertTrue(broken("production", GATEWAY, sqlite))

        def dev_sqlite_two(workload, docs):
            sqlite(workload, docs)
            workload["spec"]["replicas"] = 2
        self.assertTrue(broken("dev", "polku-insight", dev_sqlite_two))
        # polku-cases on SQLite: one replica only (its database is a file).
        self.assertTrue(broken("production", "polku-cases", sqlite))
        self.assertEqual(broken("dev", "polku-cases", sqlite), [])
        self.assertEqual(broken("dev", "polku-insight", sqlite), [])  # one replica is fine

        def own_secret(workload, docs):
            c = workload["spec"]["template"]["spec"]["containers"][0]
            c["env"] = [e for e in c["env"] if e["name"] != "POLKU_SECRET_FILE"]
        self.assertTrue(broken("production", "polku-feedback", own_secret))

        def no_receipts(workload, docs):
            c = workload["spec"]["template"]["spec"]["containers"][0]
            c["env"] = [e for e in c["env"] if e["name"] != "POLKU_ERASURE_READERS"]
        self.assertTrue(broken("production", "polku-feedback", no_receipts))
        self.assertTrue(broken("dev", "polku-feedback", no_receipts))
        self.assertTrue(broken("dev", "polku-feedback", lambda w, d: w.update(kind="StatefulSet")))

    def test_each_process_holds_the_certificate_of_its_identity(self):
        for overlay in OVERLAYS:
            self.assertEqual(problems_identities(self.docs[overlay], overlay), [])
        # Production runs mTLS: every process has a certificate.
        names = {c["spec"]["commonName"] for c in of_kind(self.docs["production"], "Certificate")
                 .values() if not c["spec"].get("isCA")}
        self.assertEqual(names, set(SERVERS))

    def test_a_certificate_of_the_wrong_identity_is_noticed(self):
        for change in (lambda c: c["spec"].update(commonName="polku-gateway"),
                       lambda c: c["spec"]["dnsNames"].append("polku-gateway"),
                       lambda c: c["spec"].update(usages=["server auth"]),
                       lambda c: c["spec"]["issuerRef"].update(name="polku-selfsigned")):
            docs = copy.deepcopy(self.docs["production"])
            change(of_kind(docs, "Certificate")["polku-insight"])
            self.assertTrue(problems_identities(docs, "production"))

    def test_only_the_gateway_is_exposed(self):
        for overlay in OVERLAYS:
            self.assertEqual(problems_exposure(self.docs[overlay], overlay), [])
        docs = copy.deepcopy(self.docs["production"])
        of_kind(docs, "Service")["polku-journey"]["spec"]["type"] = "NodePort"
        self.assertTrue(problems_exposure(docs, "production"))
        docs = copy.deepcopy(self.docs["dev"])
        pod_spec(docs, "polku-insight")["containers"][0]["ports"][0]["hostPort"] = 7103
        self.assertTrue(problems_exposure(docs, "dev"))

    def test_network_policies_allow_exactly_the_calls_table(self):
        for overlay in OVERLAYS:
            self.assertEqual(problems_network_policies(self.docs[overlay], overlay), [])

    def test_a_policy_that_allows_more_or_less_is_noticed(self):
        def broken(overlay, name, change):
            docs = copy.deepcopy(self.docs[overlay])
            change(of_kind(docs, "NetworkPolicy")[name]["spec"])
            return problems_network_policies(docs, overlay)
        # feedback's main port open to anyone; insight no longer reaching it;
        # the gateway's egress to every port of journey.
        self.assertTrue(broken("production", "polku-feedback",
                               lambda s: s["ingress"][0].pop("from")))
        self.assertTrue(broken("production", "polku-insight", lambda s: s["egress"].pop(0)))
        # cases no longer reaching journey (owner teams); feedback's feed
        # closed to cases.
        self.assertTrue(broken("production", "polku-cases", lambda s: s["egress"].pop(1)))
        self.assertTrue(broken("dev", "polku-feedback", lambda s: s["ingress"][0]["from"].pop(2)))
        self.assertTrue(broken("dev", "polku-gateway", lambda s: s["egress"][1].pop("ports")))
        self.assertTrue(broken("dev", "polku-journey", lambda s: s["ingress"][0]["from"].append(
            {"namespaceSelector": {}, "podSelector": {"matchLabels": {
                "app.kubernetes.io/name": GATEWAY}}})))
        self.assertTrue(broken("dev", "polku-default-deny",
                               lambda s: s.update(policyTypes=["Ingress"])))
        self.assertTrue(broken("production", "polku-postgres-clients", lambda s: s["egress"][0]
                               ["to"][0]["ipBlock"].update(cidr="0.0.0.0/0")))


if __name__ == "__main__":
    unittest.main(argv=sys.argv)
