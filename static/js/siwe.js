// Sign-In with Ethereum (EIP-4361) with the browser wallet (window.ethereum, EIP-1193).
// The button carries data-nonce-url, data-verify-url and data-next. The server checks every
// field of the message; this script only assembles it the way the standard lays it out.
(function () {
  "use strict";

  const button = document.getElementById("siwe-login");
  if (!button) return;
  const statusLine = document.getElementById("siwe-status");

  function say(text) {
    if (statusLine) statusLine.textContent = text;
  }

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function utf8Hex(text) {
    return "0x" + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function buildMessage(f) {
    // EIP-4361 layout: header, address, blank, statement, blank, then the fields in this order.
    return [
      `${f.domain} wants you to sign in with your Ethereum account:`,
      f.address,
      "",
      f.statement,
      "",
      `URI: ${f.uri}`,
      "Version: 1",
      `Chain ID: ${f.chainId}`,
      `Nonce: ${f.nonce}`,
      `Issued At: ${f.issuedAt}`,
      `Expiration Time: ${f.expirationTime}`,
    ].join("\n");
  }

  async function readJson(response) {
    let body = {};
    try { body = await response.json(); } catch (e) { /* not JSON */ }
    if (!response.ok) {
      const detail = body.detail || Object.values(body).flat().join(" ") || response.statusText;
      throw new Error(detail);
    }
    return body;
  }

  async function signIn() {
    if (!window.ethereum) {
      say("No browser wallet found. Install one (for example MetaMask) and reload this page.");
      return;
    }
    button.disabled = true;
    try {
      say("Asking your wallet for an account…");
      const accounts = await window.ethereum.request({ method: "eth_requestAccounts" });
      if (!accounts || !accounts.length) throw new Error("the wallet shared no account");
      const chainId = parseInt(await window.ethereum.request({ method: "eth_chainId" }), 16);

      // The nonce endpoint also returns the address in EIP-55 checksum form, which the message
      // must use; wallets often report addresses in lower case.
      // POST: each nonce is a new row on the server, which a GET must not make.
      const issued = await readJson(await fetch(button.dataset.nonceUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ address: accounts[0] }),
      }));
      if (issued.chain_id !== chainId) {
        throw new Error(`switch your wallet to chain ${issued.chain_id} (it is on ${chainId})`);
      }

      const now = new Date();
      const message = buildMessage({
        domain: window.location.host,
        address: issued.address,
        statement: "Sign in to Arena.",
        uri: window.location.origin,
        chainId: chainId,
        nonce: issued.nonce,
        issuedAt: now.toISOString(),
        expirationTime: new Date(now.getTime() + 10 * 60 * 1000).toISOString(),
      });
      say("Please sign the message in your wallet…");
      const signature = await window.ethereum.request({
        method: "personal_sign",
        params: [utf8Hex(message), accounts[0]],
      });

      say("Checking the signature…");
      await readJson(await fetch(button.dataset.verifyUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ message: message, signature: signature }),
      }));
      say("Signed in.");
      // Only a path on this site: a crafted ?next= must not send the user elsewhere.
      const next = button.dataset.next || "/";
      window.location.assign(/^\/(?![\/\\])/.test(next) ? next : "/");
    } catch (err) {
      say("Sign-in failed: " + (err && err.message ? err.message : err));
    } finally {
      button.disabled = false;
    }
  }

  button.addEventListener("click", signIn);
})();
