/* The stock page's price chart: candles, EMA 50/200, Bollinger Bands and the trade levels.
   Data comes inline from Django's json_script (#chart-data, #chart-levels). Redrawn after htmx
   swaps the page body (e.g. when an "Analyze now" job finishes). */
(function () {
  "use strict";

  function points(data, key) {
    var out = [];
    for (var i = 0; i < data.time.length; i++) {
      var value = data[key][i];
      if (value !== null && value !== undefined) out.push({ time: data.time[i], value: value });
    }
    return out;
  }

  function candles(data) {
    var out = [];
    for (var i = 0; i < data.time.length; i++) {
      if (data.open[i] === null || data.close[i] === null) continue;
      out.push({ time: data.time[i], open: data.open[i], high: data.high[i], low: data.low[i], close: data.close[i] });
    }
    return out;
  }

  function line(chart, data, key, color, width, style) {
    var series = chart.addSeries(LightweightCharts.LineSeries, {
      color: color, lineWidth: width, lineStyle: style || 0,
      priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false,
    });
    series.setData(points(data, key));
    return series;
  }

  function draw() {
    var box = document.getElementById("price-chart");
    var source = document.getElementById("chart-data");
    if (!box || !source || box.dataset.drawn || typeof LightweightCharts === "undefined") return;
    box.dataset.drawn = "1";
    var data = JSON.parse(source.textContent);
    var levelsNode = document.getElementById("chart-levels");
    var levels = levelsNode ? JSON.parse(levelsNode.textContent) : {};

    var chart = LightweightCharts.createChart(box, {
      autoSize: true,
      layout: { background: { color: "#ffffff" }, textColor: "#334155", attributionLogo: true },
      grid: { vertLines: { color: "#eef2f7" }, horzLines: { color: "#eef2f7" } },
      rightPriceScale: { borderColor: "#cbd5e1" },
      timeScale: { borderColor: "#cbd5e1" },
    });
    var price = chart.addSeries(LightweightCharts.CandlestickSeries, {
      upColor: "#16a34a", downColor: "#dc2626", borderVisible: false,
      wickUpColor: "#16a34a", wickDownColor: "#dc2626",
    });
    price.setData(candles(data));
    line(chart, data, "ema50", "#2563eb", 2);
    line(chart, data, "ema200", "#9333ea", 2);
    line(chart, data, "bb_upper", "#94a3b8", 1, 2);
    line(chart, data, "bb_middle", "#cbd5e1", 1, 2);
    line(chart, data, "bb_lower", "#94a3b8", 1, 2);

    var styles = { entry: ["#0f172a", "Entry"], stop_loss: ["#dc2626", "Stop"], target: ["#16a34a", "Target"] };
    Object.keys(styles).forEach(function (key) {
      if (typeof levels[key] !== "number") return;
      price.createPriceLine({
        price: levels[key], color: styles[key][0], lineWidth: 1, lineStyle: 1,
        axisLabelVisible: true, title: styles[key][1],
      });
    });
    chart.timeScale().fitContent();
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
