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

  function showFile() {
    var file = input.files && input.files[0];
    fileLabel.textContent = file ? file.name + " (" + (file.size / 1048576).toFixed(1) + " MB)" : "";
    zone.classList.toggle("dropzone--chosen", !!file);
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
    var dropped = event.dataTransfer.files.length;
    clearErrors();
    if (dropped > 1) {
      // The form sends one file; taking one of several silently would analyse a video nobody chose.
      input.value = ""; showFile();
      showErrors({file: ["You dropped " + dropped + " files: we analyse one video at a time. Drop just one."]});
    } else if (dropped) { input.files = event.dataTransfer.files; showFile(); }
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
    if (!input.files || !input.files.length) { showErrors({file: ["Choose a video to upload."]}); return; }
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
