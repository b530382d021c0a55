"""The local S3 server (hack/s3, versitygw) speaks the S3 the upload code needs.

These pin the semantics the S3 upload feature relies on: SigV4 auth,
path-style addressing, ETag == MD5 for single-part uploads (and the AWS
"md5-of-part-md5s-N" form for multipart), ListObjectsV2, user metadata, and
the error codes for a wrong secret, an unknown key and a missing bucket.
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

MiB = 1024 * 1024


def _md5_etag(data: bytes) -> str:
    return '"%s"' % hashlib.md5(data).hexdigest()


def _multipart_etag(data: bytes, part_size: int) -> str:
    parts = [data[i : i + part_size] for i in range(0, len(data), part_size)]
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts))
    return '"%s-%d"' % (digest.hexdigest(), len(parts))


def _error(exc_info) -> tuple[str, int]:
    resp = exc_info.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture()
def prefix() -> str:
    return f"t-{uuid.uuid4().hex[:8]}/"


def test_server_env_file(s3_server):
    assert s3_server.endpoint_url.startswith("http://127.0.0.1:")
    assert os.path.exists(f"/proc/{s3_server.pid}")
    env = dict(
        line.split("=", 1) for line in s3_server.env_file.read_text().splitlines()
    )
    assert env["S3_ENDPOINT_URL"] == s3_server.endpoint_url
    assert env["AWS_ACCESS_KEY_ID"] == s3_server.access_key
    # Buckets are plain directories under the data dir (POSIX backend).
    assert (s3_server.data_dir / s3_server.bucket).is_dir()


def test_put_get_head_list(s3_server, s3_client, prefix):
    bucket = s3_server.bucket
    body = b"weights \x00\x01\x02" * 1000
    key = prefix + "model/weights.bin"

    put = s3_client.put_object(
        Bucket=bucket, Key=key, Body=body, Metadata={"sha256": "abc123"}
    )
    assert put["ETag"] == _md5_etag(body)

    got = s3_client.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == body
    assert got["ETag"] == _md5_etag(body)

    head = s3_client.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == len(body)
    assert head["ETag"] == _md5_etag(body)
    assert head["Metadata"] == {"sha256": "abc123"}

    s3_client.put_object(Bucket=bucket, Key=prefix + "model/config.json", Body=b"{}")
    listing = s3_client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    objs = {o["Key"]: o for o in listing["Contents"]}
    assert set(objs) == {prefix + "model/weights.bin", prefix + "model/config.json"}
    assert objs[key]["Size"] == len(body)
    assert objs[key]["ETag"] == _md5_etag(body)
    assert listing["KeyCount"] == 2 and not listing["IsTruncated"]

    # Pagination with a continuation token.
    page1 = s3_client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    assert page1["IsTruncated"] and page1["KeyCount"] == 1
    page2 = s3_client.list_objects_v2(
        Bucket=bucket,
        Prefix=prefix,
        MaxKeys=1,
        ContinuationToken=page1["NextContinuationToken"],
    )
    assert {page1["Contents"][0]["Key"], page2["Contents"][0]["Key"]} == set(objs)

    with pytest.raises(ClientError) as ei:
        s3_client.get_object(Bucket=bucket, Key=prefix + "absent")
    assert _error(ei) == ("NoSuchKey", 404)


def test_overwrite_changes_only_that_etag(s3_server, s3_client, prefix):
    bucket = s3_server.bucket
    files = {prefix + f"f{i}": f"content {i}".encode() for i in range(3)}
    for key, data in files.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=data)
    before = {
        o["Key"]: o["ETag"]
        for o in s3_client.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    }
    assert before == {k: _md5_etag(v) for k, v in files.items()}

    changed = prefix + "f1"
    s3_client.put_object(Bucket=bucket, Key=changed, Body=b"new content")
    after = {
        o["Key"]: o["ETag"]
        for o in s3_client.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    }
    assert after[changed] == _md5_etag(b"new content")
    assert {k: v for k, v in after.items() if k != changed} == {
        k: v for k, v in before.items() if k != changed
    }


def test_multipart_upload_etag(s3_server, s3_client, prefix):
    data = os.urandom(11 * MiB)
    key = prefix + "big.bin"
    cfg = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    s3_client.upload_fileobj(io.BytesIO(data), s3_server.bucket, key, Config=cfg)
    head = s3_client.head_object(Bucket=s3_server.bucket, Key=key)
    assert head["ContentLength"] == len(data)
    # Not the MD5 of the object: md5(concat(part md5s))-<parts>, as on AWS.
    assert head["ETag"] == _multipart_etag(data, 5 * MiB)
    assert head["ETag"].endswith('-3"')


def test_wrong_secret_key_is_rejected(s3_server):
    bad = s3_server.client(aws_secret_access_key="not-the-secret")
    with pytest.raises(ClientError) as ei:
        bad.list_objects_v2(Bucket=s3_server.bucket)
    code, status = _error(ei)
    assert code in {"SignatureDoesNotMatch", "AccessDenied"}
    assert status == 403
    with pytest.raises(ClientError) as ei:
        bad.put_object(Bucket=s3_server.bucket, Key="nope", Body=b"x")
    assert _error(ei)[0] in {"SignatureDoesNotMatch", "AccessDenied"}


def test_unknown_access_key_is_rejected(s3_server):
    bad = s3_server.client(aws_access_key_id="nobody")
    with pytest.raises(ClientError) as ei:
        bad.list_objects_v2(Bucket=s3_server.bucket)
    code, status = _error(ei)
    # AWS says InvalidAccessKeyId/403; versitygw says XAdminUserNotFound/404.
    assert code in {"InvalidAccessKeyId", "XAdminUserNotFound", "AccessDenied"}
    assert status in {403, 404}


def test_missing_bucket(s3_client):
    missing = f"no-such-bucket-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ClientError) as ei:
        s3_client.list_objects_v2(Bucket=missing)
    assert _error(ei) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as ei:
        s3_client.put_object(Bucket=missing, Key="k", Body=b"x")
    assert _error(ei) == ("NoSuchBucket", 404)
    # HEAD responses have no body, so only the status is available.
    with pytest.raises(ClientError) as ei:
        s3_client.head_bucket(Bucket=missing)
    assert _error(ei)[1] == 404
