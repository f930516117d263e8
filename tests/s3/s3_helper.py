"""Helpers for tests/it/s3.rs: set up buckets on the loopback S3 server (moto) and read
lakeaug's output back with pyarrow, as a user would.

Usage: python s3_helper.py ENDPOINT COMMAND ARGS...
  mkbucket NAME                 create a bucket
  upload LOCAL BUCKET KEY       upload a file
  uploads BUCKET                print the number of unfinished multipart uploads
  keys BUCKET PREFIX            print every key below PREFIX, sorted
  count BUCKET/PREFIX           print the rows of the augmented dataset (pyarrow)
  compare BUCKET/A BUCKET/B     exit 1 unless both datasets hold the same values
                                (every column except run_id and created_at)
"""
import sys

import boto3
import pyarrow.compute as pc
import pyarrow.dataset as ds
from pyarrow import fs


def client(endpoint):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def dataset(endpoint, path):
    s3 = fs.S3FileSystem(
        endpoint_override=endpoint,
        scheme="http",
        access_key="test",
        secret_key="test",
        region="us-east-1",
    )
    return ds.dataset(path, filesystem=s3, format="parquet", partitioning="hive")


def table(endpoint, path):
    t = dataset(endpoint, path).to_table()
    t = t.drop_columns(["run_id", "created_at"])
    keys = [("scheme", "ascending"), ("source_file", "ascending"), ("source_row", "ascending"), ("aug_copy", "ascending")]
    return t.sort_by(keys)


def main():
    endpoint, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    c = client(endpoint)
    if cmd == "mkbucket":
        c.create_bucket(Bucket=args[0])
    elif cmd == "upload":
        c.upload_file(args[0], args[1], args[2])
    elif cmd == "uploads":
        print(len(c.list_multipart_uploads(Bucket=args[0]).get("Uploads", [])))
    elif cmd == "keys":
        pages = c.get_paginator("list_objects_v2").paginate(Bucket=args[0], Prefix=args[1])
        for key in sorted(o["Key"] for p in pages for o in p.get("Contents", [])):
            print(key)
    elif cmd == "count":
        print(dataset(endpoint, args[0]).count_rows())
    elif cmd == "compare":
        a, b = table(endpoint, args[0]), table(endpoint, args[1])
        if a.schema != b.schema or not a.equals(b):
            print(f"differ: {a.num_rows} vs {b.num_rows} rows", file=sys.stderr)
            sys.exit(1)
        print(f"same {a.num_rows} rows")
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
