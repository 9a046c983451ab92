// Job dashboard: while a job on the page is queued or running, ask /staff/jobs.json for
// progress every few seconds; reload the page when a job's state or place in the queue changes.
(function () {
  "use strict";
  var cards = document.querySelectorAll("li.job[data-state]");
  var watched = Array.prototype.some.call(cards, function (c) {
    return c.dataset.state === "queued" || c.dataset.state === "running";
  });
  if (!watched || !window.fetch) return;
  var list = document.querySelector("[data-jobs-json]");
  if (!list) return;
  var url = list.dataset.jobsJson;
  function tick() {
    fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        var changed = false;
        data.jobs.forEach(function (j) {
          var card = document.getElementById("job-" + j.id);
          if (!card) return;
          if (card.dataset.state !== j.state) changed = true;
          if (card.dataset.place !== undefined && card.dataset.place !== String(j.place || "")) changed = true;
          var bar = card.querySelector("progress"), pct = card.querySelector(".pct");
          if (bar) bar.value = j.progress;
          if (pct) pct.textContent = j.progress + "%";
        });
        if (changed) window.location.reload();
        else window.setTimeout(tick, 3000);
      })
      .catch(function () { window.setTimeout(tick, 10000); });
  }
  window.setTimeout(tick, 3000);
})();
