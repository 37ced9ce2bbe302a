// Live campaign progress: polls the JSON next to the page while a run goes on, and reloads the page once
// the run stops (so its buttons match the new state). Without JavaScript the page shows the same numbers
// as of its loading (reload to refresh).
(function () {
  "use strict";
  var boxes = document.querySelectorAll("[data-progress-url]");
  if (!boxes.length) { return; }
  function paint(box, p) {
    var cells = box.querySelectorAll("[data-figure]");
    for (var i = 0; i < cells.length; i++) {
      var key = cells[i].getAttribute("data-figure");
      if (Object.prototype.hasOwnProperty.call(p, key)) {
        cells[i].textContent = String(p[key]);
      }
    }
    var bar = box.querySelector("progress");
    if (bar) { bar.value = p.pct_done; }
    box.setAttribute("data-status", p.status);
  }
  function poll(box) {
    var req = new XMLHttpRequest();
    req.open("GET", box.getAttribute("data-progress-url"));
    req.setRequestHeader("Accept", "application/json");
    req.onload = function () {
      if (req.status !== 200) { return; }
      var p = JSON.parse(req.responseText);
      paint(box, p);
      if (p.status === "running") {
        window.setTimeout(function () { poll(box); }, 2000);
      } else {
        window.location.reload();
      }
    };
    req.send();
  }
  for (var i = 0; i < boxes.length; i++) {
    if (boxes[i].getAttribute("data-status") === "running") { poll(boxes[i]); }
  }
}());
