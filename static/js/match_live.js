// Live pages: an element with data-live-ws (a websocket path) and data-live-url (a fragment URL)
// re-fetches its fragment on every state event pushed to that socket. The server is the source
// of truth; such an event only says "something changed". Reconnects with backoff if the socket
// drops.
//
// A match page also gets "seat.progress" events while the match rolls out: one seat's answer so
// far. That text is written by an agent, i.e. HOSTILE: it only ever goes in with textContent
// (never innerHTML), into the seat's column ([data-seat=N]), with its progress bar. The latest
// progress of each seat is kept and written again after a fragment refresh, for columns whose
// answer the server has not stored yet.
(function () {
  "use strict";
  function follow(el) {
    var wsPath = el.getAttribute("data-live-ws");
    var url = el.getAttribute("data-live-url");
    var delay = 1000;
    var pending = false;
    var stale = false;
    var progress = {}; // seat index -> latest seat.progress payload
    function showProgress(p) {
      var seat = parseInt(p.seat, 10);
      if (isNaN(seat)) return;
      var col = el.querySelector('[data-seat="' + seat + '"]');
      if (!col) return;
      var text = col.querySelector('[data-role="text"]');
      // A column whose final answer is rendered by the server keeps it.
      if (!text || col.getAttribute("data-final") === "true") return;
      var tokens = Math.max(0, parseInt(p.tokens, 10) || 0);
      var limit = parseInt(p.max_new_tokens, 10) || parseInt(col.getAttribute("data-max-tokens"), 10) || 0;
      text.textContent = typeof p.text === "string" ? p.text : "";
      var bar = col.querySelector('[data-role="bar"]');
      if (bar) {
        if (limit > 0) bar.max = limit;
        bar.value = Math.min(tokens, limit || tokens);
        bar.textContent = tokens + " of " + limit;
      }
      var count = col.querySelector('[data-role="count"]');
      if (count) count.textContent = tokens + " / " + limit + " tokens" + (p.done ? " (done)" : "");
      col.setAttribute("data-streamed-tokens", String(tokens));
    }
    function replay() {
      Object.keys(progress).forEach(function (seat) { showProgress(progress[seat]); });
    }
    // One fetch at a time; an event that arrives meanwhile marks the fragment stale so that it
    // is fetched once more afterwards (dropping it would leave the page one state behind).
    function refresh() {
      if (pending) { stale = true; return; }
      pending = true;
      stale = false;
      fetch(url, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          // Server-rendered and escaped by the template: the one place HTML goes in.
          if (html !== null) { el.innerHTML = html; replay(); }
        })
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
        var data = null;
        try { data = JSON.parse(msg.data); } catch (e) { /* not JSON: treat as "changed" */ }
        if (data && data.event === "seat.progress" && data.payload) {
          progress[data.payload.seat] = data.payload;
          showProgress(data.payload);
          el.setAttribute("data-last-event", "seat.progress");
          return;
        }
        refresh();
        if (data && data.payload) {
          el.setAttribute("data-last-event", data.event + ":" + (data.payload.status || ""));
        }
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
