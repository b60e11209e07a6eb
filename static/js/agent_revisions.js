// The agent page's rating charts (templates/arena/agent_detail.html, section "Revisions").
//
// The data comes embedded with json_script (#rating-charts): per space, the agent's rating
// after each settled match (mu and the mu ± 2 sigma band) and where each revision first played.
// chart.js comes from npm as a static file (the script tag's data-chartjs-src) and is loaded
// only when a chart is on the page; without it the page says so and the table stays the record.
(function () {
  "use strict";
  var script = document.currentScript;

  function loadChartJs(src, done) {
    if (window.Chart) { done(true); return; }
    if (!src) { done(false); return; }
    var tag = document.createElement("script");
    tag.src = src;
    tag.onload = function () { done(!!window.Chart); };
    tag.onerror = function () { done(false); };
    document.head.appendChild(tag);
  }

  // Dashed vertical lines where a new revision first played, labelled "r2", "r3"...
  var revisionMarkers = {
    id: "revisionMarkers",
    afterDatasetsDraw: function (chart, _args, options) {
      var marks = options.boundaries || [];
      var x = chart.scales.x;
      var area = chart.chartArea;
      var ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = "#8b93ad";
      ctx.fillStyle = "#e7eaf3";
      ctx.setLineDash([4, 4]);
      ctx.font = "12px system-ui, sans-serif";
      marks.forEach(function (mark) {
        var px = x.getPixelForValue(mark.index);
        ctx.beginPath();
        ctx.moveTo(px, area.top);
        ctx.lineTo(px, area.bottom);
        ctx.stroke();
        ctx.fillText(mark.label, Math.min(px + 3, area.right - 24), area.top + 12);
      });
      ctx.restore();
    },
  };

  function draw(canvas, data) {
    var labels = data.points.map(function (p) { return "#" + p.match; });
    var series = function (key) { return data.points.map(function (p) { return p[key]; }); };
    canvas.chart = new window.Chart(canvas, {
      type: "line",
      data: {
        labels: labels,
        datasets: [
          { label: "mu + 2σ", data: series("high"), borderWidth: 0, pointRadius: 0,
            backgroundColor: "rgba(110, 168, 255, 0.18)", fill: false },
          { label: "mu − 2σ", data: series("low"), borderWidth: 0, pointRadius: 0,
            backgroundColor: "rgba(110, 168, 255, 0.18)", fill: "-1" },
          { label: "rating (mu)", data: series("mu"), borderColor: "#6ea8ff",
            backgroundColor: "#6ea8ff", pointRadius: 3, fill: false, tension: 0.1 },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        color: "#e7eaf3",
        scales: {
          x: { title: { display: true, text: "match", color: "#8b93ad" },
               ticks: { color: "#8b93ad" }, grid: { color: "#242a40" } },
          y: { title: { display: true, text: "rating", color: "#8b93ad" },
               ticks: { color: "#8b93ad" }, grid: { color: "#242a40" } },
        },
        plugins: {
          legend: { labels: { color: "#e7eaf3", filter: function (item) { return item.datasetIndex !== 0; } } },
          tooltip: {
            callbacks: {
              afterTitle: function (items) {
                var point = data.points[items[0].dataIndex];
                return point.revision ? "revision r" + point.revision : "revision unrecorded";
              },
            },
          },
          revisionMarkers: { boundaries: data.boundaries.slice(1) },
        },
      },
      plugins: [revisionMarkers],
    });
    canvas.setAttribute("data-drawn", "true");
  }

  function start() {
    var holder = document.getElementById("rating-charts");
    var canvases = document.querySelectorAll("canvas[data-rating-chart]");
    if (!holder || !canvases.length) return;
    var charts = JSON.parse(holder.textContent);
    loadChartJs(script && script.getAttribute("data-chartjs-src"), function (ok) {
      canvases.forEach(function (canvas) {
        var data = charts[Number(canvas.getAttribute("data-rating-chart"))];
        if (!ok) {
          var note = canvas.closest("figure").querySelector(".chart-missing");
          if (note) note.hidden = false;
          canvas.setAttribute("data-drawn", "missing");
          return;
        }
        if (data && data.points.length) draw(canvas, data);
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
