"""A fresh clone starts the local control plane with nothing outside the repository.

The repository's tracked files are copied into a temporary directory with no ../shared beside it, and that
copy's hack/cluster/up.sh starts a second cluster (cached binaries, its own state and name) with the KServe,
Route and Template CRDs it carries.
"""

import os
import subprocess

from conftest import REPO


def test_fresh_clone_starts_the_cluster_without_shared(tmp_path):
    clone = tmp_path / "clone"
    clone.mkdir()
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "--null", "-T", "-", "-cf", str(tmp_path / "tree.tar")], cwd=REPO, input=files,
                   check=True)
    subprocess.run(["tar", "-xf", str(tmp_path / "tree.tar")], cwd=clone, check=True)
    assert not (tmp_path / "shared").exists()
    env = dict(os.environ, EMBEDSERVE_CLUSTER_STATE=str(tmp_path / "state"),
               EMBEDSERVE_CLUSTER_NAME="embedserve-fresh", EMBEDSERVE_KSERVE_CONTROLLER="0")
    env.pop("EMBEDSERVE_SHARED", None)
    up = subprocess.run(["hack/cluster/up.sh"], cwd=clone, env=env, capture_output=True, text=True, timeout=600,
                        check=False)
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        assert "shared" not in up.stderr
        kubectl = [str(tmp_path / "state" / "bin" / "kubectl"), "--kubeconfig", str(tmp_path / "state" / "kubeconfig")]
        crds = subprocess.run(kubectl + ["get", "crd", "-o", "name"], capture_output=True, text=True, check=True)
        for crd in ("inferenceservices.serving.kserve.io", "servingruntimes.serving.kserve.io",
                    "clusterservingruntimes.serving.kserve.io", "routes.route.openshift.io",
                    "templates.template.openshift.io"):
            assert "customresourcedefinition.apiextensions.k8s.io/" + crd in crds.stdout.split()
    finally:
        subprocess.run(["hack/cluster/down.sh"], cwd=clone, env=env, capture_output=True, timeout=120, check=False)
