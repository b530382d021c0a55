#!/usr/bin/python
# Copyright: embedserve maintainers
# Apache License 2.0 (see LICENSE)

DOCUMENTATION = r"""
module: s3_model_sync
short_description: Upload a plain model folder to S3, skipping files that are already there
version_added: "1.0.0"
description:
  - Makes C(s3://<bucket>/<prefix>/<name>/) hold the files of a prepared model folder (for example one written by
    M(embedserve.vllm.hf_snapshot)), which is where KServe and OpenShift AI data connections read models from.
  - One listing of the prefix decides what to upload. An object is unchanged when its size matches and either its
    ETag is the file's MD5 (single-part uploads) or its C(sha256) metadata is the file's sha256 (multipart uploads,
    whose ETag is no MD5). Every uploaded object carries that C(sha256) metadata.
  - Uploads go one file at a time, C(config.json) last, and each is checked (size, ETag or sha256) before it counts.
    When a request fails, the module fails and lists what was uploaded and what is still pending; a partial upload
    is never reported as complete.
  - Errors are worded by cause, for example bad credentials (C(AccessDenied), C(SignatureDoesNotMatch),
    C(InvalidAccessKeyId), or C(XAdminUserNotFound) from some S3-compatible servers), a missing bucket, or an
    endpoint that cannot be reached.
  - Works with AWS S3 and with S3-compatible endpoints (OpenShift Data Foundation, MinIO, Ceph, versitygw).
author:
  - embedserve maintainers (@embedserve)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
requirements:
  - boto3
attributes:
  check_mode:
    support: full
    details: Lists the prefix and reports what would be uploaded or deleted; nothing is written.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  src:
    description:
      - The prepared model folder. It must contain C(config.json).
    type: path
    required: true
  bucket:
    description:
      - Bucket name. It must exist.
    type: str
    required: true
  prefix:
    description:
      - Key prefix before the model's name, for example C(models).
    type: str
    default: ""
  name:
    description:
      - Model folder name under O(prefix). Defaults to the last component of O(src).
    type: str
  endpoint_url:
    description:
      - S3 endpoint, for example C(https://s3.openshift-storage.svc) or C(http://127.0.0.1:9000). Defaults to
        C(AWS_ENDPOINT_URL_S3) / C(AWS_ENDPOINT_URL), else AWS.
    type: str
  access_key:
    description:
      - Access key id. Defaults to C(AWS_ACCESS_KEY_ID) or the boto3 credential chain.
    type: str
  secret_key:
    description:
      - Secret access key. Defaults to C(AWS_SECRET_ACCESS_KEY) or the boto3 credential chain.
    type: str
  session_token:
    description:
      - Session token for temporary credentials.
    type: str
  region:
    description:
      - Region. Defaults to C(AWS_DEFAULT_REGION) or the boto3 configuration.
    type: str
  addressing_style:
    description:
      - Bucket addressing. Defaults to C(path) when O(endpoint_url) is set (what S3-compatible servers expect) and
        C(auto) otherwise.
    type: str
    choices: [auto, path, virtual]
  validate_certs:
    description:
      - Verify the endpoint's TLS certificate.
    type: bool
    default: true
  ca_bundle:
    description:
      - CA bundle to verify the endpoint with (a private CA).
    type: path
  delete_extra:
    description:
      - Delete objects under the model's prefix that are not in O(src), for example files of an older revision.
    type: bool
    default: false
  expected_files:
    description:
      - In check mode, when O(src) does not exist yet, the files it will hold (C(path), C(size) and C(sha256) as
        M(embedserve.vllm.hf_snapshot) reports them in check mode), so what would be uploaded can still be told.
      - Ignored outside check mode and when O(src) exists.
    type: list
    elements: dict
  multipart_threshold_mib:
    description:
      - Files of this size (MiB) or more are uploaded in parts.
    type: int
    default: 64
  multipart_chunksize_mib:
    description:
      - Part size (MiB) of multipart uploads; S3 needs at least 5.
    type: int
    default: 16
seealso:
  - module: embedserve.vllm.hf_snapshot
  - module: amazon.aws.s3_object
    description: Single objects; it has no folder synchronisation and no sha256 comparison for multipart objects.
notes:
  - MD5 is computed only to compare with ETags; integrity of multipart objects rests on the stored sha256.
"""

EXAMPLES = r"""
- name: Upload a prepared folder to an OpenShift Data Foundation bucket
  embedserve.vllm.s3_model_sync:
    src: /var/lib/embedserve/models/minilm
    bucket: models
    prefix: embedserve
    endpoint_url: https://s3.openshift-storage.svc
    access_key: "{{ s3_access_key }}"
    secret_key: "{{ s3_secret_key }}"
    ca_bundle: /etc/pki/tls/certs/service-ca.crt
  register: upload

- name: Show what moved
  ansible.builtin.debug:
    msg: "{{ upload.url }}: {{ upload.uploaded | length }} uploaded, {{ upload.unchanged | length }} unchanged"

- name: What would be uploaded to AWS, without uploading (credentials from the environment)
  embedserve.vllm.s3_model_sync:
    src: /var/lib/embedserve/models/bge-m3
    bucket: my-models
    prefix: prod
    region: eu-west-1
  check_mode: true
"""

RETURN = r"""
url:
  description: The model's location.
  returned: success
  type: str
  sample: s3://models/embedserve/minilm/
bucket:
  description: The bucket.
  returned: success
  type: str
prefix:
  description: Key prefix of the model's objects, ending in C(/).
  returned: success
  type: str
  sample: embedserve/minilm/
folder:
  description: Absolute path of O(src).
  returned: success
  type: str
files:
  description: Every file of the folder with its key, size, md5 and sha256.
  returned: success
  type: list
  elements: dict
  sample: [{path: config.json, key: embedserve/minilm/config.json, size: 612, md5: "...", sha256: "..."}]
bytes:
  description: Total size of the folder.
  returned: success
  type: int
uploaded:
  description: Files uploaded (check mode - that would be), in upload order.
  returned: success
  type: list
  elements: str
unchanged:
  description: Files already in S3 with the same content.
  returned: success
  type: list
  elements: str
bytes_uploaded:
  description: Bytes uploaded (check mode - that would be).
  returned: success
  type: int
extra:
  description: Objects under the prefix that are not in the folder (paths relative to the prefix).
  returned: success
  type: list
  elements: str
deleted:
  description: Keys deleted because of O(delete_extra) (check mode - that would be).
  returned: success
  type: list
  elements: str
complete:
  description: True when every file is in S3 with its content. On failure it is false, and C(uploaded) and
    C(pending) say how far the upload got.
  returned: always
  type: bool
pending:
  description: Files not uploaded when the module failed.
  returned: failure
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.embedserve.vllm.plugins.module_utils.boundary import range_problems, unexpected
from ansible_collections.embedserve.vllm.plugins.module_utils.model_prep import (
    MIB,
    ModelPrepError,
    S3SyncError,
    import_boto3,
    make_s3_client,
    s3_key_root,
    sync_folder,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "src": {"type": "path", "required": True},
            "bucket": {"type": "str", "required": True},
            "prefix": {"type": "str", "default": ""},
            "name": {"type": "str"},
            "endpoint_url": {"type": "str"},
            "access_key": {"type": "str", "no_log": False},
            "secret_key": {"type": "str", "no_log": True},
            "session_token": {"type": "str", "no_log": True},
            "region": {"type": "str"},
            "addressing_style": {"type": "str", "choices": ["auto", "path", "virtual"]},
            "validate_certs": {"type": "bool", "default": True},
            "ca_bundle": {"type": "path"},
            "delete_extra": {"type": "bool", "default": False},
            "expected_files": {"type": "list", "elements": "dict"},
            "multipart_threshold_mib": {"type": "int", "default": 64},
            "multipart_chunksize_mib": {"type": "int", "default": 16},
        },
        supports_check_mode=True,
    )
    params = module.params
    boto3, import_error = import_boto3()
    if import_error is not None:
        module.fail_json(msg=missing_required_lib("boto3"), exception=str(import_error), complete=False)
    # S3's part sizes: at least 5 MiB, at most 5 GiB
    problems = range_problems(params, {"multipart_threshold_mib": (5, 5 * 1024 * 1024),
                                       "multipart_chunksize_mib": (5, 5 * 1024)})
    if problems:
        module.fail_json(msg="; ".join(problems), complete=False)
    name = params["name"] or params["src"].rstrip("/").rsplit("/", 1)[-1]
    root = s3_key_root(params["prefix"], name)
    try:
        client = make_s3_client(
            boto3,
            endpoint_url=params["endpoint_url"],
            access_key=params["access_key"],
            secret_key=params["secret_key"],
            session_token=params["session_token"],
            region=params["region"],
            addressing_style=params["addressing_style"],
            validate_certs=params["validate_certs"],
            ca_bundle=params["ca_bundle"],
        )
        result = sync_folder(
            client, params["src"], params["bucket"], root,
            delete_extra=params["delete_extra"],
            check_mode=module.check_mode,
            multipart_threshold=params["multipart_threshold_mib"] * MIB,
            multipart_chunksize=params["multipart_chunksize_mib"] * MIB,
            endpoint=params["endpoint_url"],
            expected_files=params["expected_files"],
        )
    except S3SyncError as exc:
        module.fail_json(msg=str(exc), uploaded=exc.done, pending=exc.pending, complete=False,
                         changed=bool(exc.done), url="s3://%s/%s" % (params["bucket"], root))
    except (ModelPrepError, OSError, ValueError) as exc:
        module.fail_json(msg=str(exc), complete=False, url="s3://%s/%s" % (params["bucket"], root))
    except Exception as exc:  # botocore and anything else: a message, never a traceback
        module.fail_json(msg=unexpected(exc, "syncing to s3://%s/%s" % (params["bucket"], root)), complete=False,
                         url="s3://%s/%s" % (params["bucket"], root))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
