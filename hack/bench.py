#!/usr/bin/env python3
"""make bench: how fast the collection converges, next to plain kubectl.

Runs on a second local control plane (state in .cache/bench-cluster) so it
never disturbs the default cluster, and prints:
  - cluster cold start (cached binaries, no state) and warm start (running);
  - site.yml converge and idempotent re-run for the 3-model seed catalogue
    and a 30-model catalogue;
  - `kubectl apply --server-side` of the same rendered objects (create +
    rollout wait, then a no-op re-apply), measured in the same run;
  - the model module's time per model (local folder, warm hub cache);
  - on the real node (tests/node, run by `make test`): each MiniLM pod's
    time to Ready beside vLLM's own load time, as that run recorded them.
Figures go to stdout as a table and to bench-results/bench.json.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STATE = REPO / ".cache" / "bench-cluster"
KUBECONFIG = STATE / "kubeconfig"
ENV = dict(os.environ, EMBEDSERVE_CLUSTER_STATE=str(STATE), EMBEDSERVE_CLUSTER_NAME="embedserve-bench")
VENV_BIN = REPO / ".venv" / "bin"
SEED = [
    {"name": "minilm", "model": "sentence-transformers/all-MiniLM-L6-v2"},
    {"name": "granite", "model": "ibm-granite/granite-embedding-278m-multilingual"},
    {"name": "msmarco", "model": "cross-encoder/ms-marco-MiniLM-L12-v2"},
]
# The bench cluster's GPU node offers 16 time-sliced replicas of 4 A10Gs,
# shared by the site.yml and the kubectl copy of a catalogue: 8 of the 30
# models get a GPU share each, the rest run as CPU pods.
GPU_MODELS_IN_LARGE_CATALOGUE = 8
GPUS = {"count": 4, "memory_mib": 23028, "sharing": "time-slicing",
        "node_selector": {"nvidia.com/gpu.product": "NVIDIA-A10G-SHARED"}}


def log(message):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), message), file=sys.stderr, flush=True)


def timed(cmd, env=None, check=True):
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, env=env or ENV, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    if check and proc.returncode != 0:
        raise SystemExit("command failed: %s\n%s\n%s" % (" ".join(map(str, cmd)), proc.stdout[-3000:],
                                                          proc.stderr[-3000:]))
    return seconds, proc


def kubectl(*args):
    return [str(STATE / "bin" / "kubectl"), "--kubeconfig", str(KUBECONFIG), *args]


def catalogue(count):
    if count == len(SEED):
        return [dict(m) for m in SEED]
    models = []
    for index in range(count):
        base = SEED[index % len(SEED)]
        models.append(dict(base, name="%s-%02d" % (base["name"], index + 1), gpu=index < GPU_MODELS_IN_LARGE_CATALOGUE))
    return models


def playbook(namespace, models, *extra_args, render_dir=None):
    extra = {"embedserve_namespace": namespace, "embedserve_models": models, "embedserve_gpus": GPUS,
             "embedserve_kubeconfig": str(KUBECONFIG)}
    if render_dir:
        extra["embedserve_render_dir"] = str(render_dir)
    cmd = [str(VENV_BIN / "ansible-playbook"), "site.yml", "-e", json.dumps(extra), *extra_args]
    env = dict(ENV, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    seconds, proc = timed(cmd, env=env)
    stats = json.loads(proc.stdout[proc.stdout.index("{"):])["stats"]["localhost"]
    return seconds, stats


def bench_catalogue(count):
    models = catalogue(count)
    ns, ns_kubectl = "bench-%d" % count, "bench-%d-kubectl" % count
    for name in (ns, ns_kubectl):
        subprocess.run(kubectl("delete", "namespace", name, "--wait=true", "--ignore-not-found"), check=True,
                       capture_output=True)
    log("%d models: site.yml converge" % count)
    converge, stats = playbook(ns, models)
    log("%d models: site.yml re-run" % count)
    rerun, rerun_stats = playbook(ns, models)
    if rerun_stats["changed"] != 0:
        raise SystemExit("the re-run changed %d tasks; it must change nothing" % rerun_stats["changed"])

    with tempfile.TemporaryDirectory() as render:
        playbook(ns_kubectl, models, render_dir=render)
        files = sorted(Path(render).glob("*.yaml"))
        objects = sum(f.read_text().count("\n---\n") + 1 for f in files if "secrets" not in f.name)
        apply_cmd = kubectl("apply", "--server-side", "--field-manager=bench")
        for path in files:
            if "secrets" not in path.name:
                apply_cmd += ["-f", str(path)]
        log("%d models: kubectl apply --server-side of the same %d objects" % (count, objects))
        apply_seconds, _ = timed(apply_cmd)
        wait_seconds, _ = timed(kubectl("-n", ns_kubectl, "wait", "--for=condition=Available", "deployment",
                                        "--all", "--timeout=600s"))
        reapply_seconds, _ = timed(apply_cmd)
    for name in (ns, ns_kubectl):  # free the GPU replicas for the next catalogue
        subprocess.run(kubectl("delete", "namespace", name, "--wait=false"), check=True, capture_output=True)
    return {"models": count, "objects": objects,
            "site_converge_s": round(converge, 2), "site_rerun_s": round(rerun, 2),
            "site_changed_tasks": stats["changed"], "rerun_changed_tasks": rerun_stats["changed"],
            "kubectl_apply_s": round(apply_seconds, 2), "kubectl_rollout_wait_s": round(wait_seconds, 2),
            "kubectl_reapply_s": round(reapply_seconds, 2)}


ONE_TASK = """- name: One task, for Ansible's own start-up and shutdown
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Say one thing
      ansible.builtin.debug:
        msg: one
"""


def one_task_playbook():
    """Best of three runs of a one-task playbook: what any playbook costs before the collection does anything."""
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
        handle.write(ONE_TASK)
    try:
        return min(timed([str(VENV_BIN / "ansible-playbook"), handle.name])[0] for _ in range(3))
    finally:
        os.unlink(handle.name)


def module_timing():
    seconds, proc = timed([str(VENV_BIN / "python"), str(REPO / "tests" / "bench" / "bench_model_config.py")],
                          env=os.environ)
    return proc.stdout.strip()


NODE_TIMINGS = REPO / ".cache" / "node-timings.json"


def node_timings():
    """Time to Ready on the real node, as tests/node last measured it (pods cannot run on the bench cluster)."""
    if not NODE_TIMINGS.exists():
        return None, ["Real node: no timings recorded yet (make node-test, or make test, records them)"]
    timings = json.loads(NODE_TIMINGS.read_text())
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(NODE_TIMINGS.stat().st_mtime))
    lines = ["Real node: MiniLM on real vLLM (CPU), recorded by tests/node at %s" % when,
             "%-20s %-16s %-22s %-22s %-14s" % ("model", "created->started", "started->vLLM ready",
                                               "vLLM ready->pod Ready", "created->Ready")]
    for model, t in sorted(timings.items()):
        lines.append("%-20s %-16s %-22s %-22s %-14s" % (
            model, "%.1f s" % t["pod_created_to_container_started_s"],
            "%.1f s" % t["container_started_to_vllm_startup_complete_s"],
            "%.1f s (probe %d s)" % (t["vllm_startup_complete_to_ready_s"], t["probe_period_s"]),
            "%.1f s" % t["pod_created_to_ready_s"]))
    return timings, lines


def main():
    log("building or reusing the control plane binaries (first build ~10 min, then cached)")
    subprocess.run([str(REPO / "hack" / "cluster" / "build.sh")], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([str(VENV_BIN / "python"), str(REPO / "hack" / "models" / "seed-hub-cache.py")], check=True,
                   stdout=subprocess.DEVNULL)
    timed([str(REPO / "hack" / "cluster" / "down.sh")])
    log("cluster cold start (cached binaries, no state)")
    cold, _ = timed([str(REPO / "hack" / "cluster" / "up.sh")])
    log("cluster warm start (already running)")
    warm, _ = timed([str(REPO / "hack" / "cluster" / "up.sh")])
    results = {"cluster_cold_start_s": round(cold, 2), "cluster_warm_start_s": round(warm, 2), "catalogues": []}
    log("a one-task playbook (Ansible's own fixed cost)")
    results["one_task_playbook_s"] = round(one_task_playbook(), 2)
    try:
        for count in (3, 30):
            results["catalogues"].append(bench_catalogue(count))
    finally:
        timed([str(REPO / "hack" / "cluster" / "down.sh")], check=False)
    small, large = results["catalogues"]
    results["site_converge_per_extra_model_s"] = round(
        (large["site_converge_s"] - small["site_converge_s"]) / (large["models"] - small["models"]), 3)
    results["site_rerun_per_extra_model_s"] = round(
        (large["site_rerun_s"] - small["site_rerun_s"]) / (large["models"] - small["models"]), 3)

    print("Local control plane")
    print("  cold start (cached binaries): %6.2f s" % results["cluster_cold_start_s"])
    print("  warm start (running):         %6.2f s" % results["cluster_warm_start_s"])
    print()
    header = "%-8s %-8s %-14s %-12s %-16s %-18s %-16s" % (
        "models", "objects", "site converge", "site re-run", "kubectl apply", "kubectl rollout", "kubectl re-apply")
    print(header)
    print("-" * len(header))
    for row in results["catalogues"]:
        print("%-8d %-8d %-14s %-12s %-16s %-18s %-16s" % (
            row["models"], row["objects"], "%.2f s" % row["site_converge_s"], "%.2f s" % row["site_rerun_s"],
            "%.2f s" % row["kubectl_apply_s"], "%.2f s" % row["kubectl_rollout_wait_s"],
            "%.2f s" % row["kubectl_reapply_s"]))
    print()
    print("site.yml cost of one more model: converge %.3f s, re-run %.3f s"
          % (results["site_converge_per_extra_model_s"], results["site_rerun_per_extra_model_s"]))
    results["converge_30_over_3"] = round(large["site_converge_s"] / small["site_converge_s"], 2)
    results["rerun_over_one_task"] = round(small["site_rerun_s"] / results["one_task_playbook_s"], 1)
    print("a one-task playbook: %.2f s; the seed catalogue's no-op re-run is %.1fx that (target: <= 3 s and <= 5x)"
          % (results["one_task_playbook_s"], results["rerun_over_one_task"]))
    print("converge(30) / converge(3): %.2f (target: <= 1.5)" % results["converge_30_over_3"])
    print("(site.yml times include Ansible start-up, reading the models' files and planning; kubectl times are")
    print(" the apply alone, and the rollout wait separately.)")
    print()
    timing = module_timing()
    results["model_module"] = timing
    print(timing)
    print()
    results["real_node"], lines = node_timings()
    print("\n".join(lines))
    out = REPO / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "bench.json").write_text(json.dumps(results, indent=2) + "\n")
    print("\nwritten: %s" % (out / "bench.json"))


if __name__ == "__main__":
    main()
