// keyward console: the desk's readers and batches, live (docs/console.md).
// Progressive enhancement: without this script every page works and is
// refreshed by hand. With it, an element that names a server-sent event
// stream (data-events) and a fragment (data-fragment) is refreshed with the
// fragment rendered by the server at each event of that stream. No inline
// script, nothing external.
(function () {
  "use strict";
  if (!window.EventSource || !window.fetch) {
    return;
  }

  // A refresh of `live` from its fragment, at most one fetch at a time (one
  // more if events came meanwhile); `swapped` runs after each swap.
  function refresher(live, swapped) {
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
            swapped();
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
    return refresh;
  }

  // The desk's readers: each device or token event of /desk/events.
  var readers = document.getElementById("readers-live");
  if (readers) {
    var refreshReaders = refresher(readers, function () {});
    var desk = new EventSource(readers.getAttribute("data-events"));
    desk.addEventListener("device", refreshReaders);
    desk.addEventListener("token", refreshReaders);
    desk.addEventListener("open", function () {
      readers.setAttribute("data-live", "on");
    });
  }

  // A batch's lines: each "batch" event of its stream; once the batch has
  // ended the stream is closed.
  var batch = document.getElementById("batch-live");
  function ended() {
    var state = document.getElementById("batch-state");
    return state && state.getAttribute("data-running") === "no";
  }
  if (batch && !ended()) {
    var stream = null;
    var refreshBatch = refresher(batch, function () {
      if (ended() && stream) {
        stream.close();
        batch.setAttribute("data-live", "ended");
      }
    });
    stream = new EventSource(batch.getAttribute("data-events"));
    stream.addEventListener("batch", refreshBatch);
    stream.addEventListener("open", function () {
      batch.setAttribute("data-live", "on");
      refreshBatch();
    });
  }
})();
