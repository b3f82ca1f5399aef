// Draws the operations dashboard's charts from the JSON the page embeds (no extra request).
(function () {
  "use strict";

  function draw(boxId, data, seriesSpecs) {
    var box = document.getElementById(boxId);
    if (!box || typeof LightweightCharts === "undefined") return;
    var chart = LightweightCharts.createChart(box, {
      height: 260,
      layout: { attributionLogo: false },
      timeScale: { timeVisible: data.unit === "hour", secondsVisible: false },
      rightPriceScale: { borderVisible: false },
    });
    seriesSpecs.forEach(function (spec) {
      var series = chart.addSeries(LightweightCharts[spec.kind], { color: spec.color, title: spec.title, priceFormat: { type: "volume" } });
      series.setData(data.series.map(function (point) {
        // The library draws UTC; shifting by the page's offset shows Asia/Kolkata hours.
        return { time: point.time + data.tz_offset_seconds, value: point[spec.field] };
      }));
    });
    chart.timeScale().fitContent();
  }

  function start() {
    var source = document.getElementById("ops-dashboard-data");
    if (!source) return;
    var data = JSON.parse(source.textContent);
    draw("chart-requests", data, [
      { kind: "HistogramSeries", field: "duplicates", color: "#f59e0b", title: "duplicates" },
      { kind: "LineSeries", field: "created", color: "#1d4ed8", title: "created" },
    ]);
    draw("chart-outcomes", data, [
      { kind: "LineSeries", field: "completed", color: "#15803d", title: "completed" },
      { kind: "LineSeries", field: "failed", color: "#b91c1c", title: "failed" },
      { kind: "LineSeries", field: "forced", color: "#7c3aed", title: "forced" },
    ]);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
