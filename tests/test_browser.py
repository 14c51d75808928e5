"""The built book in a real browser: headless Chromium through every page of _build/html.

Run after `make book` (make test-browser). Needs Debian's chromium and chromium-driver
(/usr/bin/chromium, /usr/bin/chromedriver); .ci/run installs them. The browser has no network, so
the test also proves that math and widgets render from the book's own static files. A screenshot
of each page, in the light and the dark theme, is saved under _build/screenshots/.
"""
from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SKIP_DIRS = {"_static", "_sources", "_images"}
PAGES = sorted(p.relative_to(HTML).as_posix() for p in HTML.rglob("*.html") if not SKIP_DIRS & set(p.relative_to(HTML).parts)) if HTML.exists() else []

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server():
    if not PAGES:
        pytest.fail("no built book: run `make book` first")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(HTML))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver")
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("Chromium is missing: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,1600",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    from selenium.webdriver.chrome.service import Service

    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


WAIT_FOR_RENDERING = """
const done = arguments[arguments.length - 1];
const mathReady = window.MathJax && MathJax.startup ? MathJax.startup.promise : Promise.resolve();
mathReady.then(() => {
  const start = Date.now();
  (function poll() {
    const views = document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length;
    const rendered = document.querySelectorAll('.jupyter-widgets, .widget-subarea').length;
    if (rendered >= views || Date.now() - start > 20000) { done(); } else { setTimeout(poll, 200); }
  })();
}).catch(() => done());
"""

PAGE_REPORT = """
const text = document.body.innerText;
const prose = (() => {  // the page text without code, outputs and typeset math
  const copy = document.querySelector('article, main, body').cloneNode(true);
  copy.querySelectorAll('pre, code, script, style, mjx-container, .highlight, .cell_output').forEach(e => e.remove());
  return copy.innerText;
})();
const luminance = (rgb) => {
  const [r, g, b] = rgb.match(/[\\d.]+/g).slice(0, 3).map(v => { v = v / 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const background = (el) => {
  for (; el; el = el.parentElement) {
    const c = getComputedStyle(el).backgroundColor;
    if (c && !c.startsWith('rgba(0, 0, 0, 0)') && c !== 'transparent') return c;
  }
  return 'rgb(255, 255, 255)';
};
const contrast = (el) => {
  const a = luminance(getComputedStyle(el).color), b = luminance(background(el));
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
};
const textNodes = [...document.querySelectorAll('article p, article li, .cell_output pre, article td')].filter(e => e.innerText.trim());
return {
  errors: document.querySelectorAll('.output.error, .output.traceback, .cell_output .traceback').length,
  traceback: text.includes('Traceback (most recent call last)'),
  brokenImages: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src')),
  mathTotal: document.querySelectorAll('.math').length,
  mathRaw: [...document.querySelectorAll('.math')].filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 60)),
  rawTex: (prose.match(/\\$\\$|\\\\\\(|\\\\[a-zA-Z]{2,}/g) || []).slice(0, 5),
  widgetViews: document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length,
  widgetsRendered: document.querySelectorAll('.jupyter-widgets, .widget-subarea').length,
  lowContrast: textNodes.filter(e => contrast(e) < 3).map(e => e.innerText.slice(0, 40)).slice(0, 5),
  links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')),
};
"""


def check_internal_link(page: str, href: str) -> str | None:
    """None if the link resolves inside the book (file and anchor), else what is wrong."""
    url = urlparse(urljoin(f"http://book/{page}", href))
    if url.netloc != "book" or href.startswith(("mailto:", "javascript:")):
        return None
    target = HTML / unquote(url.path.lstrip("/"))
    if target.is_dir():
        target = target / "index.html"
    if not target.exists():
        return f"{href}: no file {target.relative_to(HTML)}"
    if url.fragment and target.suffix == ".html":
        if not re.search(rf'id="{re.escape(unquote(url.fragment))}"', target.read_text(errors="replace")):
            return f"{href}: no anchor #{url.fragment} in {target.relative_to(HTML)}"
    return None


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_completely(page, server, browser):
    browser.get(server + page)
    browser.execute_async_script(WAIT_FOR_RENDERING)
    report = browser.execute_script(PAGE_REPORT)
    name = page.replace("/", "_").removesuffix(".html")
    browser.save_screenshot(str(SHOTS / f"{name}.png"))
    browser.execute_script("document.documentElement.dataset.theme = 'dark'; document.documentElement.dataset.mode = 'dark';")
    dark = browser.execute_script(PAGE_REPORT)
    browser.save_screenshot(str(SHOTS / f"{name}-dark.png"))

    assert report["errors"] == 0 and not report["traceback"], "an output shows an error or a traceback"
    assert not report["brokenImages"], f"images that did not load: {report['brokenImages']}"
    assert not report["mathRaw"], f"math left as raw TeX: {report['mathRaw']}"
    assert not report["rawTex"], f"TeX left in the page text: {report['rawTex']}"
    assert report["widgetsRendered"] >= report["widgetViews"], (
        f"{report['widgetViews']} widget outputs but {report['widgetsRendered']} rendered views")
    shown = urlparse(browser.current_url).path.lstrip("/")  # index.html redirects to the intro page
    broken = [msg for href in set(report["links"]) if (msg := check_internal_link(shown, href))]
    assert not broken, f"broken internal links: {broken}"
    assert not report["lowContrast"], f"text with low contrast (light theme): {report['lowContrast']}"
    assert not dark["lowContrast"], f"text with low contrast (dark theme): {dark['lowContrast']}"


def test_pages_with_math_and_widgets_exist():
    """Guards the test above against passing vacuously: the book has math and widgets to check."""
    text = {p: (HTML / p).read_text() for p in PAGES}
    assert any('class="math' in t for t in text.values())
    assert sum("application/vnd.jupyter.widget-view+json" in t for t in text.values()) >= 2
    assert len(PAGES) >= 10
