/* Small progressive enhancements; every page works without this file. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // The basket: the stocks ticked on the All-stocks page, kept in sessionStorage (per tab, survives
  // searches, page changes and reloads) until the trader clears it or analyses it.
  var BASKET_KEY = "thetool.basket";

  function readBasket() {
    try {
      var saved = JSON.parse(window.sessionStorage.getItem(BASKET_KEY) || "[]");
      return Array.isArray(saved) ? saved.filter(function (s) { return typeof s === "string"; }) : [];
    } catch (error) {
      return [];  // storage disabled or corrupt: behave like an empty basket
    }
  }

  function writeBasket(symbols) {
    try {
      if (symbols.length) window.sessionStorage.setItem(BASKET_KEY, JSON.stringify(symbols));
      else window.sessionStorage.removeItem(BASKET_KEY);
    } catch (error) { /* storage disabled: the ticks on this page still work */ }
  }

  function boxes() {
    return Array.prototype.slice.call(document.querySelectorAll('#stock-table input[name="symbols"]'));
  }

  function hasBasket() {
    return document.getElementById("basket") !== null;
  }

  // Tick the visible boxes that are in the basket (after a load, a search or a page change).
  function restoreTicks() {
    if (!hasBasket()) return;
    var basket = readBasket();
    boxes().forEach(function (b) { b.checked = basket.indexOf(b.value) !== -1; });
  }

  function rememberTick(box) {
    var basket = readBasket().filter(function (s) { return s !== box.value; });
    if (box.checked) basket.push(box.value);
    writeBasket(basket);
  }

  // "Analyze Selected (2)" and "2 stocks selected": say how many stocks the button will send.
  function updateCount() {
    var ticked = boxes().filter(function (b) { return b.checked; }).length;
    var count = hasBasket() ? readBasket().length : ticked;
    var label = document.querySelector("#analyze-selected .selected-count");
    if (label) label.textContent = count ? "(" + count + ")" : "";
    var basket = document.getElementById("basket");
    if (basket) {
      basket.hidden = count === 0;
      document.getElementById("basket-count").textContent =
        count + (count === 1 ? " stock selected" : " stocks selected") + " (kept across searches and pages)";
    }
    var all = document.getElementById("select-all");
    if (all) {
      all.hidden = false;
      all.checked = ticked > 0 && ticked === boxes().length;
    }
  }

  // Analyze Selected sends the whole basket, including stocks not on the page being shown.
  function addBasketToForm(form) {
    var holder = document.getElementById("basket-inputs");
    if (!holder) return;
    holder.textContent = "";
    var shown = boxes().map(function (b) { return b.value; });
    readBasket().forEach(function (symbol) {
      if (shown.indexOf(symbol) !== -1) return;  // its checkbox is sent already
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = "symbols";
      input.value = symbol;
      holder.appendChild(input);
    });
  }

  // "Add to watchlist" sends the whole basket (the checkboxes belong to the Analyze form).
  document.addEventListener("submit", function (event) {
    if (event.target.id !== "watchlist-add-form") return;
    var holder = document.getElementById("watchlist-add-inputs");
    holder.textContent = "";
    readBasket().forEach(function (symbol) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = "symbols";
      input.value = symbol;
      holder.appendChild(input);
    });
  });

  // Show only the chosen strategy's description (all of them show without JavaScript), and show
  // the table's verdicts for that strategy: the table and the Analyze form never disagree.
  function showStrategy() {
    var select = document.getElementById("strategy-select");
    if (!select) return;
    document.querySelectorAll("#strategy-notes li").forEach(function (li) {
      li.classList.toggle("current", li.dataset.strategy === select.value);
    });
  }

  function followTableStrategy() {
    var table = document.getElementById("stock-table");
    var select = document.getElementById("strategy-select");
    var hidden = document.getElementById("filter-strategy");
    if (!table || !select) return;
    select.value = table.dataset.strategy;
    if (hidden) hidden.value = table.dataset.strategy;
    showStrategy();
  }

  function reloadTableForStrategy(strategy) {
    var hidden = document.getElementById("filter-strategy");
    if (!hidden || hidden.value === strategy) return;
    hidden.value = strategy;
    hidden.form.requestSubmit();  // htmx swaps the table and pushes the URL
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.id === "select-all") {
      boxes().forEach(function (b) { b.checked = target.checked; rememberTick(b); });
    } else if (target.matches && target.matches('#stock-table input[name="symbols"]') && hasBasket()) {
      rememberTick(target);
    }
    if (target.id === "strategy-select") {
      showStrategy();
      reloadTableForStrategy(target.value);
    }
    updateCount();
  });

  document.addEventListener("click", function (event) {
    if (event.target.id !== "basket-clear") return;
    writeBasket([]);
    restoreTicks();
    updateCount();
  });

  var basketSent = false;
  var statusBefore = null;

  // Capture phase: runs before htmx reads the form, and before a plain submit.
  document.addEventListener("submit", function (event) {
    if (event.target.id !== "analyze-form") return;
    var button = event.submitter;
    basketSent = Boolean(button && button.value === "selected" && hasBasket());
    if (basketSent) addBasketToForm(event.target);
    statusBefore = document.getElementById("analysis-status");
  }, true);

  // A job started from the basket empties it (the answer then holds a progress bar); an answer
  // without a job (an error message) keeps it, so nothing ticked is lost.
  // htmx replaces #analysis-status with the answer, so a new element means the answer arrived.
  document.addEventListener("htmx:afterSettle", function () {
    var status = document.getElementById("analysis-status");
    if (!basketSent || !status || status === statusBefore) return;
    basketSent = false;
    if (status.querySelector("#job-progress")) {
      writeBasket([]);
      restoreTicks();
      updateCount();
    }
  });

  // The alert form shows only the fields its choices use: a stock or list to name (not for "All
  // stocks"), a threshold for the score trigger, an email address or a webhook URL by channel.
  function showSubscriptionFields() {
    var form = document.getElementById("subscribe-form");
    if (!form) return;
    var value = function (name) { return form.elements[name] ? form.elements[name].value : ""; };
    var shown = {
      target_ref: value("target_kind") !== "all",
      threshold: value("trigger") === "score",
      email: value("channel") === "email",
      webhook_url: value("channel") === "webhook"
    };
    Object.keys(shown).forEach(function (name) {
      var field = form.querySelector('[data-field="' + name + '"]');
      if (field) field.hidden = !shown[name];
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.form && event.target.form.id === "subscribe-form") showSubscriptionFields();
  });

  document.addEventListener("DOMContentLoaded", function () {
    showSubscriptionFields();
    restoreTicks();
    updateCount();
    followTableStrategy();
  });
  document.addEventListener("htmx:afterSettle", function () {
    restoreTicks();
    updateCount();
    followTableStrategy();
  });
})();
