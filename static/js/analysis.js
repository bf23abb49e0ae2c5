// Result page: poll the status until the analysis finishes, then reload to show it.
(function () {
  "use strict";
  var deleteForm = document.getElementById("delete-form");
  if (deleteForm) {
    deleteForm.addEventListener("submit", function (event) {
      if (!window.confirm(deleteForm.dataset.confirm)) event.preventDefault();
    });
  }
  var live = document.getElementById("live-status");
  if (!live) return;
  var bar = document.getElementById("analysis-progress-bar");
  var stage = document.getElementById("analysis-stage");
  var progress = document.getElementById("analysis-progress");
  var noWorker = document.getElementById("no-worker");
  var heading = document.getElementById("live-heading");
  var track = bar.parentNode;
  var badge = document.querySelector("#status-badge .badge");
  var delay = 1000;
  function poll() {
    fetch(live.dataset.statusUrl, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) { if (!response.ok) throw new Error(response.status); return response.json(); })
      .then(function (data) {
        if (data.finished) { window.location.reload(); return; }
        bar.style.width = data.progress + "%";
        track.setAttribute("aria-valuenow", data.progress);
        progress.textContent = data.progress;
        // Assigning equal text would still make screen readers announce the stage again.
        if (stage.textContent !== data.stage_label) stage.textContent = data.stage_label;
        var title = live.dataset["heading" + (data.status === "queued" ? "Queued" : "Processing")];
        if (heading.textContent !== title) heading.textContent = title;
        if (badge) badge.textContent = data.status_label;
        noWorker.hidden = !data.no_worker;
        delay = 1000;
        setTimeout(poll, delay);
      })
      .catch(function () { delay = Math.min(delay * 2, 15000); setTimeout(poll, delay); });
  }
  setTimeout(poll, delay);
})();
