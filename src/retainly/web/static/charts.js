// Draws every chart of the page: each <script type="application/json" class="chart-figure"
// data-target="ID"> holds a Plotly figure for the element with that id (retainly.web.charts).
(function () {
  "use strict";
  function draw() {
    document.querySelectorAll("script.chart-figure").forEach(function (block) {
      var figure = JSON.parse(block.textContent);
      var target = document.getElementById(block.dataset.target);
      Plotly.newPlot(target, figure.data, figure.layout, {displayModeBar: false, responsive: true});
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
