// keyward console: the desk's readers, live (docs/console.md).
// Progressive enhancement: without this script the desk page works and is
// refreshed by hand. With it, each device or token event of /desk/events
// (server-sent events) fetches the readers' table rendered by the server
// (/desk/readers) and puts it in place. No inline script, nothing external.
(function () {
  "use strict";
  var live = document.getElementById("readers-live");
  if (!live || !window.EventSource || !window.fetch) {
    return;
  }
  var busy = false;
  var again = false;
  function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    fetch(live.getAttribute("data-fragment"), { credentials: "same-origin" })
      .then(function (answer) {
        return answer.ok ? answer.text() : null;
      })
      .then(function (text) {
        if (text !== null) {
          live.innerHTML = text;
          live.setAttribute("data-updates", String(Number(live.getAttribute("data-updates") || "0") + 1));
        }
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }
  var source = new EventSource(live.getAttribute("data-events"));
  source.addEventListener("device", refresh);
  source.addEventListener("token", refresh);
  source.addEventListener("open", function () {
    live.setAttribute("data-live", "on");
  });
})();
