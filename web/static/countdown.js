/* Live SLA countdowns: every [data-countdown] ticks each second towards its deadline (the
   instant its clock breaches if it keeps running), turns amber once its warning instant has
   passed and red once the deadline has, then counts the overdue time up. The server renders
   the business time left; this shows the clock time until the deadline. */
(function () {
  "use strict";
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function span(ms, units) {
    var s = Math.floor(Math.abs(ms) / 1000);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return (h ? h + units[0] + " " : "") + pad(m) + units[1] + " " + pad(sec) + units[2];
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var ticker = el.querySelector(".ticker");
      var due = Date.parse(el.dataset.deadline);
      if (!ticker || isNaN(due)) { return; }
      var units = (el.dataset.units || "h min s").split(" ");
      var left = due - now;
      if (left >= 0) {
        ticker.textContent = el.dataset.left.replace("%(time)s", span(left, units));
        var warn = el.dataset.warn ? Date.parse(el.dataset.warn) : NaN;
        if (!isNaN(warn) && now >= warn) { el.classList.add("warning"); }
      } else {
        el.classList.remove("warning");
        el.classList.add("breached");
        ticker.textContent = el.dataset.over.replace("%(time)s", span(left, units));
      }
    });
  }
  tick();
  setInterval(tick, 1000);
})();
