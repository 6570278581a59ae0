// Embed every plot on the page: Bokeh documents given whole (data-atlas-plot), and plots given as
// data (data-atlas-data, with data-atlas-spec naming the shared specification in assets/plots/).
// No network and no eval of page text: data is parsed as JSON, heads past the page's budget are
// script files beside the page, added when chosen (script tags work from file://).
(function () {
  var headsByTarget = (window.atlasHeads = window.atlasHeads || {});
  var redraw = {};
  var shownMaps = {};  // per token map: the weights of the head it shows (lower triangle, row by row) and n
  var tokenMaps = {};  // per token map: its layer and head selects and its colours (the model view drives them)
  window.atlasHead = function (target, key, encoded) {
    (headsByTarget[target] = headsByTarget[target] || {})[key] = encoded;
    if (redraw[target]) redraw[target]();
  };

  // A map's weights from their uint16 text; ``missing`` (a weight not measured) becomes NaN, drawn grey.
  function decode(encoded, quantum, missing) {
    var bytes = atob(encoded), out = new Float32Array(bytes.length / 2);
    for (var i = 0; i < out.length; i++) {
      var stored = bytes.charCodeAt(2 * i) | (bytes.charCodeAt(2 * i + 1) << 8);
      out[i] = stored === missing ? NaN : stored / quantum;
    }
    return out;
  }

  // Every cell of a causal map, row by row, with the hover labels of its query and key.
  function lowerTriangle(labels) {
    var n = labels.length, count = (n * (n + 1)) / 2;
    var cells = {key: new Int32Array(count), query: new Int32Array(count), keyLabel: new Array(count),
                 queryLabel: new Array(count)};
    for (var q = 0, i = 0; q < n; q++) {
      for (var k = 0; k <= q; k++, i++) {
        cells.key[i] = k; cells.query[i] = q; cells.keyLabel[i] = labels[k]; cells.queryLabel[i] = labels[q];
      }
    }
    return cells;
  }

  // The page's maps by name, and a request for one it does not carry (its script beside the page).
  function mapStore(target, data) {
    var maps = (headsByTarget[target] = Object.assign(headsByTarget[target] || {}, data.inline));
    var requested = {};
    return {maps: maps, request: function (name) {
      if (!data.chunks || requested[name]) return;
      requested[name] = true;
      var script = document.createElement("script");
      script.src = data.chunks + "/" + name + ".js";
      document.head.appendChild(script);
    }};
  }

  // Draw the map the selectors choose (``choose`` gives its name and title), loading it first when the
  // page does not carry it; ``columns`` name the hover's key and query label columns in the spec; ``onShow``
  // (optional) is given the weights drawn.
  function connectMap(target, data, cells, fig, source, selects, columns, choose, onShow) {
    var store = mapStore(target, data);
    function show() {
      var chosen = choose(), encoded = store.maps[chosen.name];
      fig.title.text = chosen.title + (encoded ? "" : " (loading)");
      if (!encoded) return store.request(chosen.name);
      var drawn = {key: cells.key, query: cells.query, weight: decode(encoded, data.quantum, data.missing)};
      drawn[columns[0]] = cells.keyLabel;
      drawn[columns[1]] = cells.queryLabel;
      source.data = drawn;
      if (onShow) onShow(drawn.weight);
    }
    redraw[target] = show;
    selects.forEach(function (select) { select.property("value").change.connect(show); });
    show();
  }

  function range(n) {
    var out = [];
    for (var i = 0; i < n; i++) out.push(String(i));
    return out;
  }

  function decodeFloats(encoded) {
    var bytes = atob(encoded), buffer = new ArrayBuffer(bytes.length), view = new Uint8Array(buffer);
    for (var i = 0; i < bytes.length; i++) view[i] = bytes.charCodeAt(i);
    return new Float32Array(buffer);  // little-endian float32, as written
  }

  function fillGrid(doc, target, data) {
    var cells = data.layers * data.heads;
    var values = decodeFloats(data.values);
    var layer = new Int32Array(cells), head = new Int32Array(cells), label = new Array(cells);
    for (var l = 0, i = 0; l < data.layers; l++) {
      for (var h = 0; h < data.heads; h++, i++) { layer[i] = l; head[i] = h; label[i] = String(data.layer_labels[l]); }
    }
    var ticks = function (n) { var out = []; for (var i = 0; i < n; i++) out.push(i); return out; };
    doc.get_model_by_name("atlas-grid-x").setv({start: -0.5, end: data.heads - 0.5});
    doc.get_model_by_name("atlas-grid-y").setv({start: data.layers - 0.5, end: -0.5});
    doc.get_model_by_name("atlas-grid-x-ticks").ticks = ticks(data.heads);
    doc.get_model_by_name("atlas-grid-y-ticks").ticks = ticks(data.layers);
    var labels = new Map();
    data.layer_labels.forEach(function (value, index) { labels.set(index, String(value)); });
    doc.get_model_by_name("atlas-grid-y-axis").major_label_overrides = labels;
    doc.get_model_by_name("atlas-grid-mapper").high = data.high;
    var hover = doc.get_model_by_name("atlas-grid-hover");
    hover.tooltips = [["layer", "@layer_label"], ["head", "@head"], [data.value_label, "@value{0.0000}"]];
    var fig = doc.get_model_by_name("atlas-grid-figure");
    fig.setv({width: data.width, height: data.height});
    var source = doc.get_model_by_name("atlas-grid-drawn"), part = doc.get_model_by_name("atlas-grid-part");
    part.options = data.options;
    part.value = data.options[0];
    part.visible = data.options.length > 1;
    function show() {
      var index = Math.max(0, data.options.indexOf(part.value));
      source.data = {layer: layer, head: head, layer_label: label,
                     value: values.slice(index * cells, (index + 1) * cells)};
      fig.title.text = data.titles[index];
    }
    part.property("value").change.connect(show);
    show();
  }

  function fillPooled(doc, target, data) {
    var n = data.n, cells = lowerTriangle(data.labels);
    doc.get_model_by_name("atlas-pooled-x").setv({start: -0.5, end: n - 0.5});
    doc.get_model_by_name("atlas-pooled-y").setv({start: n - 0.5, end: -0.5});
    doc.get_model_by_name("atlas-pooled-mapper").high = data.high;
    var fig = doc.get_model_by_name("atlas-pooled-figure");
    fig.setv({width: data.size, height: data.size, max_width: data.size});
    var source = doc.get_model_by_name("atlas-pooled-drawn");
    var head = doc.get_model_by_name("atlas-pooled-head"), statistic = doc.get_model_by_name("atlas-pooled-stat");
    head.options = data.names;
    head.value = data.names[0];
    connectMap(target, data, cells, fig, source, [head, statistic], ["key_tokens", "query_tokens"], function () {
      var index = Math.max(0, data.names.indexOf(head.value));
      return {name: index + "_" + statistic.value, title: head.value + " (block " + statistic.value + ")"};
    });
  }

  function fillMatrix(doc, target, data) {
    var rows = data.rows.length, columns = data.columns.length, cells = rows * columns;
    var values = decodeFloats(data.values);
    var row = new Int32Array(cells), column = new Int32Array(cells);
    var rowLabel = new Array(cells), columnLabel = new Array(cells);
    for (var r = 0, i = 0; r < rows; r++) {
      for (var c = 0; c < columns; c++, i++) {
        row[i] = r; column[i] = c; rowLabel[i] = data.rows[r]; columnLabel[i] = data.columns[c];
      }
    }
    doc.get_model_by_name("atlas-matrix-x").setv({start: -0.5, end: columns - 0.5});
    doc.get_model_by_name("atlas-matrix-y").setv({start: rows - 0.5, end: -0.5});
    [["x", data.columns], ["y", data.rows]].forEach(function (axis) {
      var ticks = [], labels = new Map();
      axis[1].forEach(function (text, index) { ticks.push(index); labels.set(index, text); });
      doc.get_model_by_name("atlas-matrix-" + axis[0] + "-ticks").ticks = ticks;
      doc.get_model_by_name("atlas-matrix-" + axis[0] + "-axis").major_label_overrides = labels;
    });
    var mapper = doc.get_model_by_name("atlas-matrix-mapper");
    mapper.setv(data.palette ? {low: data.low, high: data.high, palette: data.palette} : {low: data.low, high: data.high});
    var bar = doc.get_model_by_name("atlas-matrix-bar");
    if (bar) bar.title = data.value_label;
    doc.get_model_by_name("atlas-matrix-hover").tooltips =
      [["row", "@row_label"], ["column", "@column_label"], [data.value_label, "@value{0.000}"]];
    var fig = doc.get_model_by_name("atlas-matrix-figure");
    fig.setv({width: data.width, height: data.height, max_width: data.width});
    fig.title.text = data.title;
    doc.get_model_by_name("atlas-matrix-drawn").data =
      {row: row, column: column, row_label: rowLabel, column_label: columnLabel, value: values};
  }

  var FILLERS = {"token-map": fillTokenMap, "layer-head-grid": fillGrid, "pooled-map": fillPooled,
                 "matrix": fillMatrix};

  // Token labels thinned to one every ``step`` tokens where they would overlap (every token keeps its tick, and
  // the hover names each); segment starts are always labelled.
  function tokenLabels(data) {
    var n = data.n, step = Math.max(1, Math.ceil((n * LABEL_PX) / Math.max(1, data.size - 120)));
    var starts = {};
    (data.segments || []).forEach(function (s) { starts[s[1]] = true; });
    var ticks = [], labels = new Map();
    for (var t = 0; t < n; t++) {
      ticks.push(t);
      labels.set(t, t % step === 0 || starts[t] ? data.tokens[t] : "");
    }
    return {ticks: ticks, labels: labels};
  }
  var LABEL_PX = 14;  // the least room a rotated token label needs

  // Lines where each segment (question, step 1, ..., answer) starts, over the causal triangle only.
  function segmentBoundaries(data) {
    var lines = {x0: [], y0: [], x1: [], y1: []}, last = data.n - 0.5;
    (data.segments || []).forEach(function (s) {
      var at = s[1] - 0.5;
      if (s[1] <= 0) return;
      lines.x0.push(at, -0.5); lines.y0.push(at, at); lines.x1.push(at, at); lines.y1.push(last, at);
    });
    return lines;
  }

  // A chosen layer and head live in the page's address (``?layer=1&head=2``), so a link restores them.
  function selectFromAddress(select, key) {
    var value = new URLSearchParams(location.search).get(key);
    if (value !== null && select.options.indexOf(value) >= 0) select.value = value;
  }
  function keepInAddress(pairs) {
    try {
      var url = new URL(location.href);
      pairs.forEach(function (pair) { url.searchParams.set(pair[0], pair[1].value); });
      history.replaceState(history.state, "", url.toString());
    } catch (error) { /* an address the browser will not rewrite (some file:// setups): the choice stays on the page */ }
  }

  function fillTokenMap(doc, target, data) {
    var n = data.n, cells = lowerTriangle(data.tokens), shown = tokenLabels(data);
    var ticks = shown.ticks, labels = shown.labels;
    var boundaries = doc.get_model_by_name("atlas-boundaries");
    if (boundaries) boundaries.data = segmentBoundaries(data);
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
    selectFromAddress(layer, "layer");
    selectFromAddress(head, "head");
    tokenMaps[target] = {target: target, layer: layer, head: head,
                         palette: doc.get_model_by_name("atlas-map-colours").palette};
    connectMap(target, data, cells, fig, source, [layer, head], ["key_token", "query_token"], function () {
      return {name: layer.value + "_" + head.value, title: "Layer " + layer.value + ", head " + head.value};
    }, function (weights) { shownMaps[target] = {weight: weights, n: n}; });
    [layer, head].forEach(function (select) {
      select.property("value").change.connect(function () { keepInAddress([["layer", layer], ["head", head]]); });
    });
  }

  // A plot kind's shared specification, loaded from assets/plots/ beside this script when the
  // site's mkdocs.yml does not list it (a project made before that kind existed).
  var here = document.currentScript ? document.currentScript.src : "";
  var pending = {};
  function withSpec(kind, then) {
    if (window.atlasSpecs && window.atlasSpecs[kind]) return then();
    if (!pending[kind]) {
      pending[kind] = [];
      var script = document.createElement("script");
      script.src = here.replace(/atlas\.js(\?.*)?$/, "plots/" + kind + ".js");
      script.onload = function () { pending[kind].forEach(function (f) { f(); }); };
      document.head.appendChild(script);
    }
    pending[kind].push(then);
  }

  // A plot's data: in its element, or (pages written by atlas build) in the script beside the page that
  // ``data-atlas-src`` names, which registers every plot of the page with ``atlasPageData``.
  var pageData = {}, pageScripts = {}, plotData = {};
  window.atlasPageData = function (entries) { Object.assign(pageData, entries); };
  function readData(el, target) {
    var src = el.getAttribute("data-atlas-src");
    if (!src) return Promise.resolve(JSON.parse(el.textContent));
    if (!pageScripts[src]) {
      pageScripts[src] = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = src;
        script.onload = resolve;
        script.onerror = function () { reject(new Error("could not load " + src + " beside the page")); };
        document.head.appendChild(script);
      });
    }
    return pageScripts[src].then(function () { return pageData[target]; });
  }

  function embedData(el) {
    var kind = el.getAttribute("data-atlas-spec"), target = el.getAttribute("data-atlas-data");
    return readData(el, target).then(function (data) {
      plotData[target] = data;
      return new Promise(function (resolve) { withSpec(kind, function () { resolve(embedDataNow(el, data)); }); });
    });
  }

  function embedDataNow(el, data) {
    var target = el.getAttribute("data-atlas-data"), kind = el.getAttribute("data-atlas-spec");
    if (document.getElementById(target).childElementCount > 0) return null;
    var spec = JSON.parse(JSON.stringify(window.atlasSpecs[kind]));
    return Bokeh.embed.embed_item(spec, target).then(function (views) {
      FILLERS[kind](Array.from(views.roots)[0].model.document, target, data);
      return drawn(target);
    });
  }

  // A drawn plot gives back the height the page reserved for it (its own layout now holds the space),
  // and takes the page's colour scheme.
  function drawn(target) {
    var el = document.getElementById(target);
    applyScheme();
    return new Promise(function (resolve) {
      requestAnimationFrame(function () { el.style.minHeight = ""; resolve(); });
    });
  }

  // Plots follow the page's light or dark scheme live: canvases cannot read CSS, so every plot's colours
  // are set from the theme's own variables, and restored from the values Bokeh drew them with.
  var SCHEMED = {  // a property and the page colour it takes in the dark scheme
    background_fill_color: "bg", border_fill_color: "bg", outline_line_color: "lightest", text_color: "fg",
    axis_label_text_color: "fg", major_label_text_color: "fg", axis_line_color: "light",
    major_tick_line_color: "light", minor_tick_line_color: "light", grid_line_color: "lightest",
    label_text_color: "fg", title_text_color: "fg", border_line_color: "lightest", line_color: "fg"
  };
  var LINES = {Whisker: true, TeeHead: true, Span: true};  // marks drawn in the text colour
  function pageColour(variable) {  // a theme variable as rgb(), which Bokeh reads
    var probe = document.createElement("span");
    probe.style.color = "var(--md-default-" + variable + ")";
    document.body.appendChild(probe);
    var colour = getComputedStyle(probe).color;
    probe.remove();
    return colour;
  }
  function applyScheme() {
    if (!window.Bokeh || !Bokeh.documents) return;
    var dark = document.body.getAttribute("data-md-color-scheme") === "slate";
    var colours = dark ? {bg: pageColour("bg-color"), fg: pageColour("fg-color"), light: pageColour("fg-color--light"),
                          lightest: pageColour("fg-color--lighter")} : null;
    Bokeh.documents.forEach(function (doc) {
      doc.all_models.forEach(function (model) {
        var light = (model.atlasLight = model.atlasLight || {}), changes = {};
        Object.keys(SCHEMED).forEach(function (name) {
          if (!model.properties[name]) return;
          if (name === "line_color" && !LINES[model.constructor.__name__]) return;  // a glyph's colour is data
          if (!(name in light)) light[name] = model[name];
          if (light[name] === null) return;  // not drawn (e.g. a hidden outline): stays so
          changes[name] = dark ? colours[SCHEMED[name]] : light[name];
        });
        if (Object.keys(changes).length) model.setv(changes);
      });
    });
  }
  new MutationObserver(applyScheme).observe(document.body, {attributes: true, attributeFilter: ["data-md-color-scheme"]});

  // Once every plot is drawn, a permalink's figure is brought back into view, unless the reader moved.
  var readerMoved = false;
  ["wheel", "keydown", "touchstart", "mousedown"].forEach(function (type) {
    window.addEventListener(type, function () { readerMoved = true; }, {passive: true, once: true});
  });
  function landOnPermalink() {
    var id = decodeURIComponent(location.hash.slice(1)), el = id && document.getElementById(id);
    if (el && !readerMoved) el.scrollIntoView();
  }

  // The example table: a filter over every cell's text, and sorting by any column (numbers as numbers).
  function tableTools(table) {
    var input = table.parentElement.querySelector(".atlas-table-filter") ||
      document.querySelector(".atlas-table-filter");
    var count = document.querySelector(".atlas-table-count");
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    var tabs = document.querySelectorAll(".atlas-tabs button[data-atlas-category]"), category = "";
    Array.prototype.forEach.call(tabs, function (button) {
      button.addEventListener("click", function () {
        category = button.getAttribute("data-atlas-category");
        Array.prototype.forEach.call(tabs, function (b) { b.setAttribute("aria-pressed", String(b === button)); });
        filter();
      });
    });
    function filter() {
      var needle = (input && input.value || "").toLowerCase(), shown = 0;
      rows.forEach(function (row) {
        var keep = (!needle || row.textContent.toLowerCase().indexOf(needle) >= 0) &&
          (!category || row.getAttribute("data-category") === category);
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

  // Neuronpedia-style activation strips, as generator/render/token_strips.py defines them (its strip_rows is
  // the reference these are tested against): emerald at opacity 0.05 + log10(1 + 9 v / max) * 0.95, nothing
  // below 0.00005, black or white text by the higher WCAG contrast.
  var EMERALD = [52, 211, 153];
  function stripOpacity(value, peak) {
    if (peak <= 0 || value < 0.00005) return 0;
    return 0.05 + (Math.log10(1 + 9 * Math.min(value / peak, 1)) * 0.95) / Math.log10(10);
  }
  function stripText(alpha) {
    var lum = EMERALD.map(function (c, i) {
      var v = (255 * (1 - alpha) + c * alpha) / 255;
      return (v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4)) * [0.2126, 0.7152, 0.0722][i];
    }).reduce(function (a, b) { return a + b; });
    return (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) ? "#000000" : "#ffffff";
  }
  function shortNumber(value, digits) {  // Python's format(value, ".Ng") for the values a strip shows
    var magnitude = value === 0 ? 0 : Math.floor(Math.log10(Math.abs(value)));
    var text = magnitude < -4 ? Number(value).toExponential(digits - 1) : Number(value).toPrecision(digits);
    if (text.indexOf("e") >= 0) {
      var parts = text.split("e"), mantissa = parts[0].indexOf(".") >= 0 ? parts[0].replace(/\.?0+$/, "") : parts[0];
      var exponent = Number(parts[1]);
      return mantissa + "e" + (exponent < 0 ? "-" : "+") + (Math.abs(exponent) < 10 ? "0" : "") + Math.abs(exponent);
    }
    return text.indexOf(".") >= 0 ? text.replace(/\.?0+$/, "") : text;
  }
  function drawStrip(el, data) {
    if (!el || el.childElementCount > 0) return;
    var row = null;
    data.tokens.forEach(function (token, index) {
      if (index % data.per_row === 0) {
        row = document.createElement("div");
        row.className = "atlas-strip-row";
        el.appendChild(row);
      }
      var value = data.values[index], alpha = stripOpacity(value, data.peak);
      var span = document.createElement("span");
      span.className = "atlas-strip-token";
      span.setAttribute("data-opacity", alpha.toFixed(3));  // as computed (the browser keeps alpha in 8 bits)
      span.style.background = "rgba(52, 211, 153, " + alpha.toFixed(3) + ")";
      span.style.color = stripText(alpha);
      span.title = "#" + index + " " + shortNumber(value, 4);
      span.textContent = token;
      if (data.show_values) {
        var sub = document.createElement("sub");
        sub.textContent = shortNumber(value, 3);
        span.appendChild(sub);
      }
      row.appendChild(span);
    });
  }

  // An example's tokens by segment, as generator/render/token_strips.py's segment_strip_item describes them.
  function drawTokens(el, data) {
    if (!el || el.childElementCount > 0) return;
    var special = {};
    data.special.forEach(function (index) { special[index] = true; });
    data.tokens.forEach(function (token, index) {
      var segment = data.segments[data.owner[index]];
      var span = document.createElement("span");
      span.className = "atlas-token atlas-seg-" + segment[1] + (special[index] ? " atlas-special" : "");
      span.title = "#" + index + " \u00b7 " + segment[0];
      span.textContent = token;
      el.appendChild(span);
    });
  }

  function embedAll() {
    document.querySelectorAll("table.atlas-examples").forEach(tableTools);
    var drawing = [];
    document.querySelectorAll("script[data-atlas-plot]").forEach(function (el) {
      var target = el.getAttribute("data-atlas-plot");
      if (document.getElementById(target).childElementCount > 0) return;
      drawing.push(readData(el, target).then(function (item) {
        return Bokeh.embed.embed_item(item, target);
      }).then(function () { return drawn(target); }));
    });
    document.querySelectorAll("script[data-atlas-data]").forEach(function (el) { drawing.push(embedData(el)); });
    document.querySelectorAll("script[data-atlas-tokens]").forEach(function (el) {
      var target = el.getAttribute("data-atlas-tokens");
      drawing.push(readData(el, target).then(function (data) { drawTokens(document.getElementById(target), data); }));
    });
    document.querySelectorAll("script[data-atlas-strip]").forEach(function (el) {
      var target = el.getAttribute("data-atlas-strip");
      drawing.push(readData(el, target).then(function (data) { drawStrip(document.getElementById(target), data); }));
    });
    Promise.all(drawing).then(landOnPermalink, landOnPermalink);
  }

  // The model view: every head's map at once, small (pooled into blocks by their largest weight), layers down
  // and heads across with their mean last; loaded from a script beside the page when opened; a click shows
  // that head in the token map.
  var thumbnails = {};
  window.atlasThumbnails = function (target, data) {
    thumbnails[target] = data;
    document.querySelectorAll("details[data-atlas-thumbnails]").forEach(function (el) {
      if (el.getAttribute("data-atlas-thumbnails") === target) drawThumbnails(el, target);
    });
  };
  function rgb(hex) {
    return [parseInt(hex.slice(1, 3), 16), parseInt(hex.slice(3, 5), 16), parseInt(hex.slice(5, 7), 16)];
  }
  function thumbnail(values, offset, size, palette) {
    var canvas = document.createElement("canvas");
    canvas.width = canvas.height = size;
    var context = canvas.getContext("2d"), image = context.createImageData(size, size);
    for (var row = 0; row < size; row++) {
      for (var column = 0; column < size; column++) {
        var at = 4 * (row * size + column);
        if (column > row) continue;  // above the causal diagonal: nothing to show (transparent)
        var colour = palette[Math.round((values[offset + row * size + column] / 255) * (palette.length - 1))];
        image.data[at] = colour[0]; image.data[at + 1] = colour[1]; image.data[at + 2] = colour[2];
        image.data[at + 3] = 255;
      }
    }
    context.putImageData(image, 0, 0);
    return canvas;
  }
  function drawThumbnails(el, target) {
    var grid = el.querySelector(".atlas-thumbnails"), data = thumbnails[target], map = tokenMaps[target];
    if (!data || !map || grid.childElementCount > 0) return;
    var bytes = atob(data.values), values = new Uint8Array(bytes.length), size = data.size;
    for (var i = 0; i < bytes.length; i++) values[i] = bytes.charCodeAt(i);
    var palette = map.palette.map(rgb), columns = data.heads + 1;
    grid.style.gridTemplateColumns = "auto repeat(" + columns + ", 1fr)";
    grid.appendChild(document.createElement("span"));
    for (var h = 0; h < columns; h++) {
      var header = document.createElement("span");
      header.textContent = h < data.heads ? "H" + h : "mean";
      grid.appendChild(header);
    }
    for (var l = 0; l < data.layers; l++) {
      var label = document.createElement("span");
      label.textContent = "L" + l;
      grid.appendChild(label);
      for (h = 0; h < columns; h++) {
        var canvas = thumbnail(values, (l * columns + h) * size * size, size, palette);
        canvas.title = h < data.heads ? "layer " + l + ", head " + h + " (click to show it above)"
                                      : "layer " + l + ", mean over heads";
        canvas.setAttribute("data-layer", l);
        canvas.setAttribute("data-head", h < data.heads ? h : "mean");
        if (h < data.heads) canvas.addEventListener("click", choose.bind(null, map, l, h));
        grid.appendChild(canvas);
      }
    }
  }
  function choose(map, layer, head) {
    map.layer.value = String(layer);
    map.head.value = String(head);
    document.getElementById(map.target).scrollIntoView({block: "nearest"});
  }
  document.addEventListener("toggle", function (event) {
    var el = event.target;
    if (!el.open || !el.hasAttribute || !el.hasAttribute("data-atlas-thumbnails")) return;
    var target = el.getAttribute("data-atlas-thumbnails");
    if (thumbnails[target]) return drawThumbnails(el, target);
    if (!plotData[target]) return;  // the map is not drawn yet: opening again after it is will load them
    var script = document.createElement("script");
    script.src = plotData[target].thumbnails;
    document.head.appendChild(script);
  }, true);

  // Hovering a token of the strip shades the tokens it attends to in the head the token map shows.
  function stripHover(event) {
    var token = event.target.closest && event.target.closest(".atlas-tokens .atlas-token");
    var shown = shownMaps[Object.keys(shownMaps).find(function (t) { return shownMaps[t].n; })];
    if (!token || !shown) return;
    var strip = token.parentNode, spans = strip.querySelectorAll(".atlas-token");
    var query = Array.prototype.indexOf.call(spans, token);
    if (query < 0 || query >= shown.n) return;
    var start = (query * (query + 1)) / 2, largest = 0;
    for (var k = 0; k <= query; k++) {
      if (!isNaN(shown.weight[start + k])) largest = Math.max(largest, shown.weight[start + k]);
    }
    Array.prototype.forEach.call(spans, function (span, key) {
      var value = key <= query ? shown.weight[start + key] : NaN;  // NaN past the query, or not measured
      var weight = !isNaN(value) && largest > 0 ? value / largest : 0;
      span.style.boxShadow = weight > 0.02 ? "inset 0 -0.35em 0 rgba(255, 140, 0, " + weight.toFixed(2) + ")" : "";
      span.setAttribute("data-attended", key > query ? "" : isNaN(value) ? "not measured" : value.toFixed(4));
    });
    token.style.outline = "2px solid rgb(255, 140, 0)";
    strip.setAttribute("data-query", String(query));
  }
  function stripLeave(event) {
    var strip = event.target.closest && event.target.closest(".atlas-tokens");
    if (!strip || strip.contains(event.relatedTarget)) return;
    strip.querySelectorAll(".atlas-token").forEach(function (span) {
      span.style.boxShadow = ""; span.style.outline = ""; span.removeAttribute("data-attended");
    });
    strip.removeAttribute("data-query");
  }
  document.addEventListener("mouseover", stripHover);
  document.addEventListener("mouseout", stripLeave);

  // Copy buttons beside citation snippets: the clipboard where the browser allows it (file:// included in
  // Chromium), else the snippet is selected for the reader to copy.
  function selectText(code) {
    var range = document.createRange();
    range.selectNodeContents(code);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    try { return document.execCommand("copy"); } catch (error) { return false; }
  }
  function copied(button, ok) {
    button.textContent = ok ? "Copied" : "Selected: press Ctrl+C";
    button.setAttribute("data-copied", ok ? "1" : "0");
    setTimeout(function () { button.textContent = "Copy"; button.removeAttribute("data-copied"); }, 2500);
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button.atlas-copy");
    var code = button && button.parentNode.querySelector("pre code");
    if (!code) return;
    var text = code.textContent;
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(function () { copied(button, true); },
                                               function () { copied(button, selectText(code)); });
    } else {
      copied(button, selectText(code));
    }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", embedAll);
  } else {
    embedAll();
  }
})();
