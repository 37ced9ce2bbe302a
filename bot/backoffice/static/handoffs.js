// Live parts of /staff/handoffs: poll the JSON endpoints and redraw with textContent only (never as markup),
// so nothing a citizen wrote can run here. Without JavaScript the pages work by reloading.
(function () {
  "use strict";
  var POLL_MS = 3000;

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) { n.className = cls; }
    if (text !== undefined && text !== null) { n.textContent = String(text); }
    return n;
  }

  function poll(url, onData) {
    function tick() {
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) { if (data) { onData(data); } })
        .catch(function () {})
        .then(function () { setTimeout(tick, POLL_MS); });
    }
    setTimeout(tick, POLL_MS);
  }

  function list(table) {
    var d = table.dataset, body = table.tBodies[0], baseTitle = document.title;
    poll(d.src, function (data) {
      var rows = document.createDocumentFragment(), waiting = 0;
      data.items.forEach(function (h) {
        if (h.status === "requested") { waiting += 1; }
        var tr = el("tr", "handoff status-" + h.status);
        tr.dataset.id = h.id;
        tr.appendChild(el("td", null, d["status" + h.status.charAt(0).toUpperCase() + h.status.slice(1)] +
                                      (h.taken_by_me ? " (" + d.mine + ")" : "")));
        var who = el("td"), a = el("a", null, h.name || d.anonymous);
        a.href = "/staff/handoffs/" + encodeURIComponent(h.id);
        who.appendChild(a);
        tr.appendChild(who);
        tr.appendChild(el("td", null, h.tracking_ids.length ? h.tracking_ids.join(", ") : d.general));
        tr.appendChild(el("td", "preview", h.last_text || ""));
        var td = el("td"), time = el("time", null, h.created_local);
        time.setAttribute("datetime", h.created_at || "");
        td.appendChild(time);
        tr.appendChild(td);
        rows.appendChild(tr);
      });
      if (!data.items.length) {
        var empty = el("tr", "empty"), cell = el("td", null, d.none);
        cell.colSpan = 5;
        empty.appendChild(cell);
        rows.appendChild(empty);
      }
      body.replaceChildren(rows);
      document.title = (waiting ? "(" + waiting + ") " : "") + baseTitle;
    });
  }

  function transcript(ol) {
    var d = ol.dataset, shown = ol.children.length;
    poll(d.src, function (data) {
      if (data.handoff.status !== d.status) { window.location.reload(); return; }
      if (data.transcript.length === shown) { return; }
      var items = document.createDocumentFragment();
      data.transcript.forEach(function (e) {
        var li = el("li", "msg from-" + e.who + (e.mine ? " mine" : ""));
        if (e.who === "system") {
          li.appendChild(el("span", "event", d["event" + e.text.charAt(0).toUpperCase() + e.text.slice(1)] || ""));
        } else {
          li.appendChild(el("span", "who", e.who === "citizen" ? d.whoCitizen : (e.mine ? d.whoMe : d.whoOfficer)));
          if (e.kind !== "text" && e.kind !== "choice") { li.appendChild(el("span", "kind", "[" + d.kindOther + "]")); }
          li.appendChild(document.createTextNode(" "));
          li.appendChild(el("span", "text", e.text));
        }
        var time = el("time", null, e.at_local);
        time.setAttribute("datetime", e.at || "");
        li.appendChild(document.createTextNode(" "));
        li.appendChild(time);
        items.appendChild(li);
      });
      ol.replaceChildren(items);
      shown = data.transcript.length;
      ol.lastElementChild && ol.lastElementChild.scrollIntoView({block: "nearest"});
    });
  }

  var table = document.getElementById("handoff-list");
  if (table) { list(table); }
  var ol = document.getElementById("transcript");
  if (ol) { transcript(ol); }
}());
