// Draws the dashboard's charts from the JSON block the page carries (the CSP forbids inline
// scripts): Chart.js, vendored under /static/vendor/chart.js-4.4.7/.
(function () {
  "use strict";
  function draw() {
    var block = document.getElementById("chart-data");
    if (!block || typeof window.Chart === "undefined") { return; }
    var data = JSON.parse(block.textContent);
    var colours = ["#1f5fa8", "#2e7d32", "#b35900"];
    var volume = document.getElementById("volume-chart");
    if (volume) {
      new window.Chart(volume, {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: data.series.map(function (s, i) {
            return { label: s.label, data: s.data, backgroundColor: colours[i % colours.length] };
          })
        },
        options: { responsive: true, maintainAspectRatio: false, animation: false }
      });
    }
    var compliance = document.getElementById("compliance-chart");
    if (compliance) {
      new window.Chart(compliance, {
        type: "line",
        data: {
          labels: data.labels,
          datasets: [{ label: data.compliance.label, data: data.compliance.data, borderColor: "#1f5fa8", spanGaps: true }]
        },
        options: {
          responsive: true, maintainAspectRatio: false, animation: false,
          scales: { y: { min: 0, max: 100 } }
        }
      });
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
