// Search as you type: the incident list refreshes (results fragment) while the analyst types,
// and the address bar keeps the query (deep links). No framework, no build step.
(function () {
  "use strict";
  var form = document.getElementById("search");
  if (!form) { return; }
  var q = document.getElementById("q");
  var sort = document.getElementById("sort");
  var results = document.getElementById("results");
  var timer = null;
  var seq = 0;

  function refresh() {
    var params = new URLSearchParams({ q: q.value, sort: sort.value });
    var mine = ++seq;
    history.replaceState(null, "", "/incidents?" + params.toString());
    params.set("partial", "1");
    fetch("/incidents?" + params.toString(), { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) { if (mine === seq) { results.innerHTML = html; } });
  }
  q.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 200);
  });
  sort.addEventListener("change", refresh);
  form.addEventListener("submit", function (ev) { ev.preventDefault(); refresh(); });
})();
