// Live updates: on each change the server announces over /events, fetch
// this page's live part again and put it in place (debounced). A task page
// listens only to its own task. No framework, no inline script (CSP).
(function () {
  "use strict";
  var main = document.getElementById("live");
  if (!main || !window.EventSource) { return; }
  var task = main.getAttribute("data-task") || "";
  var timer = null;
  function refresh() {
    timer = null;
    fetch(location.href, { headers: { "X-Live": "1" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(new Error("HTTP " + r.status)); })
      .then(function (html) {
        main.innerHTML = html; // rendered and escaped by the server's templates
        main.setAttribute("data-updated", String(Date.now()));
      })
      .catch(function () { /* the next change tries again */ });
  }
  var es = new EventSource(main.getAttribute("data-events"));
  es.addEventListener("open", function () { document.body.setAttribute("data-live", "open"); });
  es.addEventListener("error", function () { document.body.setAttribute("data-live", "reconnecting"); });
  es.addEventListener("change", function (e) {
    if (task) {
      var c = JSON.parse(e.data);
      if (c.project + "/" + c.task !== task) { return; }
    }
    if (!timer) { timer = setTimeout(refresh, 500); }
  });
})();
