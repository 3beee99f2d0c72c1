"""Calls one boto3 operation against the local cloud and prints its outcome as one JSON object.

Usage: boto3_call.py <service> <operation | paginate:operation> '<params as JSON>'
The endpoint comes from SECONDLOOK_ENDPOINT. A paginate: call prints every page it fetched.
"""
import datetime
import json
import os
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError


def as_json(value):
    # boto3 parses timestamps into aware datetimes; printing them back proves it could.
    if isinstance(value, datetime.datetime):
        return {"datetime": value.isoformat(), "aware": value.tzinfo is not None}
    raise TypeError(f"not JSON: {type(value).__name__}")


def main():
    service, operation, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    client = boto3.client(
        service,
        endpoint_url=os.environ["SECONDLOOK_ENDPOINT"],
        region_name="us-east-1",
        aws_access_key_id="boto3",
        aws_secret_access_key="boto3-secret",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
    try:
        if operation.startswith("paginate:"):
            paginator = client.get_paginator(operation[len("paginate:"):])
            pages = [
                {k: v for k, v in page.items() if k != "ResponseMetadata"}
                for page in paginator.paginate(**params)
            ]
            print(json.dumps({"pages": pages}, default=as_json))
        else:
            result = getattr(client, operation)(**params)
            result.pop("ResponseMetadata", None)
            print(json.dumps({"ok": result}, default=as_json))
    except ClientError as error:
        print(
            json.dumps(
                {
                    "error": {
                        "code": error.response["Error"]["Code"],
                        "message": error.response["Error"].get("Message", ""),
                        "status": error.response["ResponseMetadata"]["HTTPStatusCode"],
                    }
                }
            )
        )
    except ParamValidationError as error:
        print(json.dumps({"error": {"code": "ParamValidationError", "message": str(error), "status": 0}}))


if __name__ == "__main__":
    main()
