// keyward console: the desk's readers and batches, live (docs/console.md).
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

// The desk's batch preparation, live: each "batch" event of the batch's
// stream fetches its lines rendered by the server and puts them in place;
// once the batch has ended the stream is closed.
(function () {
  "use strict";
  var live = document.getElementById("batch-live");
  if (!live || !window.EventSource || !window.fetch) {
    return;
  }
  var busy = false;
  var again = false;
  var source = null;
  function ended() {
    var state = document.getElementById("batch-state");
    return state && state.getAttribute("data-running") === "no";
  }
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
          if (ended() && source) {
            source.close();
            live.setAttribute("data-live", "ended");
          }
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
  if (ended()) {
    return;
  }
  source = new EventSource(live.getAttribute("data-events"));
  source.addEventListener("batch", refresh);
  source.addEventListener("open", function () {
    live.setAttribute("data-live", "on");
    refresh();
  });
})();
