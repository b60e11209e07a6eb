"""The connection to the chain and the platform's key.

``ETH_RPC_URL`` set: any JSON-RPC node (anvil, a testnet, mainnet). Empty: an in-process EVM
(eth-tester on py-evm), one per process, with a deterministic platform key funded from a tester
account so that withdrawals work out of the box.
"""

from __future__ import annotations

import threading

from django.conf import settings
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider

from ledger.chain.errors import ChainError

# Only ever used with the in-process chain: a key anyone can derive must never hold real ether.
DEV_PLATFORM_KEY = "0x" + keccak(text="arena development platform key").hex()
DEV_PLATFORM_FUNDING_WEI = 10_000 * 10**18

_lock = threading.Lock()
_clients: dict[str, Web3] = {}


def _in_process() -> Web3:
    w3 = Web3(EthereumTesterProvider())
    if not settings.ETH_PLATFORM_PRIVATE_KEY:
        # Fund the dev platform key once, when this process's chain is born.
        w3.eth.send_transaction(
            {
                "from": w3.eth.accounts[0],
                "to": Account.from_key(DEV_PLATFORM_KEY).address,
                "value": DEV_PLATFORM_FUNDING_WEI,
            }
        )
    return w3


def get_web3() -> Web3:
    """The process's client for the configured chain, checked against ``ETH_CHAIN_ID``."""
    url = settings.ETH_RPC_URL
    with _lock:
        w3 = _clients.get(url)
        if w3 is None:
            w3 = (
                Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
                if url
                else _in_process()
            )
            try:
                chain_id = w3.eth.chain_id
            except Exception as exc:  # connection refused, DNS, bad URL: say which node
                raise ChainError(f"cannot reach the Ethereum node at {url}: {exc}") from exc
            if chain_id != settings.ETH_CHAIN_ID:
                # Signing for one chain and sending to another would fail every withdrawal.
                raise ChainError(
                    f"the node at {url or 'eth-tester'} reports chain id {chain_id}, "
                    f"but ETH_CHAIN_ID is {settings.ETH_CHAIN_ID}"
                )
            _clients[url] = w3
    return w3


def reset_web3() -> None:
    """Forget cached clients (tests switch ETH_RPC_URL between nodes)."""
    with _lock:
        _clients.clear()


def platform_account() -> LocalAccount:
    """The key that receives deposits and signs withdrawals."""
    key = settings.ETH_PLATFORM_PRIVATE_KEY
    if not key:
        if settings.ETH_RPC_URL:
            raise ChainError("ETH_PLATFORM_PRIVATE_KEY must be set when ETH_RPC_URL is set")
        key = DEV_PLATFORM_KEY
    try:
        return Account.from_key(key)
    except (ValueError, TypeError):
        raise ChainError("ETH_PLATFORM_PRIVATE_KEY is not a valid private key") from None


def platform_address() -> str:
    return platform_account().address


def wei_to_credits(wei: int) -> int:
    return wei * settings.CREDITS_PER_ETHER // 10**18


def credits_to_wei(credits: int) -> int:
    return credits * 10**18 // settings.CREDITS_PER_ETHER
