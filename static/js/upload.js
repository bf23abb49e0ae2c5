// Upload with a real progress bar (XMLHttpRequest reports upload progress; fetch does not).
// Without JavaScript the form still posts normally.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form) return;
  var input = form.querySelector("input[type=file]");
  var zone = document.getElementById("dropzone");
  var fileLabel = document.getElementById("dropzone-file");
  var progress = document.getElementById("upload-progress");
  var bar = document.getElementById("upload-progress-bar");
  var label = document.getElementById("upload-progress-label");
  var submit = document.getElementById("upload-submit");

  var link = form.querySelector("input[name=url]");

  function showFile() {
    var files = Array.prototype.slice.call(input.files || []);
    var megabytes = files.reduce(function (sum, file) { return sum + file.size; }, 0) / 1048576;
    var names = files.map(function (file) { return file.name; }).join(", ");
    fileLabel.textContent = !files.length ? "" : files.length === 1 ? names + " (" + megabytes.toFixed(1) + " MB)"
      : files.length + " videos, sent as one batch: " + names + " (" + megabytes.toFixed(1) + " MB in all)";
    zone.classList.toggle("dropzone--chosen", files.length > 0);
  }
  input.addEventListener("change", showFile);
  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (event) { event.preventDefault(); zone.classList.add("dropzone--over"); });
  });
  ["dragleave", "drop"].forEach(function (type) {
    zone.addEventListener(type, function () { zone.classList.remove("dropzone--over"); });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    clearErrors();
    // Every dropped file is sent: several make a batch, each analysed on its own.
    if (event.dataTransfer.files.length) { input.files = event.dataTransfer.files; showFile(); }
  });

  function clearErrors() {
    form.querySelectorAll("[data-errors-for]").forEach(function (el) { el.textContent = ""; });
    form.querySelectorAll(".field--error").forEach(function (el) { el.classList.remove("field--error"); });
  }
  function showErrors(errors) {
    Object.keys(errors).forEach(function (field) {
      var target = form.querySelector('[data-errors-for="' + field + '"]') || form.querySelector('[data-errors-for="file"]');
      target.textContent = errors[field].join(" ");
      target.closest(".field").classList.add("field--error");
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearErrors();
    if ((!input.files || !input.files.length) && !(link && link.value.trim())) {
      showErrors({file: ["Choose a video to upload, or give a link."]}); return;
    }
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action || window.location.href);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      var pct = Math.round(100 * e.loaded / e.total);
      bar.style.width = pct + "%";
      label.textContent = pct < 100 ? "Uploading… " + pct + "%" : "Checking the video…";
    });
    xhr.addEventListener("load", function () {
      var data = {};
      try { data = JSON.parse(xhr.responseText); } catch (e) { /* not JSON: server error page */ }
      if (xhr.status === 201 && data.url) { window.location.assign(data.url); return; }
      // A batch none of whose files was accepted: fields "file.0", "url.0", ... go under their input.
      if (data.error && data.error.fields) {
        var byInput = {};
        Object.keys(data.error.fields).forEach(function (key) {
          var name = key.split(".")[0];
          byInput[name] = (byInput[name] || []).concat(data.error.fields[key]);
        });
        data.error.fields = byInput;
      }
      progress.hidden = true; submit.disabled = false;
      // The one error shape: {"error": {"message": ..., "fields": {field: [messages]}}}.
      var error = data.error || {};
      var fields = error.fields && Object.keys(error.fields).length ? error.fields : null;
      showErrors(fields || {file: [error.message || "The upload failed (HTTP " + xhr.status + "). Try again."]});
    });
    xhr.addEventListener("error", function () {
      progress.hidden = true; submit.disabled = false;
      showErrors({file: ["The connection was lost during the upload. Try again."]});
    });
    progress.hidden = false; submit.disabled = true;
    bar.style.width = "0%"; label.textContent = "Uploading… 0%";
    xhr.send(new FormData(form));
  });
})();
