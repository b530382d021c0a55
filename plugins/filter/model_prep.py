# Copyright: embedserve maintainers
# Apache License 2.0 (see LICENSE)
"""model_prep_jobs: the Jobs that fill the cache claim, planned in module_utils/model_prep_jobs.py."""

from ansible.errors import AnsibleFilterError

from ansible_collections.embedserve.vllm.plugins.module_utils.model_prep_jobs import JobPlanError, populate_jobs


def model_prep_jobs(snapshots, settings=None):
    if not isinstance(snapshots, list):
        raise AnsibleFilterError("model_prep_jobs needs the hf_snapshot results (a list), got %r" % (snapshots,))
    try:
        return populate_jobs(snapshots, settings)
    except JobPlanError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    def filters(self):
        return {"model_prep_jobs": model_prep_jobs}
