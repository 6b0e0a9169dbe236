"""Google's Cloud Storage emulator (googleapis/storage-testbench) as object_store's GCS
client needs it, run by the gs:// tests (runtime/testkit/src/emulators.rs).

The testbench speaks GCS's XML API, which object_store uses, but leaves out parts that real
GCS has and object_store depends on. This adds them, as the XML API reference documents
them, and changes nothing else:

1. listing: `GET /<bucket>?list-type=2` (prefix, delimiter, start-after, max-keys,
   continuation-token; at most 1000 keys per page), answered as ListBucketResult;
2. `ETag` and `x-goog-generation` on the answer to an object PUT;
3. `Last-Modified` and `ETag` on the answer to an object GET/HEAD;
4. object DELETE;
5. XML multipart uploads (initiate, upload part, complete, abort), which object_store uses
   for objects above publish's multipart threshold.

Every added route carries the testbench's Retry Test decorator, so faults injected through
`POST /retry_test` (storage.objects.list / insert / get / delete) reach them too. Requests
without `x-retry-test-id` take the test id set by `PUT /_testkit/default_retry_test/<id>`
(cleared by DELETE), if their path ends with its `path_suffix` argument (default: any
path): how a test injects faults into a `netbootc` process, whose requests it cannot add
headers to, and aims them at one object such as `current`.

Usage: python server.py --port N  (binds 127.0.0.1 only)
"""

import argparse
import base64
import datetime
import hashlib
import itertools
import threading
import xml.etree.ElementTree as ET

import flask
from werkzeug.datastructures import MultiDict
from waitress import create_server
from waitress.channel import HTTPChannel
from waitress.task import WSGITask

import gcs as gcs_type
import testbench
from testbench import rest_server as rs

db, root, retry_test = rs.db, rs.root, rs.retry_test
S3_NS = "http://doc.s3.amazonaws.com/2006-03-01"
MAX_KEYS = 1000

_uploads = {}
_upload_ids = itertools.count(1)
_uploads_lock = threading.Lock()
_default_test = None  # (test id, path suffix)


def quoted_md5(media):
    return '"%s"' % hashlib.md5(media).hexdigest()


def http_date(timestamp):
    moment = timestamp.ToDatetime().replace(tzinfo=datetime.timezone.utc)
    return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")


def xml_response(element, status=200, headers=None):
    body = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    return flask.Response(body, status=status, content_type="application/xml", headers=headers)


def insert_blob(bucket_name, object_name, media, content_type, preconditions):
    """Stores `media` as the object's new live generation; returns the blob."""
    bucket = db.get_bucket(bucket_name, None).metadata
    metadata = {"bucket": bucket.name, "name": object_name}
    if content_type:
        metadata["contentType"] = content_type
    request = testbench.common.FakeRequest(args={}, headers={}, environ={})
    blob, _ = gcs_type.object.Object.init_dict(request, metadata, media, bucket, False)
    db.insert_object(bucket_name, blob, context=None, preconditions=preconditions)
    return blob


def written(blob):
    return {"ETag": quoted_md5(blob.media), "x-goog-generation": str(blob.metadata.generation)}


# (1) listing, S3-compatible as GCS's XML API answers it.
@retry_test(method="storage.objects.list")
def xml_list_objects(bucket_name):
    args = flask.request.args
    if args.get("list-type") != "2":
        testbench.error.generic("only list-type=2 is emulated", 400, None, None)
    prefix = args.get("prefix", "")
    delimiter = args.get("delimiter", "")
    after = args.get("continuation-token") or args.get("start-after") or ""
    if args.get("continuation-token"):
        after = base64.urlsafe_b64decode(after.encode()).decode()
    max_keys = min(int(args.get("max-keys", MAX_KEYS)), MAX_KEYS)
    fake = testbench.common.FakeRequest(args=MultiDict({"prefix": prefix}), headers={}, environ={})
    items, _ = db.list_object(fake, bucket_name, None)
    entries = {}  # name -> metadata, or None for a common prefix
    for item in items:
        if item.name <= after or (delimiter and after.endswith(delimiter) and item.name.startswith(after)):
            continue  # on an earlier page (a common prefix ends a page with all it covers)
        cut = item.name.find(delimiter, len(prefix)) if delimiter else -1
        if cut >= 0:
            entries.setdefault(item.name[: cut + len(delimiter)], None)
        else:
            entries[item.name] = item
    names = sorted(entries)
    page, more = names[:max_keys], len(names) > max_keys
    result = ET.Element("ListBucketResult", xmlns=S3_NS)
    ET.SubElement(result, "Name").text = bucket_name
    ET.SubElement(result, "Prefix").text = prefix
    ET.SubElement(result, "KeyCount").text = str(len(page))
    ET.SubElement(result, "MaxKeys").text = str(max_keys)
    ET.SubElement(result, "IsTruncated").text = "true" if more else "false"
    if more:
        token = base64.urlsafe_b64encode(page[-1].encode()).decode()
        ET.SubElement(result, "NextContinuationToken").text = token
    for name in page:
        item = entries[name]
        if item is None:
            ET.SubElement(ET.SubElement(result, "CommonPrefixes"), "Prefix").text = name
            continue
        blob = db.get_object(bucket_name, name, generation=item.generation)
        contents = ET.SubElement(result, "Contents")
        ET.SubElement(contents, "Key").text = name
        ET.SubElement(contents, "Generation").text = str(item.generation)
        ET.SubElement(contents, "LastModified").text = (
            item.update_time.ToDatetime().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        )
        ET.SubElement(contents, "ETag").text = quoted_md5(blob.media)
        ET.SubElement(contents, "Size").text = str(item.size)
    return xml_response(result)


root.add_url_rule(
    "/<bucket_name>", "xml_list_objects", xml_list_objects, methods=["GET"], subdomain=""
)


# (2) and (5): object PUT, and PUT of one multipart part.
@retry_test(method="storage.objects.insert")
def xml_put(bucket_name, object_name):
    upload_id = flask.request.args.get("uploadId")
    if upload_id is not None:
        media = testbench.common.extract_media(flask.request)
        number = int(flask.request.args["partNumber"])
        with _uploads_lock:
            upload = _uploads.get(upload_id)
            if upload is None or upload["name"] != (bucket_name, object_name):
                testbench.error.notfound("Upload %s" % upload_id, None)
            upload["parts"][number] = media
        return flask.Response("", headers={"ETag": quoted_md5(media)})
    bucket = db.get_bucket(bucket_name, None).metadata
    blob, _ = gcs_type.object.Object.init_xml(flask.request, bucket, object_name)
    db.insert_object(
        bucket_name,
        blob,
        context=None,
        preconditions=testbench.common.make_xml_preconditions(flask.request),
    )
    return flask.Response("", headers=written(blob))


root.view_functions["root_put_object_with_bucket"] = xml_put


# (3) object GET/HEAD: the testbench's own handler, plus the two headers.
_testbench_get = root.view_functions["root_get_object_with_bucket"]


def xml_get(bucket_name, object_name):
    response = _testbench_get(bucket_name=bucket_name, object_name=object_name)
    generation = response.headers.get("x-goog-generation")
    if generation is not None:
        blob = db.get_object(bucket_name, object_name, generation=generation)
        response.headers["Last-Modified"] = http_date(blob.metadata.update_time)
        response.headers["ETag"] = quoted_md5(blob.media)
    return response


root.view_functions["root_get_object_with_bucket"] = xml_get


# (4) and (5): object DELETE, and abort of a multipart upload.
@retry_test(method="storage.objects.delete")
def xml_delete(bucket_name, object_name):
    upload_id = flask.request.args.get("uploadId")
    if upload_id is not None:
        with _uploads_lock:
            _uploads.pop(upload_id, None)
    else:
        db.delete_object(bucket_name, object_name)
    return flask.Response("", status=204)


root.add_url_rule(
    "/<bucket_name>/<path:object_name>",
    "xml_delete",
    xml_delete,
    methods=["DELETE"],
    subdomain="",
)


# (5) multipart initiate (`?uploads`) and complete (`?uploadId=`).
@retry_test(method="storage.objects.insert")
def xml_post(bucket_name, object_name):
    args = flask.request.args
    if "uploads" in args:
        db.get_bucket(bucket_name, None)
        with _uploads_lock:
            upload_id = "upload-%d" % next(_upload_ids)
            _uploads[upload_id] = {
                "name": (bucket_name, object_name),
                "content_type": flask.request.headers.get("content-type"),
                "parts": {},
            }
        result = ET.Element("InitiateMultipartUploadResult", xmlns=S3_NS)
        ET.SubElement(result, "Bucket").text = bucket_name
        ET.SubElement(result, "Key").text = object_name
        ET.SubElement(result, "UploadId").text = upload_id
        return xml_response(result)
    upload_id = args.get("uploadId")
    if upload_id is None:
        testbench.error.generic("resumable XML uploads are not emulated", 501, None, None)
    listed = [
        (int(part.findtext("{*}PartNumber")), part.findtext("{*}ETag"))
        for part in ET.fromstring(flask.request.get_data()).iter()
        if part.tag.rsplit("}", 1)[-1] == "Part"
    ]
    with _uploads_lock:
        upload = _uploads.get(upload_id)
        if upload is None or upload["name"] != (bucket_name, object_name):
            testbench.error.notfound("Upload %s" % upload_id, None)
        parts = upload["parts"]
        for number, etag in listed:
            if number not in parts or quoted_md5(parts[number]) != etag:
                testbench.error.generic("InvalidPart %d" % number, 400, None, None)
        media = b"".join(parts[number] for number, _ in sorted(listed))
        del _uploads[upload_id]
    blob = insert_blob(bucket_name, object_name, media, upload["content_type"], [])
    result = ET.Element("CompleteMultipartUploadResult", xmlns=S3_NS)
    ET.SubElement(result, "Bucket").text = bucket_name
    ET.SubElement(result, "Key").text = object_name
    ET.SubElement(result, "ETag").text = quoted_md5(blob.media)
    return xml_response(result, headers={"x-goog-generation": str(blob.metadata.generation)})


root.view_functions["root_create_resumable_object"] = xml_post


# The default retry test id, for processes whose requests the test cannot add headers to.
@root.route("/_testkit/default_retry_test/<test_id>", methods=["PUT"])
def set_default_retry_test(test_id):
    global _default_test
    db.get_retry_test(test_id)  # 404 for an unknown id
    _default_test = (test_id, flask.request.args.get("path_suffix", ""))
    return "armed"


@root.route("/_testkit/default_retry_test", methods=["DELETE"])
def clear_default_retry_test():
    global _default_test
    _default_test = None
    return "cleared"


def with_default_retry_test(app):
    def middleware(environ, start_response):
        armed = _default_test
        if (
            armed is not None
            and "HTTP_X_RETRY_TEST_ID" not in environ
            and environ.get("PATH_INFO", "").endswith(armed[1])
        ):
            environ["HTTP_X_RETRY_TEST_ID"] = armed[0]
        return app(environ, start_response)

    return middleware


# The testbench's "reset-connection" fault closes the socket waitress hands it through the
# environ (its testbench_waitress.py, which is not part of the installed package).
class _Task(WSGITask):
    def get_environment(self):
        environ = super().get_environment()
        environ["waitress.channel"] = self.channel
        return environ


class _Channel(HTTPChannel):
    task_class = _Task


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = create_server(
        with_default_retry_test(rs.server.wsgi_app),
        host="127.0.0.1",
        port=args.port,
        threads=16,
        ident="waitress",
    )
    server.channel_class = _Channel
    print("gcs-testbench listening on 127.0.0.1:%d" % args.port, flush=True)
    server.run()


if __name__ == "__main__":
    main()
