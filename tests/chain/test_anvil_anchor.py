"""Anchoring a record chain on a real node: anvil, from the npm package @foundry-rs/anvil.

Install it with ``npm install --no-save @foundry-rs/anvil`` in the repository root; without it
these tests skip. The node is started on a free loopback port and stopped afterwards.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from ledger.chain import get_web3, platform_address, reset_web3
from ledger.chain.anvil import ANVIL_CHAIN_ID, ANVIL_KEY_0, AnvilNode, anvil_binary
from ledger.models import ChainAnchor
from ledger.records import ANCHOR_TAG, anchor_chain, anchor_verify, record_append

pytestmark = pytest.mark.chain_node


@pytest.fixture
def node(tmp_path, settings):
    if anvil_binary() is None:
        pytest.skip("needs service: anvil (npm install)")
    with AnvilNode(log_path=tmp_path / "anvil.log") as anvil:
        settings.ETH_RPC_URL = anvil.url
        settings.ETH_CHAIN_ID = ANVIL_CHAIN_ID
        settings.ETH_PLATFORM_PRIVATE_KEY = ANVIL_KEY_0
        reset_web3()
        yield get_web3()
        reset_web3()


@pytest.mark.django_db(transaction=True)
def test_it_anchors_a_record_chain_on_anvil_once(node):
    head = None
    for n in range(3):
        head = record_append(chain="proof-of-learning", kind="job", payload={"job": n})

    def anchor_once(_):
        try:
            return anchor_chain(chain="proof-of-learning")
        finally:
            connections.close_all()

    # Two workers at once (two threads, two connections): one transaction for the head.
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(anchor_once, range(2)))

    anchors = [a for a in results if a is not None]
    assert len(anchors) == 1 and ChainAnchor.objects.count() == 1
    anchor = anchors[0]
    assert (anchor.up_to_seq, anchor.root, anchor.chain_id) == (2, head.hash, ANVIL_CHAIN_ID)
    # What `cast tx <hash>` shows: the raw JSON-RPC answer of the node.
    tx = node.provider.make_request("eth_getTransactionByHash", [anchor.tx_hash])["result"]
    assert tx["input"] == "0x" + (ANCHOR_TAG + bytes.fromhex(head.hash)).hex()
    assert tx["from"].lower() == tx["to"].lower() == platform_address().lower()
    assert int(tx["value"], 16) == 0
    assert anchor_verify(anchor) == []

    record_append(chain="proof-of-learning", kind="job", payload={"job": 3})
    later = anchor_chain(chain="proof-of-learning")
    assert later.up_to_seq == 3 and later.block_number > anchor.block_number
    assert anchor_verify(later) == [] and anchor_verify(anchor) == []
