// The ipywidgets in the HTML book (the vendored HTML manager, tools/web_assets.py).
// Loaded after require.js and before the manager's embed-amd.js (_config.yml).
//
// 1. Where the manager finds its fonts. embed-amd.js defines the module
//    "@jupyter-widgets/html-manager/dist/libembed-amd" and loads its font files from the
//    folder RequireJS would load that module from: by default a folder of that name beside
//    the page, which the book does not have (404s). The name maps to the book's own copy.
require.config({
  paths: {
    "@jupyter-widgets/html-manager/dist": new URL("html-manager", document.currentScript.src).href,
  },
});

// 2. Names for what the manager draws without one (WCAG 1.1.1, 4.1.2): a slider's handle
//    (role="slider", its value in aria-valuetext) is named by the slider's description, the
//    parameter it sets; a plot that an interact() draws gets, as its text alternative, the
//    values of the sliders it was drawn for.
(() => {
  const describe = (box) => [...box.querySelectorAll(".widget-slider")]
    .map((s) => `${s.querySelector(".widget-label")?.textContent.trim()} = ${
      s.querySelector(".widget-readout")?.textContent.trim()}`)
    .join(", ");
  const label = () => {
    document.querySelectorAll(".widget-slider").forEach((slider) => {
      const name = slider.querySelector(".widget-label")?.textContent.trim();
      slider.querySelectorAll('[role="slider"]').forEach((handle) => {
        if (name && handle.getAttribute("aria-label") !== name) handle.setAttribute("aria-label", name);
      });
    });
    document.querySelectorAll(".widget-output img:not([alt])").forEach((img) => {
      const box = img.closest(".widget-vbox, .widget-interact") || document;
      img.alt = `Plot drawn for the sliders' values: ${describe(box)}`;
    });
  };
  new MutationObserver(label).observe(document.documentElement, { childList: true, subtree: true });
})();
