// The agent page's training section (templates/learning/_training_section.html).
//
// Live: one websocket per agent (the section's data-training-ws, group agent_<id>: its owner's
// only). Every event (training.progress, training.finished) asks htmx to re-fetch the section
// (its hx-trigger "live"). While a job or gate runs the section also polls (its "every 4s"
// trigger asks arenaTraining.due): every 4 s while the socket is down, and every 10 s while it
// is up, for what sends no event (a failed job, a gate's result).
//
// Curves: each canvas[data-chart] draws one series of the job's metrics, embedded with
// json_script, with chart.js (from npm, served as a static file; the page says so when it is
// missing). The section's HTML is swapped on each refresh, and this script comes
// with it: it sets itself up once and then only scans the new content.
(function () {
  "use strict";
  if (window.arenaTraining) {
    window.arenaTraining.scan(document);
    return;
  }
  var QUIET_POLL_MS = 10000;
  var sockets = {}; // ws path -> {connected, lastEvent}
  var chartState = "idle"; // idle | loading | ready | missing
  var chartWaiters = [];

  function sectionFor(path) {
    return document.querySelector('[data-training-ws="' + path + '"]');
  }

  function connect(path) {
    var state = sockets[path];
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + path);
    socket.onopen = function () {
      state.connected = true;
      state.delay = 1000;
      state.lastEvent = Date.now();
      var el = sectionFor(path);
      if (el) el.setAttribute("data-live-connected", "true");
    };
    socket.onmessage = function (msg) {
      state.lastEvent = Date.now();
      var el = sectionFor(path);
      if (!el) return;
      try {
        var data = JSON.parse(msg.data);
        el.setAttribute("data-last-event", data.event);
      } catch (e) { /* not JSON: still a reason to refresh */ }
      if (window.htmx) window.htmx.trigger(el, "live");
    };
    socket.onclose = function () {
      state.connected = false;
      var el = sectionFor(path);
      if (el) el.setAttribute("data-live-connected", "false");
      if (!sectionFor(path)) { delete sockets[path]; return; } // the page moved on
      setTimeout(function () { connect(path); }, state.delay);
      state.delay = Math.min(state.delay * 2, 30000);
    };
  }

  function follow(el) {
    var path = el.getAttribute("data-training-ws");
    if (!path) return;
    if (!sockets[path]) {
      sockets[path] = { connected: false, lastEvent: 0, delay: 1000 };
      connect(path);
    }
    el.setAttribute("data-live-connected", sockets[path].connected ? "true" : "false");
  }

  // The polling filter: only while something runs; less often while events arrive.
  function due(el) {
    if (!el.hasAttribute("data-training-active")) return false;
    var state = sockets[el.getAttribute("data-training-ws")];
    if (!state || !state.connected) return true;
    return Date.now() - state.lastEvent >= QUIET_POLL_MS;
  }

  function withChartJs(src, done) {
    if (window.Chart) { done(true); return; }
    if (chartState === "missing" || !src) { done(false); return; }
    chartWaiters.push(done);
    if (chartState === "loading") return;
    chartState = "loading";
    var script = document.createElement("script");
    script.src = src;
    function finish() {
      chartState = window.Chart ? "ready" : "missing";
      var waiters = chartWaiters;
      chartWaiters = [];
      waiters.forEach(function (w) { w(!!window.Chart); });
    }
    script.onload = finish;
    script.onerror = finish;
    document.head.appendChild(script);
  }

  function seriesOf(canvas) {
    var holder = document.getElementById(canvas.getAttribute("data-chart"));
    if (!holder) return null;
    var data = JSON.parse(holder.textContent);
    return { steps: data.steps, values: data[canvas.getAttribute("data-series")] || [] };
  }

  function drawWithChartJs(canvas, series) {
    var color = canvas.getAttribute("data-series") === "loss" ? "#6ea8ff" : "#3ecf8e";
    new window.Chart(canvas, {
      type: "line",
      data: {
        labels: series.steps,
        datasets: [{
          label: canvas.getAttribute("data-label"),
          data: series.values,
          borderColor: color,
          backgroundColor: color,
          pointRadius: series.values.length > 40 ? 0 : 2,
          tension: 0.2,
          spanGaps: true
        }]
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: {
          x: { title: { display: true, text: "step", color: "#8b93ad" }, ticks: { color: "#8b93ad" } },
          y: { ticks: { color: "#8b93ad" } }
        }
      }
    });
  }

  function drawCharts(root) {
    var canvases = Array.prototype.slice.call(root.querySelectorAll("canvas[data-chart]"))
      .filter(function (c) { return !c.hasAttribute("data-drawn"); });
    if (!canvases.length) return;
    canvases.forEach(function (c) { c.setAttribute("data-drawn", "pending"); });
    var section = canvases[0].closest("[data-chartjs-src]");
    withChartJs(section && section.getAttribute("data-chartjs-src"), function (haveChartJs) {
      canvases.forEach(function (canvas) {
        if (!canvas.isConnected) return;
        var series = seriesOf(canvas);
        if (!series) return;
        if (haveChartJs) {
          drawWithChartJs(canvas, series);
          canvas.setAttribute("data-drawn", "chart.js");
        } else {
          // chart.js did not load (the static file is missing): say so rather than draw badly
          canvas.setAttribute("data-drawn", "unavailable");
          canvas.insertAdjacentText("afterend", "Chart unavailable: chart.js did not load.");
        }
      });
    });
  }

  function scan(root) {
    var scope = root.querySelectorAll ? root : document;
    if (scope.matches && scope.matches("[data-training-ws]")) follow(scope);
    scope.querySelectorAll("[data-training-ws]").forEach(follow);
    drawCharts(scope);
  }

  window.arenaTraining = { due: due, scan: scan };
  if (window.htmx) window.htmx.onLoad(scan);
  scan(document);
})();
