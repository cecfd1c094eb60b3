// dmn-monitor console: follow the progress of long work (the only script of the console).
// Every element with data-task="<id>" polls /tasks/<id> and shows its progress; when
// the task is done it shows the result and, if the result names a page, opens it.
"use strict";
(function () {
  function follow(box) {
    var id = box.getAttribute("data-task");
    var bar = box.querySelector("progress");
    var text = box.querySelector(".task-message");
    var reload = box.querySelector(".task-reload");
    if (reload) { reload.hidden = true; }
    function poll() {
      fetch("/tasks/" + encodeURIComponent(id), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (task) {
          if (task.total > 0) {
            bar.value = Math.round((100 * task.done) / task.total);
          }
          if (task.status === "running") {
            text.textContent = task.message || text.textContent;
            setTimeout(poll, 500);
            return;
          }
          bar.value = task.status === "done" ? 100 : bar.value;
          box.setAttribute("data-status", task.status);
          if (task.status === "failed") {
            text.textContent = (box.getAttribute("data-failed") || "") + " " + (task.error || "");
            return;
          }
          text.textContent = (task.result && task.result.message) || box.getAttribute("data-done") || "";
          if (task.result && typeof task.result.redirect === "string" &&
              task.result.redirect.charAt(0) === "/" && task.result.redirect.charAt(1) !== "/") {
            window.location.assign(task.result.redirect);
          }
        })
        .catch(function () {
          if (reload) { reload.hidden = false; }
        });
    }
    poll();
  }
  document.addEventListener("DOMContentLoaded", function () {
    var boxes = document.querySelectorAll("[data-task]");
    for (var i = 0; i < boxes.length; i++) { follow(boxes[i]); }
  });
})();
