# Copyright: embedserve maintainers
# Apache License 2.0 (see LICENSE)
"""The catalogue's shared settings: which role variables must agree with them, and which do not.

The catalogue (module_utils/catalogue.py, SHARED_SETTINGS) owns the namespace, cache claim, service account,
token Secret, data connection and S3 prefix once; every role defaults its own variable from
catalogue_resolved.settings. A role variable overridden to another value would make the pods mount a claim, or
run as a service account, that nobody created, so the catalogue role refuses it before any change.
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.embedserve.vllm.plugins.module_utils.catalogue import SHARED_SETTINGS, shared_setting_problems


def shared_setting_vars(settings):
    """The role variables that must agree with the shared settings, in a stable order."""
    if not isinstance(settings, dict):
        raise AnsibleFilterError("shared_setting_vars needs catalogue_resolved.settings, got %r" % (settings,))
    return [name for key in SHARED_SETTINGS for name in SHARED_SETTINGS[key]]


def shared_setting_problem_list(settings, values):
    """Messages for role variables (name -> value, None when the role is not in the play) that disagree."""
    if not isinstance(settings, dict) or not isinstance(values, dict):
        raise AnsibleFilterError("shared_setting_problems needs catalogue_resolved.settings and a mapping of "
                                 "role variables")
    return shared_setting_problems(settings, values)


class FilterModule:
    def filters(self):
        return {"shared_setting_vars": shared_setting_vars, "shared_setting_problems": shared_setting_problem_list}
