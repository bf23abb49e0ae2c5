// Result page: confirm a delete; follow a running analysis until it finishes; let faces, heat
// maps and chart points seek the video; enlarge heat maps in a dialog.
(function () {
  "use strict";
  var deleteForm = document.getElementById("delete-form");
  if (deleteForm) {
    deleteForm.addEventListener("submit", function (event) {
      if (!window.confirm(deleteForm.dataset.confirm)) event.preventDefault();
    });
  }

  var player = document.getElementById("player");
  function seek(seconds) {
    if (!player || isNaN(seconds)) return;
    player.pause();
    player.currentTime = seconds;
    player.scrollIntoView({block: "nearest"});
  }
  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-seek]");
    if (target) seek(parseFloat(target.dataset.seek));
  });

  var dialog = document.getElementById("heatmap-dialog");
  if (dialog) {
    var opener = null;
    document.querySelectorAll(".heatmap__open").forEach(function (button) {
      button.addEventListener("click", function () {
        opener = button;
        document.getElementById("heatmap-dialog-face").src = button.dataset.face;
        document.getElementById("heatmap-dialog-heatmap").src = button.dataset.heatmap;
        document.getElementById("heatmap-dialog-caption").textContent = button.dataset.caption;
        document.getElementById("heatmap-dialog-seek").dataset.seconds = button.dataset.seconds;
        dialog.showModal();
      });
    });
    document.getElementById("heatmap-dialog-seek").addEventListener("click", function (event) {
      dialog.close();
      seek(parseFloat(event.currentTarget.dataset.seconds));
    });
    // Back to where the person was: the button that opened it.
    dialog.addEventListener("close", function () { if (opener) opener.focus(); });
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
