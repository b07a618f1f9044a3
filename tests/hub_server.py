"""A loopback fake of the Hugging Face Hub HTTP API: just what ``huggingface_hub`` needs to push and pull a model.

Lets the zoo's publish and load paths run end to end over real HTTP in tests, with no network: point the client at
it with ``HF_ENDPOINT=<server.url>`` (read when huggingface_hub is imported) or the ``endpoint=`` arguments.
Binds 127.0.0.1 on a free port, stores everything under ``root``, and shuts itself down after ``lifetime`` seconds.

Endpoints (model repos only; request and response shapes as huggingface_hub 2.4 sends and parses them, see its
``hf_api.py``, ``_commit_api.py``, ``lfs.py``, ``file_download.py``; Hub API docs https://huggingface.co/docs/hub/api):

- ``POST /api/repos/create`` - new repo with an initial commit holding ``.gitattributes``; 409 if it exists.
- ``POST /api/validate-yaml`` - model-card front matter check (called before any upload of a README.md).
- ``POST /api/models/{repo}/preupload/{rev}`` - upload mode per file: ``"lfs"`` for files matching a ``filter=lfs``
  pattern of ``.gitattributes``, binary samples (a NUL byte) or >= 10 MiB, as the Hub decides; else ``"regular"``.
- ``POST /{repo}.git/info/lfs/objects/batch`` - git-LFS batch API, ``basic`` transfer only (upload + verify
  actions pointing back here); objects already stored get no actions.
- ``PUT /lfs-upload/{oid}`` (body checked against oid and size) and ``POST /lfs-verify/{oid}``.
- ``POST /api/models/{repo}/commit/{branch}`` - ndjson header / file (base64) / lfsFile / deletedFile /
  deletedFolder; honours ``parentCommit``; returns ``commitOid`` (40 hex).
- ``GET /api/models/{repo}`` and ``/api/models/{repo}/revision/{rev}`` - model info with ``sha`` and ``siblings``.
- ``GET /api/models/{repo}/tree/{rev}[/{path}]`` - tree listing (``recursive``), one page.
- ``HEAD`` / ``GET /{repo}/resolve/{rev}/{path}`` - file with ``ETag`` (git blob sha1, or sha256 for LFS files),
  ``X-Repo-Commit``, ``Content-Length``; ``Range: bytes=N-`` for resumed downloads.

Errors carry ``X-Error-Code`` (``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``) so the client raises
its typed errors. With ``token`` set, write endpoints need ``Authorization: Bearer <token>`` (else 401).
The Xet protocol is not spoken (``xet-write-token`` answers 501): a client with ``hf_xet`` installed uploads LFS
files through Xet unless ``HF_HUB_DISABLE_XET=1``, so set it; downloads need nothing, as no Xet headers are sent.
``python tests/hub_server.py --root DIR`` serves from the command line.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

LFS_THRESHOLD = 10 * 1024 * 1024
GITATTRIBUTES = "".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n"
    for pattern in ("*.keras", "*.h5", "*.safetensors", "*.bin", "*.npz", "*.zip", "*.tfrecord")
)
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob (what the Hub reports as a regular file's oid and ETag)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(oid: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n".encode()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


class HubError(Exception):
    def __init__(
        self, status: int, message: str, code: str | None = None, headers: dict | None = None, body: dict | None = None
    ):
        super().__init__(message)
        self.status, self.message, self.code, self.headers, self.body = status, message, code, headers or {}, body


class HubStore:
    """Repos as JSON (refs + commits with full trees) and file contents by hash, under ``root``."""

    def __init__(self, root: Path):
        self.root = Path(root)
        for sub in ("repos", "blobs", "lfs"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()

    # -- repos
    def _repo_file(self, repo_id: str) -> Path:
        return self.root / "repos" / repo_id / "repo.json"

    def read_repo(self, repo_id: str) -> dict:
        path = self._repo_file(repo_id)
        if not path.is_file():
            raise HubError(404, f"Repository {repo_id} not found", "RepoNotFound")
        return json.loads(path.read_text())

    def _write_repo(self, repo_id: str, repo: dict) -> None:
        path = self._repo_file(repo_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(repo, indent=1))
        tmp.replace(path)

    def create_repo(self, repo_id: str, private: bool) -> bool:
        """False if it already exists."""
        with self.lock:
            if self._repo_file(repo_id).is_file():
                return False
            repo = {"id": repo_id, "private": private, "refs": {}, "commits": {}, "created": _now()}
            content = GITATTRIBUTES.encode()
            tree = {".gitattributes": self._put_blob(content)}
            self._add_commit(repo, "main", tree, "initial commit", "", None)
            self._write_repo(repo_id, repo)
            return True

    def resolve(self, repo: dict, revision: str) -> str:
        """Commit sha of a branch name or of an existing commit sha."""
        if revision in repo["refs"]:
            return repo["refs"][revision]
        if revision in repo["commits"]:
            return revision
        raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")

    def tree(self, repo: dict, commit: str) -> dict:
        return repo["commits"][commit]["tree"]

    @staticmethod
    def _add_commit(repo: dict, branch: str, tree: dict, summary: str, description: str, parent: str | None) -> str:
        body = {"parent": parent, "tree": tree, "summary": summary, "description": description, "date": _now()}
        sha = hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()
        repo["commits"][sha] = body
        repo["refs"][branch] = sha
        return sha

    # -- contents
    def _put_blob(self, data: bytes) -> dict:
        oid = git_blob_sha1(data)
        path = self.root / "blobs" / oid
        if not path.exists():
            path.write_bytes(data)
        return {"oid": oid, "size": len(data), "lfs": None}

    def lfs_path(self, oid: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", oid):
            raise HubError(400, f"invalid LFS oid {oid!r}")
        return self.root / "lfs" / oid

    def put_lfs(self, oid: str, data: bytes) -> None:
        if hashlib.sha256(data).hexdigest() != oid:
            raise HubError(400, f"uploaded content does not hash to {oid}")
        path = self.lfs_path(oid)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)

    def content(self, entry: dict) -> bytes:
        if entry["lfs"] is not None:
            return self.lfs_path(entry["lfs"]["oid"]).read_bytes()
        return (self.root / "blobs" / entry["oid"]).read_bytes()

    # -- commits
    def commit(self, repo_id: str, branch: str, lines: list[dict]) -> str:
        with self.lock:
            repo = self.read_repo(repo_id)
            if branch not in repo["refs"]:
                raise HubError(404, f"Invalid rev id: {branch} (commits go to a branch)", "RevisionNotFound")
            head = repo["refs"][branch]
            if not lines or lines[0].get("key") != "header":
                raise HubError(400, "the first ndjson line of a commit must be the header")
            header = lines[0]["value"]
            parent = header.get("parentCommit")
            if parent is not None and parent != head:
                raise HubError(412, f"parentCommit {parent} is not the head of {branch} ({head})")
            tree = dict(self.tree(repo, head))
            for line in lines[1:]:
                key, value = line.get("key"), line.get("value", {})
                path = value.get("path", "")
                if key == "file":
                    if value.get("encoding") != "base64":
                        raise HubError(400, f"unsupported encoding for {path}")
                    tree[path] = self._put_blob(base64.b64decode(value["content"]))
                elif key == "lfsFile":
                    oid = value["oid"]
                    if not self.lfs_path(oid).is_file():
                        raise HubError(422, f"LFS object {oid} for {path} was not uploaded")
                    size = self.lfs_path(oid).stat().st_size
                    if value.get("size") not in (None, size):
                        raise HubError(422, f"LFS object {oid} for {path} has size {size}, not {value['size']}")
                    pointer = lfs_pointer(oid, size)
                    tree[path] = {
                        "oid": git_blob_sha1(pointer),
                        "size": size,
                        "lfs": {"oid": oid, "size": size, "pointerSize": len(pointer)},
                    }
                elif key == "deletedFile":
                    if path not in tree:
                        raise HubError(404, "A file with this name doesn't exist", "EntryNotFound")
                    del tree[path]
                elif key == "deletedFolder":
                    prefix = path.rstrip("/") + "/"
                    tree = {p: e for p, e in tree.items() if not p.startswith(prefix)}
                else:
                    raise HubError(400, f"unsupported commit operation {key!r}")
            sha = self._add_commit(repo, branch, tree, header.get("summary", ""), header.get("description", ""), head)
            self._write_repo(repo_id, repo)
            return sha


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds per connection read: a stuck client cannot hold a thread forever
    server: HubServer

    def log_message(self, format: str, *args) -> None:  # quiet: tests read server.requests instead
        pass

    # -- plumbing
    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None, head_only: bool = False) -> None:
        self.send_response(status)
        headers = {"Content-Type": "application/json", **(headers or {})}
        length = headers.pop("_length", len(body))  # HEAD announces the size of the body it does not send
        for key, value in headers.items():
            self.send_header(key, str(value))
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if not head_only and body:
            self.wfile.write(body)

    def _json(self, status: int, obj, headers: dict | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers)

    def _require_write(self) -> None:
        token = self.server.token
        if token is not None and self.headers.get("Authorization") != f"Bearer {token}":
            raise HubError(401, "Invalid credentials in Authorization header")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        segments = [unquote(s) for s in url.path.strip("/").split("/")]
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        route = "unknown"
        try:
            route, handler, args = self._route(method, segments)
            self.server.log_request_route(method, route, url.path)
            handler(*args, query=query)
        except HubError as err:
            headers = {}
            if err.code:
                headers["X-Error-Code"] = err.code
            headers["X-Error-Message"] = err.message
            headers.update(err.headers)
            self._json(err.status, {"error": err.message, **(err.body or {})}, headers)
        except Exception as err:  # a bug here must answer 500, not drop the connection
            self._json(500, {"error": f"fake hub {route}: {type(err).__name__}: {err}"})

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    @staticmethod
    def _repo_id(ns: str, name: str) -> str:
        if not (_SEGMENT.match(ns) and _SEGMENT.match(name)):
            raise HubError(400, f"invalid repo id {ns}/{name}")
        return f"{ns}/{name}"

    def _route(self, method: str, s: list[str]):
        n = len(s)
        if method == "POST" and s == ["api", "repos", "create"]:
            return "create", self.create, ()
        if method == "POST" and s == ["api", "validate-yaml"]:
            return "validate-yaml", self.validate_yaml, ()
        if n >= 4 and s[0] == "api" and s[1] in ("datasets", "spaces"):
            raise HubError(400, "this fake Hub serves model repos only")
        if n >= 4 and s[:2] == ["api", "models"]:
            repo_id = self._repo_id(s[2], s[3])
            rest = s[4:]
            if method == "GET" and not rest:
                return "model-info", self.model_info, (repo_id, "main")
            if method == "GET" and len(rest) == 2 and rest[0] == "revision":
                return "model-info", self.model_info, (repo_id, rest[1])
            if method == "GET" and len(rest) >= 2 and rest[0] == "tree":
                return "tree", self.tree, (repo_id, rest[1], "/".join(rest[2:]))
            if method == "POST" and len(rest) == 2 and rest[0] == "preupload":
                return "preupload", self.preupload, (repo_id, rest[1])
            if method == "POST" and len(rest) == 2 and rest[0] == "commit":
                return "commit", self.commit, (repo_id, rest[1])
            if len(rest) == 2 and rest[0] in ("xet-write-token", "xet-read-token"):
                raise HubError(501, "this fake Hub does not speak Xet: run the client with HF_HUB_DISABLE_XET=1")
        if method == "POST" and n == 6 and s[1].endswith(".git") and s[2:] == ["info", "lfs", "objects", "batch"]:
            return "lfs-batch", self.lfs_batch, (self._repo_id(s[0], s[1][: -len(".git")]),)
        if method == "PUT" and n == 2 and s[0] == "lfs-upload":
            return "lfs-upload", self.lfs_upload, (s[1],)
        if method == "POST" and n == 2 and s[0] == "lfs-verify":
            return "lfs-verify", self.lfs_verify, (s[1],)
        if method in ("GET", "HEAD") and n >= 5 and s[2] == "resolve":
            return f"resolve-{method.lower()}", self.resolve, (self._repo_id(s[0], s[1]), s[3], "/".join(s[4:]), method)
        raise HubError(404, f"fake hub: no route for {method} /{'/'.join(s)}")

    # -- endpoints
    def create(self, query: dict) -> None:
        self._require_write()
        payload = json.loads(self._body())
        if payload.get("type", "model") != "model":
            raise HubError(400, "this fake Hub serves model repos only")
        repo_id = self._repo_id(payload.get("organization") or "user", payload["name"])
        private = bool(payload.get("private")) or payload.get("visibility") == "private"
        url = f"{self.server.url}/{repo_id}"
        if not self.server.store.create_repo(repo_id, private):
            raise HubError(409, "You already created this model repo", body={"url": url})  # create_repo reads it
        self._json(200, {"url": url, "name": repo_id, "id": repo_id})

    def validate_yaml(self, query: dict) -> None:
        import yaml

        content = json.loads(self._body()).get("content", "")
        if not content.startswith("---"):
            return self._json(200, {"errors": [], "warnings": [{"message": "empty or missing yaml metadata"}]})
        end = content.find("\n---", 3)
        if end < 0:
            return self._json(400, {"errors": [{"message": "unterminated YAML front matter"}], "warnings": []})
        try:
            meta = yaml.safe_load(content[3:end])
        except yaml.YAMLError as err:
            return self._json(400, {"errors": [{"message": f"invalid YAML: {err}"}], "warnings": []})
        if not isinstance(meta, dict):
            return self._json(400, {"errors": [{"message": "YAML metadata must be a mapping"}], "warnings": []})
        self._json(200, {"errors": [], "warnings": []})

    def preupload(self, repo_id: str, revision: str, query: dict) -> None:
        self._require_write()
        store = self.server.store
        repo = store.read_repo(repo_id)
        tree = store.tree(repo, store.resolve(repo, revision))
        patterns = []
        if ".gitattributes" in tree:
            for line in store.content(tree[".gitattributes"]).decode().splitlines():
                parts = line.split()
                if len(parts) > 1 and "filter=lfs" in parts[1:]:
                    patterns.append(parts[0])
        files = []
        for f in json.loads(self._body())["files"]:
            path, sample = f["path"], base64.b64decode(f["sample"])
            name = path.rsplit("/", 1)[-1]
            lfs = (
                f["size"] >= LFS_THRESHOLD
                or b"\0" in sample
                or any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(path, p) for p in patterns)
            )
            existing = tree.get(path)
            remote_oid = None
            if existing is not None:
                remote_oid = existing["lfs"]["oid"] if existing["lfs"] else existing["oid"]
            files.append(
                {"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": remote_oid}
            )
        self._json(200, {"files": files, "commitOid": repo["refs"].get(revision)})

    def lfs_batch(self, repo_id: str, query: dict) -> None:
        self._require_write()
        self.server.store.read_repo(repo_id)
        payload = json.loads(self._body())
        if payload.get("operation") != "upload":
            raise HubError(400, "this fake Hub's LFS batch API only uploads (downloads go through /resolve)")
        if "basic" not in payload.get("transfers", ["basic"]):
            raise HubError(400, "only the 'basic' LFS transfer is supported")
        objects = []
        for obj in payload["objects"]:
            oid, size = obj["oid"], int(obj["size"])
            item = {"oid": oid, "size": size, "authenticated": True}
            if not self.server.store.lfs_path(oid).is_file():
                item["actions"] = {
                    "upload": {"href": f"{self.server.url}/lfs-upload/{oid}", "header": {"X-Expected-Size": str(size)}},
                    "verify": {"href": f"{self.server.url}/lfs-verify/{oid}"},
                }
            objects.append(item)
        self._json(200, {"transfer": "basic", "objects": objects}, {"Content-Type": "application/vnd.git-lfs+json"})

    def lfs_upload(self, oid: str, query: dict) -> None:
        data = self._body()
        expected = self.headers.get("X-Expected-Size")
        if expected is not None and int(expected) != len(data):
            raise HubError(400, f"expected {expected} bytes, got {len(data)}")
        self.server.store.put_lfs(oid, data)
        self._send(200, b"", {"Content-Type": "text/plain"})

    def lfs_verify(self, oid: str, query: dict) -> None:
        payload = json.loads(self._body())
        path = self.server.store.lfs_path(oid)
        if not path.is_file() or path.stat().st_size != int(payload.get("size", -1)):
            raise HubError(404, f"LFS object {oid} missing or of the wrong size")
        self._json(200, {"success": True})

    def commit(self, repo_id: str, branch: str, query: dict) -> None:
        self._require_write()
        if query.get("create_pr") in ("1", "true", "True"):
            raise HubError(400, "pull requests are not supported by this fake Hub")
        lines = [json.loads(line) for line in self._body().decode().splitlines() if line.strip()]
        sha = self.server.store.commit(repo_id, branch, lines)
        self._json(
            200,
            {
                "success": True,
                "commitOid": sha,
                "commitUrl": f"{self.server.url}/{repo_id}/commit/{sha}",
                "pullRequestUrl": None,
            },
        )

    def model_info(self, repo_id: str, revision: str, query: dict) -> None:
        store = self.server.store
        repo = store.read_repo(repo_id)
        sha = store.resolve(repo, revision)
        siblings = []
        for path, e in sorted(store.tree(repo, sha).items()):
            sib = {"rfilename": path, "size": e["size"], "blobId": e["oid"]}
            if e["lfs"]:
                sib["lfs"] = {
                    "sha256": e["lfs"]["oid"],
                    "size": e["lfs"]["size"],
                    "pointerSize": e["lfs"]["pointerSize"],
                }
            siblings.append(sib)
        info = {
            "_id": repo_id,
            "id": repo_id,
            "modelId": repo_id,
            "author": repo_id.split("/")[0],
            "sha": sha,
            "private": repo["private"],
            "gated": False,
            "disabled": False,
            "lastModified": repo["commits"][sha]["date"],
            "createdAt": repo["created"],
            "tags": [],
            "library_name": "keras",
            "siblings": siblings,
        }
        self._json(200, info)

    def tree(self, repo_id: str, revision: str, prefix: str, query: dict) -> None:
        store = self.server.store
        repo = store.read_repo(repo_id)
        tree = store.tree(repo, store.resolve(repo, revision))
        recursive = query.get("recursive", "false").lower() in ("1", "true")
        base = prefix.strip("/") + "/" if prefix.strip("/") else ""
        entries: dict[str, dict] = {}
        for path, e in sorted(tree.items()):
            if not path.startswith(base):
                continue
            parts = path[len(base) :].split("/")
            for depth in range(1, len(parts)):  # folders on the way
                folder = base + "/".join(parts[:depth])
                if recursive or depth == 1:
                    entries.setdefault(
                        folder,
                        {
                            "type": "directory",
                            "path": folder,
                            "oid": hashlib.sha1(folder.encode()).hexdigest(),
                            "size": 0,
                        },
                    )
            if recursive or len(parts) == 1:
                item = {"type": "file", "path": path, "oid": e["oid"], "size": e["size"]}
                if e["lfs"]:
                    item["lfs"] = dict(e["lfs"])
                entries[path] = item
        if base and not entries:
            raise HubError(404, f"{prefix} does not exist at {revision}", "EntryNotFound")
        self._json(200, list(entries.values()))

    def resolve(self, repo_id: str, revision: str, path: str, method: str, query: dict) -> None:
        store = self.server.store
        repo = store.read_repo(repo_id)
        sha = store.resolve(repo, revision)
        entry = store.tree(repo, sha).get(path)
        if entry is None:
            raise HubError(404, f"{path} does not exist at {revision}", "EntryNotFound", {"X-Repo-Commit": sha})
        etag = entry["lfs"]["oid"] if entry["lfs"] else entry["oid"]
        headers = {"Content-Type": "application/octet-stream", "ETag": f'"{etag}"', "X-Repo-Commit": sha}
        if entry["lfs"]:
            headers.update({"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(entry["size"])})
        if method == "HEAD":
            return self._send(200, b"", {**headers, "_length": entry["size"]}, head_only=True)
        data = store.content(entry)
        status = 200
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if match and int(match.group(1)) < len(data):
            start = int(match.group(1))
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            data, status = data[start:], 206
        self._send(status, data, headers)


class HubServer(ThreadingHTTPServer):
    """The fake Hub on 127.0.0.1; use as a context manager. ``requests`` logs (method, route, path) tuples."""

    daemon_threads = True

    def __init__(self, root: str | Path, *, token: str | None = None, lifetime: float = 300.0, port: int = 0):
        super().__init__(("127.0.0.1", port), _Handler)
        self.store = HubStore(Path(root))
        self.token = token
        self.lifetime = lifetime
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.requests: list[tuple[str, str, str]] = []
        self._log_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None

    def log_request_route(self, method: str, route: str, path: str) -> None:
        with self._log_lock:
            self.requests.append((method, route, path))

    def routes(self) -> list[str]:
        with self._log_lock:
            return [route for _, route, _ in self.requests]

    def start(self) -> HubServer:
        self._thread = threading.Thread(target=self.serve_forever, name="fake-hub", daemon=True)
        self._thread.start()
        self._timer = threading.Timer(self.lifetime, self.shutdown)  # bounded lifetime whatever the caller does
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._thread is not None and self._thread.is_alive():
            self.shutdown()
            self._thread.join(timeout=10)
        self.server_close()

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="folder to store repos in")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", default=None, help="require this bearer token for writes")
    parser.add_argument("--lifetime", type=float, default=600.0, help="seconds before the server stops itself")
    args = parser.parse_args()
    server = HubServer(args.root, token=args.token, lifetime=args.lifetime, port=args.port)
    print(f"fake Hub at {server.url} (stops in {args.lifetime:.0f} s)", flush=True)
    server.start()
    server._thread.join()
    server.server_close()


if __name__ == "__main__":
    main()
