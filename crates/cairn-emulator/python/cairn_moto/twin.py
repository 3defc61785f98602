"""The "local twin": real redis-server processes backing emulated replication groups.

Layout under the emulator state dir::

    <state-dir>/tls/{ca.crt,ca.key,server.crt,server.key}   (generated once per state dir)
    <state-dir>/twins/<ReplicationGroupId>/<CacheClusterId>/{redis.conf,redis.log,nodes.conf}

Every redis-server is a direct child of the emulator process (same process
group), bound to 127.0.0.1 on free ports, so killing the emulator's process
group also kills every twin.
"""

from __future__ import annotations

import datetime
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .resp import RedisError, RespClient

# Nominal memory of a twin node: ``reserved-memory-percent`` is translated into
# ``maxmemory = NOMINAL_NODE_MEMORY * (100 - pct) / 100``.
NOMINAL_NODE_MEMORY = 64 * 1024 * 1024

# Parameter-group parameters that are native redis configuration directives and
# are applied verbatim (config file at start, CONFIG SET on a live twin).
NATIVE_PARAMS = {
    "maxmemory-policy",
    "maxmemory-samples",
    "timeout",
    "tcp-keepalive",
    "notify-keyspace-events",
    "lazyfree-lazy-eviction",
    "lazyfree-lazy-expire",
    "lazyfree-lazy-server-del",
    "lazyfree-lazy-user-del",
    "lazyfree-lazy-user-flush",
    "lfu-log-factor",
    "lfu-decay-time",
    "slowlog-log-slower-than",
    "slowlog-max-len",
    "hash-max-listpack-entries",
    "hash-max-listpack-value",
    "list-max-listpack-size",
    "set-max-intset-entries",
    "zset-max-listpack-entries",
    "zset-max-listpack-value",
    "stream-node-max-bytes",
    "stream-node-max-entries",
    "active-expire-effort",
    "acllog-max-len",
    "repl-backlog-size",
    "repl-backlog-ttl",
    "min-replicas-to-write",
    "min-replicas-max-lag",
    "cluster-allow-reads-when-down",
    "latency-tracking",
}


class TwinError(Exception):
    pass


def log(msg: str) -> None:
    print(f"[cairn-twin] {msg}", file=sys.stderr, flush=True)


# The only variables a redis-server twin inherits: nothing of the emulator's
# (fake) AWS credentials, Python settings or anything else.
_REDIS_ENV = ("PATH", "HOME", "LANG", "LC_ALL")


def _clean_env() -> dict[str, str]:
    return {k: os.environ[k] for k in _REDIS_ENV if k in os.environ}


def redis_server_bin() -> str:
    return os.environ.get("CAIRN_REDIS_SERVER") or shutil.which("redis-server") or ""


def maxmemory_for(reserved_memory_percent: str | int | None) -> int:
    try:
        pct = int(reserved_memory_percent if reserved_memory_percent is not None else 25)
    except ValueError:
        pct = 25
    pct = min(max(pct, 0), 100)
    return max(NOMINAL_NODE_MEMORY * (100 - pct) // 100, 1024 * 1024)


def redis_config_for(params: dict[str, str]) -> dict[str, str]:
    """Translate effective parameter-group values into redis config directives."""
    out = {k: v for k, v in params.items() if k in NATIVE_PARAMS}
    out["maxmemory"] = str(maxmemory_for(params.get("reserved-memory-percent")))
    return out


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def ensure_tls(state_dir: Path) -> dict[str, str]:
    """Create (once per state dir) a CA and a server cert for 127.0.0.1/localhost."""
    tls_dir = state_dir / "tls"
    paths = {
        "ca": tls_dir / "ca.crt",
        "ca_key": tls_dir / "ca.key",
        "cert": tls_dir / "server.crt",
        "key": tls_dir / "server.key",
    }
    if all(p.exists() for p in paths.values()):
        return {k: str(v) for k, v in paths.items()}
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    tls_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cairn emulator local CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    def write(path: Path, data: bytes, private: bool) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        if private:
            os.chmod(tmp, 0o600)
        os.replace(tmp, path)

    pem = serialization.Encoding.PEM
    nokey = serialization.NoEncryption()
    pkcs8 = serialization.PrivateFormat.PKCS8
    write(paths["ca_key"], ca_key.private_bytes(pem, pkcs8, nokey), True)
    write(paths["key"], key.private_bytes(pem, pkcs8, nokey), True)
    write(paths["cert"], cert.public_bytes(pem), False)
    write(paths["ca"], ca_cert.public_bytes(pem), False)
    return {k: str(v) for k, v in paths.items()}


class Node:
    def __init__(self, cache_cluster_id: str, node_group_id: str, role: str, directory: Path):
        self.cache_cluster_id = cache_cluster_id
        self.node_group_id = node_group_id
        self.role = role
        self.dir = directory
        self.port = 0
        self.bus_port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.node_id = ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self) -> str:
        try:
            return (self.dir / "redis.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""


class Twin:
    def __init__(self, spec: dict[str, Any], directory: Path, tls: dict[str, str] | None):
        self.spec = spec
        self.id = spec["id"]
        self.dir = directory
        self.tls = tls
        self.tokens: list[str] = list(spec.get("tokens") or [])
        self.nodes: list[Node] = []

    # -- connections -------------------------------------------------------
    def client(self, node: Node, timeout: float = 5.0) -> RespClient:
        return RespClient(
            node.port,
            tls_ca=self.tls["ca"] if self.tls else None,
            password=self.tokens[-1] if self.tokens else None,
            timeout=timeout,
        )

    def cmd(self, node: Node, *args: Any) -> Any:
        with self.client(node) as c:
            return c.call(*args)

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        spec = self.spec
        for shard in spec["shards"]:
            for m in shard["members"]:
                self.nodes.append(
                    Node(m["cache_cluster_id"], shard["id"], m["role"], self.dir / m["cache_cluster_id"])
                )
        ports = free_ports(2 * len(self.nodes))
        for i, node in enumerate(self.nodes):
            node.port, node.bus_port = ports[2 * i], ports[2 * i + 1]
        primaries = {n.node_group_id: n for n in self.nodes if n.role == "primary"}
        try:
            # Non-cluster replicas need their primary up first; start primaries first.
            ordered = [n for n in self.nodes if n.role == "primary"] + [
                n for n in self.nodes if n.role != "primary"
            ]
            for node in ordered:
                self._spawn(node, primaries[node.node_group_id])
            for node in ordered:
                self._wait_ping(node)
            if spec["cluster_mode"]:
                self._form_cluster(primaries)
            self._wait_replication()
        except Exception:
            self.stop()
            raise

    def _conf(self, node: Node, primary: Node) -> str:
        spec = self.spec
        lines = [
            "bind 127.0.0.1",
            "protected-mode no",
            "daemonize no",
            f'dir "{node.dir}"',
            'logfile "redis.log"',
            'save ""',
            "appendonly no",
            "repl-diskless-sync-delay 0",
            "loglevel notice",
        ]
        if self.tls:
            lines += [
                "port 0",
                f"tls-port {node.port}",
                f'tls-cert-file "{self.tls["cert"]}"',
                f'tls-key-file "{self.tls["key"]}"',
                f'tls-ca-cert-file "{self.tls["ca"]}"',
                "tls-auth-clients no",
                "tls-replication yes",
            ]
        else:
            lines.append(f"port {node.port}")
        if spec["cluster_mode"]:
            lines += [
                "cluster-enabled yes",
                'cluster-config-file "nodes.conf"',
                "cluster-node-timeout 3000",
                f"cluster-port {node.bus_port}",
            ]
            if self.tls:
                lines.append("tls-cluster yes")
        elif node.role != "primary":
            lines.append(f"replicaof 127.0.0.1 {primary.port}")
        if self.tokens:
            passwords = " ".join(f">{t}" for t in self.tokens)
            lines.append(f"user default on {passwords} ~* &* +@all")
            lines.append(f'masterauth "{self.tokens[-1]}"')
        for k, v in redis_config_for(spec.get("params") or {}).items():
            lines.append(f'{k} "{v}"')
        return "\n".join(lines) + "\n"

    def _spawn(self, node: Node, primary: Node) -> None:
        node.dir.mkdir(parents=True, exist_ok=True)
        conf = node.dir / "redis.conf"
        conf.write_text(self._conf(node, primary))
        os.chmod(conf, 0o600)
        node.proc = subprocess.Popen(
            [redis_server_bin(), str(conf)],
            cwd=str(node.dir),
            env=_clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _wait_ping(self, node: Node, timeout: float = 15.0) -> None:
        deadline = time.time() + timeout
        last: Exception | None = None
        while time.time() < deadline:
            if not node.alive():
                raise TwinError(
                    f"redis-server for {node.cache_cluster_id} exited: {node.log_tail()}"
                )
            try:
                if self.cmd(node, "PING") == "PONG":
                    return
            except (OSError, RedisError) as e:
                last = e
            time.sleep(0.05)
        raise TwinError(f"redis-server for {node.cache_cluster_id} not answering: {last}")

    def _form_cluster(self, primaries: dict[str, Node]) -> None:
        for node in self.nodes:
            node.node_id = self.cmd(node, "CLUSTER", "MYID")
        for shard in self.spec["shards"]:
            for rng in shard["slot_ranges"]:
                self.cmd(primaries[shard["id"]], "CLUSTER", "ADDSLOTSRANGE", rng[0], rng[1])
        # Every node meets every other one: faster convergence than gossip alone.
        for a in self.nodes:
            for b in self.nodes:
                if a is not b:
                    self.cmd(a, "CLUSTER", "MEET", "127.0.0.1", b.port, b.bus_port)
        total = len(self.nodes)
        self._wait(
            lambda: all(self._known_nodes(n) >= total for n in self.nodes),
            "cluster nodes to meet",
        )
        for node in self.nodes:
            if node.role != "primary":
                pid = primaries[node.node_group_id].node_id
                self._wait(lambda n=node, p=pid: self._try(n, "CLUSTER", "REPLICATE", p), "replicate")
        self._wait(
            lambda: all("cluster_state:ok" in self.cmd(n, "CLUSTER", "INFO") for n in self.nodes),
            "cluster_state:ok",
        )

    def _known_nodes(self, node: Node) -> int:
        out = self.cmd(node, "CLUSTER", "NODES")
        return sum(1 for line in out.splitlines() if line.strip() and "handshake" not in line)

    def _try(self, node: Node, *args: Any) -> bool:
        try:
            self.cmd(node, *args)
            return True
        except RedisError:
            return False

    def _wait(self, pred: Any, what: str, timeout: float = 30.0) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            for n in self.nodes:
                if not n.alive():
                    raise TwinError(f"redis-server {n.cache_cluster_id} died: {n.log_tail()}")
            try:
                if pred():
                    return
            except (OSError, RedisError):
                pass
            time.sleep(0.05)
        raise TwinError(f"timed out waiting for {what} on twin {self.id}")

    def _wait_replication(self) -> None:
        replicas = [n for n in self.nodes if n.role != "primary"]

        def linked() -> bool:
            return all("master_link_status:up" in self.cmd(n, "INFO", "replication") for n in replicas)

        if replicas:
            try:
                self._wait(linked, "replicas to sync", timeout=20.0)
            except TwinError as e:
                log(f"warning: {e}")

    def stop(self) -> None:
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.terminate()
        deadline = time.time() + 5
        for node in self.nodes:
            if node.proc is None:
                continue
            try:
                node.proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                node.proc.kill()
                node.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- live changes --------------------------------------------------------
    def apply_params(self, params: dict[str, str]) -> None:
        for name, value in redis_config_for(params).items():
            for node in self.nodes:
                try:
                    self.cmd(node, "CONFIG", "SET", name, value)
                except (OSError, RedisError) as e:
                    log(f"CONFIG SET {name} on {node.cache_cluster_id} failed: {e}")
        self.spec["params"] = dict(params)

    def set_tokens(self, tokens: list[str]) -> None:
        old = list(self.tokens)
        for node in self.nodes:
            with RespClient(
                node.port,
                tls_ca=self.tls["ca"] if self.tls else None,
                password=old[-1] if old else None,
            ) as c:
                if tokens:
                    c.call("ACL", "SETUSER", "default", "on", "resetpass", *[f">{t}" for t in tokens])
                    c.call("CONFIG", "SET", "masterauth", tokens[-1])
                else:
                    c.call("ACL", "SETUSER", "default", "on", "resetpass", "nopass")
                    c.call("CONFIG", "SET", "masterauth", "")
        self.tokens = list(tokens)

    def info(self) -> dict[str, Any]:
        spec = self.spec
        nodes = [
            {
                "cache_cluster_id": n.cache_cluster_id,
                "node_group_id": n.node_group_id,
                "role": n.role,
                "port": n.port,
                "pid": n.proc.pid if n.proc else None,
                "alive": n.alive(),
            }
            for n in self.nodes
        ]
        return {
            "replication_group_id": self.id,
            "cluster_mode": bool(spec["cluster_mode"]),
            "tls": self.tls is not None,
            "ca_path": self.tls["ca"] if self.tls else None,
            "auth_enabled": bool(self.tokens),
            "requested_port": spec.get("requested_port"),
            "dir": str(self.dir),
            "nodes": nodes,
        }

    def primary_port(self, node_group_id: str | None = None) -> int:
        for n in self.nodes:
            if n.role == "primary" and (node_group_id is None or n.node_group_id == node_group_id):
                return n.port
        return self.nodes[0].port

    def port_of(self, cache_cluster_id: str) -> int | None:
        for n in self.nodes:
            if n.cache_cluster_id == cache_cluster_id:
                return n.port
        return None

    def reader_port(self) -> int:
        for n in self.nodes:
            if n.role != "primary":
                return n.port
        return self.primary_port()


class TwinManager:
    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.root = state_dir / "twins"
        self.twins: dict[str, Twin] = {}
        self.lock = threading.RLock()

    def clean_stale(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def start(self, spec: dict[str, Any]) -> Twin:
        if not redis_server_bin():
            raise TwinError("redis-server not found on PATH (set CAIRN_REDIS_SERVER)")
        self.stop(spec["id"])
        tls = ensure_tls(self.state_dir) if spec.get("tls") else None
        twin = Twin(spec, self.root / spec["id"], tls)
        twin.start()
        with self.lock:
            self.twins[spec["id"]] = twin
        log(f"twin {spec['id']} up: {[(n.cache_cluster_id, n.port) for n in twin.nodes]}")
        return twin

    def get(self, rg_id: str) -> Twin | None:
        with self.lock:
            return self.twins.get(rg_id)

    def stop(self, rg_id: str) -> None:
        with self.lock:
            twin = self.twins.pop(rg_id, None)
        if twin is not None:
            twin.stop()
        else:
            shutil.rmtree(self.root / rg_id, ignore_errors=True)

    def stop_all(self) -> None:
        with self.lock:
            ids = list(self.twins)
        for rg_id in ids:
            try:
                self.stop(rg_id)
            except Exception as e:  # noqa: BLE001 - best effort at shutdown
                log(f"stopping twin {rg_id}: {e}")


MANAGER: TwinManager | None = None


def manager() -> TwinManager | None:
    return MANAGER


def init(state_dir: Path) -> TwinManager:
    global MANAGER
    MANAGER = TwinManager(state_dir)
    MANAGER.clean_stale()
    return MANAGER
