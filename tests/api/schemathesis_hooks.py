"""Schemathesis hooks for tests/api/test_fuzz.py (loaded through SCHEMATHESIS_HOOKS).

The fuzzer authenticates with a real token from POST /auth/token/. It may well revoke that
very token (DELETE /auth/tokens/{id}/ with an id it saw in GET /auth/tokens/): Schemathesis
then gets a 401, calls get() again for a fresh token and carries on.
"""

import os

import requests
import schemathesis


@schemathesis.auth()
class FreshToken:
    def get(self, case, context):
        response = requests.post(
            os.environ["DFD_FUZZ_API"] + "auth/token/", timeout=10,
            data={"username": os.environ["DFD_FUZZ_USER"], "password": os.environ["DFD_FUZZ_PASSWORD"],
                  "name": "schemathesis"},
        )
        response.raise_for_status()
        return response.json()["token"]

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Token {data}"}
