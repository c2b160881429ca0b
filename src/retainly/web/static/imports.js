// The import job page (retainly.web.pages_imports): reloads itself while the job is queued or
// running; the server leaves this script off the page once the job has finished.
(function () {
  "use strict";
  var job = document.querySelector("dl.job");
  if (job && (job.dataset.state === "queued" || job.dataset.state === "running")) {
    setTimeout(function () { window.location.reload(); }, 1000);
  }
})();
