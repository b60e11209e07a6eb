// Runs static/js/siwe.js in node with a stand-in browser and wallet, clicks the button, and prints
// what the script did as JSON: the message it asked the wallet to sign, the verify request, the
// redirect. Usage: node siwe_js_harness.mjs <siwe.js> <json config>
import { readFileSync } from "node:fs";

const [scriptPath, configJson] = process.argv.slice(2);
const config = JSON.parse(configJson);
const seen = { requests: [] };

let clickHandler = null;
const button = {
  dataset: { nonceUrl: "/api/v1/siwe/nonce", verifyUrl: "/api/v1/siwe/verify", next: config.next },
  disabled: false,
  addEventListener: (event, handler) => { if (event === "click") clickHandler = handler; },
};
const statusLine = { textContent: "" };
globalThis.document = {
  getElementById: (id) => ({ "siwe-login": button, "siwe-status": statusLine })[id] || null,
  querySelector: () => null,
  cookie: "sessionid=x; csrftoken=token-from-cookie",
};
globalThis.window = {
  location: {
    host: config.host,
    origin: `http://${config.host}`,
    assign: (url) => { seen.redirect = url; },
  },
  ethereum: {
    request: async ({ method, params }) => {
      if (method === "eth_requestAccounts") return [config.address.toLowerCase()];
      if (method === "eth_chainId") return "0x" + config.chainId.toString(16);
      if (method === "personal_sign") {
        seen.signedHex = params[0];
        seen.signer = params[1];
        return "0xsignature";
      }
      throw new Error("unexpected method " + method);
    },
  },
};
globalThis.fetch = async (url, options = {}) => {
  seen.requests.push({ url: String(url), method: options.method || "GET", headers: options.headers || {}, body: options.body || null });
  const body = String(url).includes("/nonce")
    ? { nonce: config.nonce, chain_id: config.chainId, domain: config.host, address: config.address }
    : { user_id: 1 };
  return { ok: true, status: 200, statusText: "OK", json: async () => body };
};

new Function(readFileSync(scriptPath, "utf8"))();
await clickHandler();
seen.message = Buffer.from(seen.signedHex.slice(2), "hex").toString("utf8");
seen.status = statusLine.textContent;
console.log(JSON.stringify(seen));
