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
  var delay = 1000;
  function poll() {
    fetch(live.dataset.statusUrl, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) { if (!response.ok) throw new Error(response.status); return response.json(); })
      .then(function (data) {
        if (data.finished) { window.location.reload(); return; }
        bar.style.width = data.progress + "%";
        progress.textContent = data.progress;
        stage.textContent = data.stage || data.status;
        noWorker.hidden = !data.no_worker;
        delay = 1000;
        setTimeout(poll, delay);
      })
      .catch(function () { delay = Math.min(delay * 2, 15000); setTimeout(poll, delay); });
  }
  setTimeout(poll, delay);
})();
