// Live updates: the server pushes inbox events (Server-Sent Events fed by Redis pub/sub);
// the page re-fetches the part that changed. Canned responses fill the reply box.
// The transfers page refreshes on transfer events and keeps the navigation's badge in step.
(function () {
  "use strict";
  function toBottom() {
    var t = document.getElementById("transcript");
    if (t) { t.scrollTop = t.scrollHeight; }
  }
  function refresh(el) {
    return fetch(el.dataset.src, { credentials: "same-origin", headers: { "X-Partial": "1" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) { el.innerHTML = html; toBottom(); syncHeld(el); } });
  }
  function syncHeld(el) {
    var count = el.querySelector("[data-held-count]");
    var badge = document.getElementById("held-count");
    if (count && badge) { badge.textContent = count.dataset.heldCount; badge.dataset.count = count.dataset.heldCount; }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var list = document.getElementById("conv-list");
    var live = document.getElementById("live");
    var transfers = document.getElementById("transfer-list");
    toBottom();
    document.querySelectorAll("select.canned").forEach(function (sel) {
      sel.addEventListener("change", function () {
        var box = sel.form.querySelector("textarea[name=text]");
        if (sel.value) { box.value = sel.value; box.focus(); }
        sel.selectedIndex = 0;
      });
    });
    if (!window.EventSource || (!list && !live && !transfers)) { return; }
    var source = new EventSource("/inbox/events");
    source.addEventListener("open", function () { document.body.dataset.live = "on"; });
    source.onmessage = function (e) {
      var event = JSON.parse(e.data);
      if (list) { refresh(list); }
      if (live && String(event.conversation_id) === live.dataset.id) { refresh(live); }
      if (transfers && String(event.kind).indexOf("transfer.") === 0) { refresh(transfers); }
    };
    // A slow safety net for events no web process published (e.g. a worker's order review, a
    // transfer held by the chat when nothing publishes that).
    setInterval(function () { if (list) { refresh(list); } if (transfers) { refresh(transfers); } }, 30000);
  });
})();
