// Progressive enhancement only: every page works without this file. Search boxes get completions from
// /v1/suggest (titles, topics, methods) in a <datalist>; text goes in as text, never as markup.
(function () {
  "use strict";
  var boxes = document.querySelectorAll("input[data-suggest]");
  if (!boxes.length || !window.fetch) return;
  var list = document.createElement("datalist");
  list.id = "pw-suggestions";
  document.body.appendChild(list);
  var timer = 0, last = "";
  function fill(items) {
    while (list.firstChild) list.removeChild(list.firstChild);
    items.forEach(function (s) {
      var o = document.createElement("option");
      o.value = s.text;
      list.appendChild(o);
    });
  }
  function ask(prefix) {
    if (prefix === last) return;
    last = prefix;
    fetch("/v1/suggest?size=8&prefix=" + encodeURIComponent(prefix), { headers: { accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
      .then(function (body) { if (prefix === last) fill(body.suggestions || []); })
      .catch(function () {});
  }
  boxes.forEach(function (box) {
    box.setAttribute("list", list.id);
    box.setAttribute("autocomplete", "off");
    box.addEventListener("input", function () {
      var v = box.value.trim();
      clearTimeout(timer);
      if (v.length < 2 || v.length > 100) return;
      timer = setTimeout(function () { ask(v); }, 150);
    });
  });
})();
