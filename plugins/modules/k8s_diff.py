#!/usr/bin/python
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)

DOCUMENTATION = r"""
module: k8s_diff
short_description: Show the per-object diffs of a batched kubernetes.core.k8s call
version_added: "1.0.0"
description:
  - M(kubernetes.core.k8s) applies a list of objects in one call but keeps each object's diff inside
    C(result.results), where C(--diff) does not display them.
  - This action takes the registered result and returns those diffs at the top level, each headed by the
    object's kind, namespace and name, so C(ansible-playbook --diff) (with or without C(--check)) shows what
    every object would change.
  - It reports C(changed) exactly when the apply task changed an object, because Ansible only shows the diffs
    of changed results. Run it only in diff mode (a C(when) on C(ansible_diff_mode)) so normal runs count each
    change once.
author:
  - embedserve maintainers (@embedserve)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: all
options:
  result:
    description: The registered result of a M(kubernetes.core.k8s) task (one object or several).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Apply everything in one call
  kubernetes.core.k8s:
    apply: true
    definition: "{{ objects }}"
  register: applied

- name: Show what changed, object by object
  embedserve.vllm.k8s_diff:
    result: "{{ applied }}"
  when: ansible_diff_mode
"""

RETURN = r"""
objects_changed:
  description: How many objects the apply task changed (or would change in check mode).
  returned: always
  type: int
  sample: 2
"""
