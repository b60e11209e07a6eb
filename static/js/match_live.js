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
    var stale = false;
    // One fetch at a time; an event that arrives meanwhile marks the fragment stale so that it
    // is fetched once more afterwards (dropping it would leave the page one state behind).
    function refresh() {
      if (pending) { stale = true; return; }
      pending = true;
      stale = false;
      fetch(url, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) el.innerHTML = html; })
        .catch(function () { /* network hiccup: the next event or reconnect refreshes */ })
        .finally(function () {
          pending = false;
          if (stale) refresh();
        });
    }
    function connect() {
      var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + window.location.host + wsPath);
      socket.onopen = function () {
        // The server joins the groups before accepting, so from here on no event is missed.
        delay = 1000;
        el.setAttribute("data-live-connected", "true");
        refresh();
      };
      socket.onmessage = function (msg) {
        refresh();
        try {
          var data = JSON.parse(msg.data);
          el.setAttribute("data-last-event", data.event + ":" + (data.payload.status || ""));
        } catch (e) { /* not JSON: ignore */ }
      };
      socket.onclose = function () {
        el.setAttribute("data-live-connected", "false");
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30000);
      };
    }
    connect();
  }
  document.querySelectorAll("[data-live-ws]").forEach(follow);
})();
