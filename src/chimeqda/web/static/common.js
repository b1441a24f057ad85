// Small page helpers: the CSP forbids inline styles, so sizes and colours come from data attributes.
(function () {
  "use strict";
  document.querySelectorAll("[data-width]").forEach((node) => { node.style.width = node.dataset.width + "%"; });
  document.querySelectorAll("[data-color]").forEach((node) => { if (node.dataset.color) node.style.backgroundColor = node.dataset.color; });
})();
