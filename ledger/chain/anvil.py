"""A local anvil node (npm package @foundry-rs/anvil) for tests and development.

``npm install --no-save @foundry-rs/anvil`` in the repository root puts the binary under
``node_modules``. ``AnvilNode(...).env()`` gives the settings that point Arena at a running one.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

# anvil's first default account, from its public test mnemonic: it must never hold real ether.
ANVIL_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ANVIL_CHAIN_ID = 31337
REPO_ROOT = Path(__file__).resolve().parents[2]


def anvil_binary(root: Path = REPO_ROOT) -> str | None:
    """The anvil executable, or None when it is not installed."""
    node_modules = root / "node_modules"
    # The native binary itself, not npm's node wrapper, so that stopping it stops the node.
    for candidate in sorted(node_modules.glob("@foundry-rs/anvil-*/bin/anvil")):
        if candidate.is_file():
            return str(candidate)
    wrapper = node_modules / ".bin" / "anvil"
    return str(wrapper) if wrapper.exists() else shutil.which("anvil")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AnvilNode:
    """An anvil process on a loopback port; use as a context manager."""

    def __init__(self, *, port: int | None = None, log_path: Path | None = None):
        self.binary = anvil_binary()
        if self.binary is None:
            raise FileNotFoundError(
                "anvil is not installed: npm install --no-save @foundry-rs/anvil"
            )
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> AnvilNode:
        out = open(self.log_path, "w") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--host", "127.0.0.1",
                "--port", str(self.port),
                "--chain-id", str(ANVIL_CHAIN_ID),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        if out is not subprocess.DEVNULL:
            out.close()  # the child holds its own descriptor
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"anvil exited with code {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"anvil did not listen on {self.url} in {timeout} s"
                    ) from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def env(self) -> dict[str, str]:
        """The settings that point Arena at this node, with anvil's first account as platform."""
        return {
            "ETH_RPC_URL": self.url,
            "ETH_CHAIN_ID": str(ANVIL_CHAIN_ID),
            "ETH_PLATFORM_PRIVATE_KEY": ANVIL_KEY_0,
        }

    def __enter__(self) -> AnvilNode:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
