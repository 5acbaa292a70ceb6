"""Schemathesis hooks of the API contract tests (libs/testkit/src/contract.rs loads this file)."""

import re
import uuid

import schemathesis

VALID_KEY = re.compile(r"[!-~]{1,255}")


@schemathesis.hook
def map_case(context, case):
    """Make each valid generated Idempotency-Key unique.

    A key replays the first response for the same key and body, and a different body under the
    same key is refused (422), as the Idempotency-Key specification asks. The fuzzer repeats keys
    across different bodies, so a valid key gets a unique suffix; an invalid key is kept as it is,
    so that its refusal is still checked.
    """
    headers = case.headers
    if headers and isinstance(headers.get("Idempotency-Key"), str):
        key = headers["Idempotency-Key"]
        if VALID_KEY.fullmatch(key):
            headers["Idempotency-Key"] = key[:200] + "-" + uuid.uuid4().hex
    return case
