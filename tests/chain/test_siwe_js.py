"""static/js/siwe.js builds a message the server accepts (run in node with a stand-in wallet)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from eth_account import Account

from tests.chain.test_siwe import get_nonce, sign, verify

pytestmark = pytest.mark.django_db

HARNESS = Path(__file__).with_name("siwe_js_harness.mjs")


def run_script(**config) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.skip("needs service: node (to run the browser script)")
    script = Path(settings.BASE_DIR) / "static" / "js" / "siwe.js"
    done = subprocess.run(
        [node, str(HARNESS), str(script), json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def test_it_builds_a_message_the_server_accepts(client):
    key = Account.create()
    nonce = get_nonce(client)
    seen = run_script(
        host="testserver", address=key.address, chainId=settings.ETH_CHAIN_ID, nonce=nonce,
        next="/wallet/deposit/",
    )  # fmt: skip

    # The wallet was asked to sign for the account it reported.
    assert seen["signer"] == key.address.lower()
    nonce_request, verify_request = seen["requests"]
    assert nonce_request["method"] == "POST"
    assert json.loads(nonce_request["body"]) == {"address": key.address.lower()}
    assert verify_request["headers"]["X-CSRFToken"] == "token-from-cookie"
    assert json.loads(verify_request["body"])["message"] == seen["message"]
    assert seen["redirect"] == "/wallet/deposit/"

    # Signed by the real key, the script's message signs the user in.
    response = verify(client, seen["message"], sign(seen["message"], key))
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil.example"])
def test_it_redirects_only_within_the_site(client, target):
    seen = run_script(
        host="testserver", address=Account.create().address, chainId=settings.ETH_CHAIN_ID,
        nonce=get_nonce(client), next=target,
    )  # fmt: skip
    assert seen["redirect"] == "/"
