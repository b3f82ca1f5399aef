/* The stock page's chart: candles with volume, EMA 50/200, Bollinger Bands and the trade levels, then
   RSI and MACD in their own panes. Range buttons (3M, 6M, 1Y, All), overlay toggles and an OHLC readout
   under the pointer. Data comes inline from Django's json_script (#chart-data, #chart-levels). Redrawn
   after htmx swaps the page body (e.g. when an "Analyze now" job finishes). */
(function () {
  "use strict";

  var COLORS = { up: "#16a34a", down: "#dc2626", ema50: "#2563eb", ema200: "#9333ea", band: "#64748b",
    volumeUp: "rgba(22, 163, 74, 0.35)", volumeDown: "rgba(220, 38, 38, 0.35)", rsi: "#7c3aed",
    macd: "#2563eb", signal: "#ea580c" };
  // Trade levels: labels live on the price axis (never over the candles); the time scale keeps empty
  // space at the right so the line titles are drawn beside the last bar, not over it.
  var TITLE_GAP = 16;  // px: two line titles closer than this would overlap
  var LEVELS = { entry: ["#0f172a", "Entry"], stop_loss: ["#dc2626", "Stop"], target: ["#15803d", "Target"] };

  function points(data, key) {
    var out = [];
    for (var i = 0; i < data.time.length; i++) {
      var value = data[key] ? data[key][i] : null;
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

  function volumes(data) {
    var out = [];
    for (var i = 0; i < data.time.length; i++) {
      if (data.volume[i] === null || data.close[i] === null) continue;
      var up = data.close[i] >= data.open[i];
      out.push({ time: data.time[i], value: data.volume[i], color: up ? COLORS.volumeUp : COLORS.volumeDown });
    }
    return out;
  }

  function histogram(data, key) {
    return points(data, key).map(function (p) {
      return { time: p.time, value: p.value, color: p.value >= 0 ? COLORS.volumeUp : COLORS.volumeDown };
    });
  }

  function line(chart, data, key, color, width, style, pane) {
    var series = chart.addSeries(LightweightCharts.LineSeries, {
      color: color, lineWidth: width, lineStyle: style || 0,
      priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false,
    }, pane || 0);
    series.setData(points(data, key));
    return series;
  }

  function abbreviate(value) {
    var sizes = [[1e9, "B"], [1e6, "M"], [1e3, "K"]];
    for (var i = 0; i < sizes.length; i++) {
      if (Math.abs(value) >= sizes[i][0]) return (value / sizes[i][0]).toFixed(1) + sizes[i][1];
    }
    return String(Math.round(value));
  }

  function readout(node, data, time) {
    var i = data.time.indexOf(time);
    if (i < 0) return;
    var fmt = function (v) { return v === null ? "—" : v.toFixed(2); };
    node.textContent = data.time[i] + "  O " + fmt(data.open[i]) + "  H " + fmt(data.high[i]) + "  L " +
      fmt(data.low[i]) + "  C " + fmt(data.close[i]) + "  Vol " + (data.volume[i] === null ? "—" : abbreviate(data.volume[i])) +
      (data.rsi[i] === null ? "" : "  RSI " + data.rsi[i].toFixed(1));
  }

  function showRange(chart, data, range) {
    var bars = data.time.length;
    var from = range === "all" ? 0 : Math.max(0, bars - Number(range));
    chart.timeScale().setVisibleLogicalRange({ from: from, to: bars - 1 + 8 });
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
      layout: { background: { color: "#ffffff" }, textColor: "#334155", attributionLogo: false },
      grid: { vertLines: { color: "#eef2f7" }, horzLines: { color: "#eef2f7" } },
      rightPriceScale: { borderColor: "#cbd5e1", alignLabels: true },
      timeScale: { borderColor: "#cbd5e1", rightOffset: 8 },
    });
    var price = chart.addSeries(LightweightCharts.CandlestickSeries, {
      upColor: COLORS.up, downColor: COLORS.down, borderVisible: false,
      wickUpColor: COLORS.up, wickDownColor: COLORS.down,
    });
    price.setData(candles(data));
    var volume = chart.addSeries(LightweightCharts.HistogramSeries, {
      priceFormat: { type: "volume" }, priceScaleId: "volume", lastValueVisible: false, priceLineVisible: false,
    });
    volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    volume.setData(volumes(data));
    var overlays = {
      ema50: [line(chart, data, "ema50", COLORS.ema50, 2)],
      ema200: [line(chart, data, "ema200", COLORS.ema200, 2)],
      bb: ["bb_upper", "bb_middle", "bb_lower"].map(function (key) { return line(chart, data, key, COLORS.band, 1, 2); }),
      volume: [volume],
    };

    var rsi = line(chart, data, "rsi", COLORS.rsi, 1, 0, 1);
    [30, 70].forEach(function (level) {
      rsi.createPriceLine({ price: level, color: "#94a3b8", lineWidth: 1, lineStyle: 2, axisLabelVisible: true, title: "" });
    });
    var hist = chart.addSeries(LightweightCharts.HistogramSeries, { priceLineVisible: false, lastValueVisible: false }, 2);
    hist.setData(histogram(data, "macd_hist"));
    line(chart, data, "macd", COLORS.macd, 1, 0, 2);
    line(chart, data, "macd_signal", COLORS.signal, 1, 0, 2);
    var panes = chart.panes();
    if (panes.length === 3) { panes[0].setStretchFactor(3); panes[1].setStretchFactor(1); panes[2].setStretchFactor(1); }

    // [line, title, price]; entry first, so it keeps its title when two levels are too close to label both.
    var levelLines = [];
    var levelsShown = true;
    Object.keys(LEVELS).forEach(function (key) {
      if (typeof levels[key] !== "number") return;
      var options = { price: levels[key], color: LEVELS[key][0], lineWidth: 1, lineStyle: 1, axisLabelVisible: true, title: LEVELS[key][1] };
      levelLines.push([price.createPriceLine(options), options.title, levels[key]]);
    });
    // The price axis keeps the price labels apart (alignLabels); a title drawn on the line is dropped when it
    // would touch another level's title (the colour-coded axis label and the legend still say which it is).
    function declutterTitles() {
      var placed = [];
      levelLines.forEach(function (level) {
        var y = price.priceToCoordinate(level[2]);
        var clash = y === null || placed.some(function (other) { return Math.abs(other - y) < TITLE_GAP; });
        level[0].applyOptions({ title: levelsShown && !clash ? level[1] : "" });
        if (!clash) placed.push(y);
      });
    }
    overlays.levels = { applyOptions: function (o) {
      levelsShown = o.visible;
      levelLines.forEach(function (level) { level[0].applyOptions({ lineVisible: o.visible, axisLabelVisible: o.visible }); });
      declutterTitles();
    } };
    chart.timeScale().subscribeVisibleLogicalRangeChange(function () { window.requestAnimationFrame(declutterTitles); });

    document.querySelectorAll("[data-overlay]").forEach(function (input) {
      input.addEventListener("change", function () {
        var target = overlays[input.dataset.overlay];
        (Array.isArray(target) ? target : [target]).forEach(function (s) { s.applyOptions({ visible: input.checked }); });
      });
    });
    document.querySelectorAll("[data-range]").forEach(function (button) {
      button.addEventListener("click", function () {
        document.querySelectorAll("[data-range]").forEach(function (b) { b.setAttribute("aria-pressed", String(b === button)); });
        showRange(chart, data, button.dataset.range);
      });
    });
    var readoutNode = document.getElementById("ohlc-readout");
    if (readoutNode) {
      chart.subscribeCrosshairMove(function (param) {
        if (param && param.time) readout(readoutNode, data, param.time);
      });
      readout(readoutNode, data, data.time[data.time.length - 1]);
    }
    showRange(chart, data, "252");
    box.chart = chart;  // for the browser tests
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
