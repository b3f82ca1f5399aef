/* Small progressive enhancements; every page works without this file. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function boxes() {
    return Array.prototype.slice.call(document.querySelectorAll('#stock-table input[name="symbols"]'));
  }

  // "Analyze Selected (2)": say how many stocks the button will send.
  function updateCount() {
    var count = boxes().filter(function (b) { return b.checked; }).length;
    var label = document.querySelector("#analyze-selected .selected-count");
    if (label) label.textContent = count ? "(" + count + ")" : "";
    var all = document.getElementById("select-all");
    if (all) {
      all.hidden = false;
      all.checked = count > 0 && count === boxes().length;
    }
  }

  // Show only the chosen strategy's description (all of them show without JavaScript).
  function showStrategy() {
    var select = document.getElementById("strategy-select");
    if (!select) return;
    document.querySelectorAll("#strategy-notes li").forEach(function (li) {
      li.classList.toggle("current", li.dataset.strategy === select.value);
    });
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.id === "select-all") {
      boxes().forEach(function (b) { b.checked = target.checked; });
    }
    if (target.id === "strategy-select") showStrategy();
    updateCount();
  });
  document.addEventListener("DOMContentLoaded", function () { updateCount(); showStrategy(); });
  document.addEventListener("htmx:afterSettle", updateCount);
})();
