// Live pages: an element with data-live-ws (a websocket path) and data-live-url (a fragment URL)
// re-fetches its fragment on every event pushed to that socket. The server is the source of
// truth; the event only says "something changed". Reconnects with backoff if the socket drops.
(function () {
  "use strict";
  function follow(el) {
    var wsPath = el.getAttribute("data-live-ws");
    var url = el.getAttribute("data-live-url");
    var delay = 1000;
    var pending = false;
    function refresh() {
      if (pending) return;
      pending = true;
      fetch(url, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) el.innerHTML = html; })
        .finally(function () { pending = false; });
    }
    function connect() {
      var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + window.location.host + wsPath);
      socket.onopen = function () { delay = 1000; refresh(); };
      socket.onmessage = function (msg) {
        refresh();
        try {
          var data = JSON.parse(msg.data);
          el.setAttribute("data-last-event", data.event + ":" + (data.payload.status || ""));
        } catch (e) { /* not JSON: ignore */ }
      };
      socket.onclose = function () {
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30000);
      };
    }
    connect();
  }
  document.querySelectorAll("[data-live-ws]").forEach(follow);
})();
