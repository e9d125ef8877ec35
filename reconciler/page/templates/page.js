// The page's only script (allowed by the CSP's nonce): sort and filter the skew table as its
// links would on the server, count the deadline down, and refresh the page in place.
(function () {
  "use strict";
  var body = document.body;
  var offset = 0; // server clock minus this browser's clock, in seconds

  function resync(now) {
    var server = parseFloat(now);
    if (server > 0) { offset = server - Date.now() / 1000; }
  }

  function duration(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600);
    var m = Math.floor(s % 3600 / 60), r = s % 60;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    if (d) { return h ? d + "d" + h + "h" : d + "d"; }
    if (h) { return h + "h" + two(m) + "m"; }
    if (m) { return m + "m" + two(r) + "s"; }
    return r + "s";
  }

  function table() { return document.getElementById("skew"); }

  function query(t) {
    var params = new URLSearchParams();
    if (t.dataset.sort) { params.set("sort", t.dataset.sort); params.set("order", t.dataset.order); }
    if (t.dataset.filter) { params.set("status", t.dataset.filter); }
    var text = params.toString();
    return location.pathname + (text ? "?" + text : "");
  }

  function sortBy(t, key, order) {
    var heads = t.tHead.rows[0].cells, column = -1, numeric = false, i;
    for (i = 0; i < heads.length; i++) {
      if (heads[i].dataset.key === key) { column = i; numeric = !!heads[i].dataset.numeric; }
      heads[i].setAttribute("aria-sort", heads[i].dataset.key === key
        ? (order === "asc" ? "ascending" : "descending") : "none");
    }
    if (column < 0) { return; }
    var rows = Array.prototype.slice.call(t.tBodies[0].rows);
    var value = function (row) {
      var v = row.cells[column].dataset.value;
      return numeric ? parseFloat(v) : v;
    };
    rows.sort(function (a, b) {
      var x = value(a), y = value(b);
      var c = numeric ? x - y : String(x).localeCompare(String(y));
      return order === "asc" ? c : -c;
    });
    rows.forEach(function (row) { t.tBodies[0].appendChild(row); });
    t.dataset.sort = key;
    t.dataset.order = order;
  }

  function filterBy(t, word) {
    Array.prototype.forEach.call(t.tBodies[0].rows, function (row) {
      row.hidden = !!word && row.dataset.filters.split(" ").indexOf(word) < 0;
    });
    document.querySelectorAll("[data-filter]").forEach(function (link) {
      if (link.tagName !== "A") { return; }
      if (link.dataset.filter === word) { link.setAttribute("aria-current", "true"); }
      else { link.removeAttribute("aria-current"); }
    });
    t.dataset.filter = word;
  }

  document.addEventListener("click", function (event) {
    var t = table();
    var link = event.target.closest ? event.target.closest("a") : null;
    if (!t || !link) { return; }
    if (link.dataset.sortKey !== undefined) {
      var key = link.dataset.sortKey;
      var order = t.dataset.sort === key && t.dataset.order === "asc" ? "desc" : "asc";
      sortBy(t, key, order);
    } else if (link.dataset.filter !== undefined) {
      filterBy(t, link.dataset.filter);
    } else {
      return;
    }
    event.preventDefault();
    history.replaceState(null, "", query(t));
  });

  function tick() {
    var now = Date.now() / 1000 + offset;
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var left = parseFloat(el.dataset.deadline) - now;
      el.textContent = left >= 0 ? duration(left) + " until the deadline"
        : "past the deadline by " + duration(-left);
    });
  }

  function say(text) {
    var el = document.getElementById("liveness");
    if (el) { el.textContent = text; }
  }

  var lastOk = new Date().toLocaleTimeString();

  function refresh() {
    fetch(location.pathname + location.search, { cache: "no-store", credentials: "omit" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        // Only the live region is parsed (inert, in a template): the page's own style and
        // script are never parsed again, so the CSP has nothing new to judge.
        var start = html.indexOf('<main id="live"'), end = html.lastIndexOf("</main>");
        var current = document.getElementById("live");
        if (start < 0 || end < start || !current) { return; }
        var holder = document.createElement("template");
        holder.innerHTML = html.slice(start, end + "</main>".length);
        var main = holder.content.firstElementChild;
        current.replaceWith(document.importNode(main, true));
        resync(main.dataset.now);
        tick();
        lastOk = new Date().toLocaleTimeString();
        say("updated " + lastOk);
      })
      .catch(function (error) {
        say("NOT UPDATED since " + lastOk + " (" + error.message + ")");
      });
  }

  resync(document.getElementById("live").dataset.now);
  tick();
  setInterval(tick, 1000);
  var every = parseInt(body.dataset.refresh, 10);
  if (every > 0) { setInterval(refresh, every); }
})();
