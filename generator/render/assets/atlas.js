// Embed every plot on the page: Bokeh documents given whole (data-atlas-plot), and token maps
// given as data (data-atlas-token-map) for the shared specification in assets/plots/token-map.js.
// No network and no eval of page text: data is parsed as JSON, heads past the page's budget are
// script files beside the page, added when chosen (script tags work from file://).
(function () {
  var headsByTarget = (window.atlasHeads = window.atlasHeads || {});
  var redraw = {};
  window.atlasHead = function (target, key, encoded) {
    (headsByTarget[target] = headsByTarget[target] || {})[key] = encoded;
    if (redraw[target]) redraw[target]();
  };

  function decode(encoded, quantum) {
    var bytes = atob(encoded), out = new Float32Array(bytes.length / 2);
    for (var i = 0; i < out.length; i++) {
      out[i] = (bytes.charCodeAt(2 * i) | (bytes.charCodeAt(2 * i + 1) << 8)) / quantum;
    }
    return out;
  }

  function range(n) {
    var out = [];
    for (var i = 0; i < n; i++) out.push(String(i));
    return out;
  }

  function unclaimedDocument() {
    for (var i = Bokeh.documents.length - 1; i >= 0; i--) {
      var doc = Bokeh.documents[i];
      if (!doc.atlasClaimed && doc.get_model_by_name("atlas-drawn")) {
        doc.atlasClaimed = true;
        return doc;
      }
    }
    return null;
  }

  function fillTokenMap(doc, target, data) {
    var n = data.n, count = (n * (n + 1)) / 2;
    var key = new Int32Array(count), query = new Int32Array(count);
    var keyToken = new Array(count), queryToken = new Array(count);
    for (var q = 0, i = 0; q < n; q++) {
      for (var k = 0; k <= q; k++, i++) {
        key[i] = k; query[i] = q; keyToken[i] = data.tokens[k]; queryToken[i] = data.tokens[q];
      }
    }
    var ticks = [], labels = new Map();
    for (var t = 0; t < n; t++) { ticks.push(t); labels.set(t, data.tokens[t]); }
    doc.get_model_by_name("atlas-x").setv({start: -0.5, end: n - 0.5});
    doc.get_model_by_name("atlas-y").setv({start: n - 0.5, end: -0.5});
    ["x", "y"].forEach(function (a) {
      doc.get_model_by_name("atlas-" + a + "-ticks").ticks = ticks;
      doc.get_model_by_name("atlas-" + a + "-axis").major_label_overrides = labels;
    });
    var fig = doc.get_model_by_name("atlas-figure");
    fig.setv({width: data.size, height: data.size, max_width: data.size});
    var source = doc.get_model_by_name("atlas-drawn");
    var layer = doc.get_model_by_name("atlas-layer"), head = doc.get_model_by_name("atlas-head");
    layer.options = range(data.layers);
    head.options = range(data.heads);
    var heads = (headsByTarget[target] = Object.assign(headsByTarget[target] || {}, data.inline));
    var requested = {};
    function show() {
      var name = layer.value + "_" + head.value, encoded = heads[name];
      fig.title.text = "Layer " + layer.value + ", head " + head.value + (encoded ? "" : " (loading)");
      if (!encoded) {
        if (data.chunks && !requested[name]) {
          requested[name] = true;
          var script = document.createElement("script");
          script.src = data.chunks + "/" + name + ".js";
          document.head.appendChild(script);
        }
        return;
      }
      source.data = {key: key, query: query, weight: decode(encoded, data.quantum),
                     key_token: keyToken, query_token: queryToken};
    }
    redraw[target] = show;
    layer.property("value").change.connect(show);
    head.property("value").change.connect(show);
    show();
  }

  function embedTokenMap(el) {
    var target = el.getAttribute("data-atlas-token-map");
    if (document.getElementById(target).childElementCount > 0) return;
    var data = JSON.parse(el.textContent);
    var spec = JSON.parse(JSON.stringify(window.atlasSpecs["token-map"]));
    Bokeh.embed.embed_item(spec, target).then(function () {
      fillTokenMap(unclaimedDocument(), target, data);
    });
  }

  // The example table: a filter over every cell's text, and sorting by any column (numbers as numbers).
  function tableTools(table) {
    var input = table.parentElement.querySelector(".atlas-table-filter") ||
      document.querySelector(".atlas-table-filter");
    var count = document.querySelector(".atlas-table-count");
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    function filter() {
      var needle = (input && input.value || "").toLowerCase(), shown = 0;
      rows.forEach(function (row) {
        var keep = !needle || row.textContent.toLowerCase().indexOf(needle) >= 0;
        row.style.display = keep ? "" : "none";
        if (keep) shown++;
      });
      if (count) count.textContent = shown + " of " + rows.length;
    }
    if (input) input.addEventListener("input", filter);
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, column) {
      th.addEventListener("click", function () {
        var order = th.getAttribute("data-sorted") === "asc" ? "desc" : "asc";
        Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute("data-sorted"); });
        th.setAttribute("data-sorted", order);
        rows.sort(function (a, b) {
          var x = a.cells[column].textContent.trim(), y = b.cells[column].textContent.trim();
          var nx = parseFloat(x), ny = parseFloat(y);
          var c = !isNaN(nx) && !isNaN(ny) ? nx - ny : x.localeCompare(y, undefined, {numeric: true});
          return order === "asc" ? c : -c;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
    filter();
  }

  function embedAll() {
    document.querySelectorAll("table.atlas-examples").forEach(tableTools);
    document.querySelectorAll("script[data-atlas-plot]").forEach(function (el) {
      var target = el.getAttribute("data-atlas-plot");
      if (document.getElementById(target).childElementCount > 0) return;
      Bokeh.embed.embed_item(JSON.parse(el.textContent), target);
    });
    document.querySelectorAll("script[data-atlas-token-map]").forEach(embedTokenMap);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", embedAll);
  } else {
    embedAll();
  }
})();
