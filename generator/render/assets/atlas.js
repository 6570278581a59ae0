// Embed every Bokeh figure on the page from its JSON document (no network, no eval of page text).
(function () {
  function embedAll() {
    document.querySelectorAll("script[data-atlas-plot]").forEach(function (el) {
      var target = el.getAttribute("data-atlas-plot");
      if (document.getElementById(target).childElementCount > 0) return;
      Bokeh.embed.embed_item(JSON.parse(el.textContent), target);
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", embedAll);
  } else {
    embedAll();
  }
})();
