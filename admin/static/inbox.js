// Live updates: the server pushes inbox events (Server-Sent Events fed by Redis pub/sub);
// the page re-fetches the part that changed. Canned responses fill the reply box.
(function () {
  "use strict";
  function toBottom() {
    var t = document.getElementById("transcript");
    if (t) { t.scrollTop = t.scrollHeight; }
  }
  function refresh(el) {
    return fetch(el.dataset.src, { credentials: "same-origin", headers: { "X-Partial": "1" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) { el.innerHTML = html; toBottom(); } });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var list = document.getElementById("conv-list");
    var live = document.getElementById("live");
    toBottom();
    document.querySelectorAll("select.canned").forEach(function (sel) {
      sel.addEventListener("change", function () {
        var box = sel.form.querySelector("textarea[name=text]");
        if (sel.value) { box.value = sel.value; box.focus(); }
        sel.selectedIndex = 0;
      });
    });
    if (!window.EventSource || (!list && !live)) { return; }
    var source = new EventSource("/inbox/events");
    source.addEventListener("open", function () { document.body.dataset.live = "on"; });
    source.onmessage = function (e) {
      var event = JSON.parse(e.data);
      if (list) { refresh(list); }
      if (live && String(event.conversation_id) === live.dataset.id) { refresh(live); }
    };
    // A slow safety net for events no web process published (e.g. a worker's order review).
    setInterval(function () { if (list) { refresh(list); } }, 30000);
  });
})();
