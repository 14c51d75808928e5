"""The built book in a real browser: headless Chromium through every page of _build/html.

Run after `make book` (make test-browser). Needs Debian's chromium and chromium-driver
(/usr/bin/chromium, /usr/bin/chromedriver); .ci/run installs them. The browser has no network, so
the test also proves that math, widgets and the plotly explorers render from the book's own static
files. A screenshot of each page, in the light and the dark theme, is saved under _build/screenshots/,
and one per feature: answer-folded.png / answer-open.png (one answer opened by its reader),
answers-all-shown.png (the "Show all answers" switch), explorer-<name>-before.png / -after.png
(each explorer before and after its slider moved), keyboard-*.png (the keyboard walk).

Accessibility: every page is audited with axe-core (vendored from npm into _vendor_test/ by
tools/web_assets.py) against WCAG 2.0 and 2.1, levels A and AA, in the light and the dark theme,
with its answers folded and shown; any violation fails, and so does any request of a page that
fails (a 4xx/5xx answer or a network error, from Chromium's performance log).

$BOOK_HTML points the test at another build (default: _build/html of this repository).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("BOOK_HTML") or ROOT / "_build" / "html").resolve()
SHOTS = HTML.parent / "screenshots"
AXE = ROOT / "_vendor_test" / "axe-core" / "axe.min.js"
# Debian's packages by default; $CHROMIUM and $CHROMEDRIVER name others (GitHub's runner: Chrome)
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
SKIP_DIRS = {"_static", "_sources", "_images"}
PAGES = (
    sorted(
        p.relative_to(HTML).as_posix()
        for p in HTML.rglob("*.html")
        if not SKIP_DIRS & set(p.relative_to(HTML).parts)
    )
    if HTML.exists()
    else []
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server():
    if not PAGES:
        pytest.fail("no built book: run `make book` first")
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(HTML)
    )
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver")
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail(
            "Chromium is missing: apt-get install chromium chromium-driver"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1600",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    # the network log, for failed requests; the console, for their messages
    options.set_capability(
        "goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"}
    )
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
const background = (el) => {  // what is drawn behind el: translucent layers blended down
  const layers = [];
  for (; el; el = el.parentElement) {
    const c = getComputedStyle(el).backgroundColor;
    const v = (c || '').match(/[\\d.]+/g);
    if (!v || (v.length > 3 && Number(v[3]) === 0)) continue;
    layers.push(v.map(Number).concat(v.length > 3 ? [] : [1]));
    if (layers[layers.length - 1][3] === 1) break;
  }
  let rgb = [255, 255, 255];
  for (const [r, g, b, a] of layers.reverse()) rgb = [r, g, b].map((x, i) => a * x + (1 - a) * rgb[i]);
  return `rgb(${rgb.join(', ')})`;
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
    anchor = rf'id="{re.escape(unquote(url.fragment))}"'
    if (
        url.fragment
        and target.suffix == ".html"
        and not re.search(anchor, target.read_text(errors="replace"))
    ):
        return (
            f"{href}: no anchor #{url.fragment} in {target.relative_to(HTML)}"
        )
    return None


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_completely(page, server, browser):
    browser.get(server + page)
    browser.execute_async_script(WAIT_FOR_RENDERING)
    report = browser.execute_script(PAGE_REPORT)
    name = page.replace("/", "_").removesuffix(".html")
    browser.save_screenshot(str(SHOTS / f"{name}.png"))
    browser.execute_script(
        "document.documentElement.dataset.theme = 'dark'; document.documentElement.dataset.mode = 'dark';"
    )
    dark = browser.execute_script(PAGE_REPORT)
    browser.save_screenshot(str(SHOTS / f"{name}-dark.png"))

    assert report["errors"] == 0 and not report["traceback"], (
        "an output shows an error or a traceback"
    )
    assert not report["brokenImages"], (
        f"images that did not load: {report['brokenImages']}"
    )
    assert not report["mathRaw"], f"math left as raw TeX: {report['mathRaw']}"
    assert not report["rawTex"], (
        f"TeX left in the page text: {report['rawTex']}"
    )
    assert report["widgetsRendered"] >= report["widgetViews"], (
        f"{report['widgetViews']} widget outputs but {report['widgetsRendered']} rendered views"
    )
    shown = urlparse(browser.current_url).path.lstrip(
        "/"
    )  # index.html redirects to the intro page
    broken = [
        msg
        for href in set(report["links"])
        if (msg := check_internal_link(shown, href))
    ]
    assert not broken, f"broken internal links: {broken}"
    assert not report["lowContrast"], (
        f"text with low contrast (light theme): {report['lowContrast']}"
    )
    assert not dark["lowContrast"], (
        f"text with low contrast (dark theme): {dark['lowContrast']}"
    )


def test_pages_with_math_and_widgets_exist():
    """Guards the test above against passing vacuously: the book has math and widgets to check."""
    text = {p: (HTML / p).read_text() for p in PAGES}
    assert any('class="math' in t for t in text.values())
    assert (
        sum(
            "application/vnd.jupyter.widget-view+json" in t
            for t in text.values()
        )
        >= 2
    )
    assert len(PAGES) >= 10


# ------------------------------------------------------------------ try first: folded answers

ANSWERS = """
return [...document.querySelectorAll('.solution.toggle')].map(a => ({
  id: a.id,
  folded: a.classList.contains('toggle-hidden'),
  // what the reader sees of the answer: its body, not its title
  shown: [...a.children].filter(c => !c.classList.contains('admonition-title'))
                        .map(c => c.offsetHeight > 0 ? c.innerText : '').join(' ').trim(),
}));
"""
ANSWER_PAGE = "chapters/approximation.html"


def load(browser, url):
    browser.get(url)
    browser.execute_async_script(WAIT_FOR_RENDERING)


def test_an_answer_is_folded_until_its_reader_opens_it(server, browser):
    load(browser, server + ANSWER_PAGE)
    answers = browser.execute_script(ANSWERS)
    assert len(answers) >= 5 and all(
        a["folded"] and not a["shown"] for a in answers
    ), f"answers on {ANSWER_PAGE} are not all folded: {answers}"
    first = browser.find_element("css selector", ".solution.toggle")
    title = first.find_element("css selector", ".admonition-title")
    browser.execute_script(
        "arguments[0].scrollIntoView({block: 'start'});", first
    )
    assert "Show answer" in (
        title.find_element("css selector", "button").get_attribute(
            "data-toggle-hint"
        )
        or ""
    )
    browser.save_screenshot(str(SHOTS / "answer-folded.png"))
    title.click()
    opened = browser.execute_script(ANSWERS)[0]
    browser.save_screenshot(str(SHOTS / "answer-open.png"))
    assert not opened["folded"] and len(opened["shown"]) > 40, (
        f"the answer did not open: {opened}"
    )
    assert all(a["folded"] for a in browser.execute_script(ANSWERS)[1:]), (
        "one click opened more than one answer"
    )


def test_show_all_answers_opens_every_answer(server, browser):
    load(browser, server + ANSWER_PAGE)
    button = browser.find_element("css selector", "button.show-all-answers")
    assert button.text == "Show all answers"
    browser.execute_script("window.scrollTo(0, 0);")
    button.click()
    answers = browser.execute_script(ANSWERS)
    assert all(not a["folded"] and a["shown"] for a in answers), [
        a["id"] for a in answers if a["folded"]
    ]
    assert button.text == "Hide all answers"
    browser.save_screenshot(str(SHOTS / "answers-all-shown.png"))
    button.click()
    assert all(a["folded"] for a in browser.execute_script(ANSWERS))
    # the same switch as a link: ?answers=show
    load(browser, server + ANSWER_PAGE + "?answers=show")
    assert all(not a["folded"] for a in browser.execute_script(ANSWERS))


def test_answers_are_folded_in_every_chapter_and_the_results_page_stays_open():
    text = {p: (HTML / p).read_text() for p in PAGES}
    folded = {p for p, t in text.items() if 'class="solution dropdown' in t}
    chapters = {p for p in PAGES if p.startswith("chapters/")}
    assert folded, "no folded answers in the book"
    assert folded <= chapters and "results.html" not in folded
    missing = sorted(chapters - folded)
    assert not missing, f"chapters without folded answers: {missing}"


# ------------------------------------------------------------------ explorers without a kernel

EXPLORERS = {  # name: page with exactly one plotly explorer (hwlib.explorers)
    "weights": "chapters/approximation.html",
    "conv": "chapters/conv_matrix.html",
    "fold": "chapters/depth_folding.html",
}
WAIT_FOR_PLOTS = """
const done = arguments[arguments.length - 1];
const start = Date.now();
(function poll() {
  const wanted = document.querySelectorAll('div[id^="hwlib-"]').length;
  const drawn = document.querySelectorAll('div[id^="hwlib-"].js-plotly-plot .main-svg').length;
  if (drawn >= wanted || Date.now() - start > 20000) { done([wanted, drawn]); }
  else { setTimeout(poll, 200); }
})();
"""


@pytest.mark.parametrize("name", EXPLORERS)
def test_explorer_slider_changes_the_picture_without_a_kernel(
    name, server, browser
):
    from selenium.webdriver import ActionChains

    load(browser, server + EXPLORERS[name])
    wanted, drawn = browser.execute_async_script(WAIT_FOR_PLOTS)
    assert wanted == 1 and drawn >= 1, (
        f"{wanted} explorers on the page, {drawn} drawn"
    )
    plot = browser.find_element("css selector", 'div[id^="hwlib-"]')
    browser.execute_script(
        "arguments[0].scrollIntoView({block: 'center'});", plot
    )

    def picture():  # the plotting area (traces, heatmaps) and the slider's value
        return browser.execute_script(
            "const gd = arguments[0];"
            "return [gd.querySelector('.cartesianlayer').innerHTML,"
            "        gd.querySelector('.slider-group > .slider-label').textContent];",
            plot,
        )

    before, before_value = picture()
    plot.screenshot(str(SHOTS / f"explorer-{name}-before.png"))
    rail = plot.find_element("css selector", ".slider-rail-touch-rect")
    # click three quarters along the slider's rail, as a reader would
    ActionChains(browser).move_to_element_with_offset(
        rail, rail.size["width"] // 4, 0
    ).click().perform()
    browser.execute_script("return new Promise(r => setTimeout(r, 500));")
    after, after_value = picture()
    plot.screenshot(str(SHOTS / f"explorer-{name}-after.png"))
    assert after_value != before_value, (
        f"the slider stayed at {before_value!r}"
    )
    assert after != before, (
        f"the slider moved to {after_value!r} but the picture did not change"
    )


# ------------------------------------------------------------------ code that fits the column

WIDE_CODE = """
document.querySelectorAll('details').forEach(d => d.open = true);      // hidden cells too
document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
return [...document.querySelectorAll('article div.highlight pre')]
  .filter(pre => !pre.closest('.cell_output'))          // code, not what it prints
  .filter(pre => pre.scrollWidth > pre.clientWidth + 1)
  .map(pre => [pre.innerText.split('\\n').find(l => l.trim()) || '', pre.scrollWidth, pre.clientWidth]);
"""


def test_no_code_cell_scrolls_sideways(server, browser):
    """Every page, all answers and hidden cells open, at the browser's 1280 px width."""
    offenders = []
    for page in PAGES:
        load(browser, server + page)
        for first_line, wide, shown in browser.execute_script(WIDE_CODE):
            offenders.append(
                f"{page}: {first_line[:70]!r} ({wide} px in {shown} px)"
            )
    assert not offenders, (
        f"{len(offenders)} code blocks scroll sideways:\n"
        + "\n".join(offenders)
    )


# ------------------------------------------------------------------ accessibility: WCAG 2 A/AA

WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})
  .then(r => done(r.violations.map(v => ({
     id: v.id, impact: v.impact, help: v.help,
     nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary.replace(/\\s+/g, ' '))}))))
  .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));
"""
SET_THEME = """
const done = arguments[arguments.length - 1];
document.documentElement.dataset.theme = arguments[0];
document.documentElement.dataset.mode = arguments[0];
setTimeout(done, 1000);  // the theme's colour transitions (0.25 s) end before axe looks
"""
STATES = [  # (theme, answers): every page is audited in each
    ("light", "folded"),
    ("light", "shown"),
    ("dark", "folded"),
    ("dark", "shown"),
]


def failed_requests(browser) -> list[str]:
    """The requests since the last call that failed: 4xx/5xx, or no answer."""
    urls, failed = {}, []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
        elif message["method"] == "Network.responseReceived":
            response = params["response"]
            if response["status"] >= 400:
                failed.append(f"{response['status']} {response['url']}")
        elif message["method"] == "Network.loadingFailed" and not params.get(
            "canceled"
        ):
            url = urls.get(params["requestId"], params["requestId"])
            failed.append(f"{params['errorText']} {url}")
    return failed


def audit(browser, url: str) -> list[str]:
    """axe's WCAG 2 A/AA violations of the page at url in each of STATES."""
    found = []
    for theme, answers in STATES:
        load(browser, url + ("?answers=show" if answers == "shown" else ""))
        browser.execute_async_script(WAIT_FOR_PLOTS)
        browser.execute_async_script(SET_THEME, theme)
        if answers == "shown":
            folded = browser.execute_script(ANSWERS)
            assert not any(a["folded"] for a in folded), "answers still folded"
        browser.execute_script(AXE.read_text())
        for v in browser.execute_async_script(RUN_AXE, WCAG):
            found += [
                f"[{theme}, answers {answers}] {v['id']} ({v['impact']}): {v['help']}: {n}"
                for n in v["nodes"] or [""]
            ]
    return found


@pytest.mark.parametrize("page", PAGES)
def test_page_meets_wcag2_aa_and_loads_every_file(page, server, browser):
    if not AXE.exists():
        pytest.fail(f"no {AXE}: run tools/web_assets.py (fetches axe-core)")
    browser.get("about:blank")
    failed_requests(browser)  # forget what came before
    violations = audit(browser, server + page)
    failed = sorted(set(failed_requests(browser)))
    assert not violations, (
        f"{len(violations)} WCAG 2 A/AA violations on {page}:\n"
        + "\n".join(violations)
    )
    assert not failed, f"failed requests on {page}:\n" + "\n".join(failed)


# ------------------------------------------------------------------ keyboard only

KEYBOARD_PAGE = (
    "chapters/approximation.html"  # answers, ipywidgets, an explorer
)
FOCUSED = """
const e = document.activeElement, sel = arguments[0];
return !!(e && e !== document.body && (e.matches(sel) || e.closest(sel)));
"""


def tab_to(browser, selector: str, limit: int = 600) -> int:
    """Press TAB until the focused element matches selector; the presses."""
    from selenium.webdriver import ActionChains
    from selenium.webdriver.common.keys import Keys

    for presses in range(1, limit + 1):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        if browser.execute_script(FOCUSED, selector):
            return presses
    pytest.fail(f"{selector} not reached in {limit} presses of TAB")


def press(browser, key) -> None:
    from selenium.webdriver import ActionChains

    ActionChains(browser).send_keys(key).perform()
    browser.execute_script("return new Promise(r => setTimeout(r, 400));")


def test_every_control_works_from_the_keyboard(server, browser):
    """TAB reaches each kind of control of a chapter; its keys work it."""
    from selenium.webdriver.common.keys import Keys

    state = "return [document.documentElement.dataset.mode, " + (
        "document.activeElement.getAttribute('aria-valuetext')];"
    )
    # the theme switch: ENTER changes the colour mode
    load(browser, server + KEYBOARD_PAGE)
    tab_to(browser, ".theme-switch-button")
    before = browser.execute_script(state)[0]
    press(browser, Keys.ENTER)
    assert browser.execute_script(state)[0] != before, "theme switch: ENTER"
    browser.save_screenshot(str(SHOTS / "keyboard-theme-switch.png"))
    # an answer: its toggle opens it with ENTER
    load(browser, server + KEYBOARD_PAGE)
    tab_to(browser, ".solution .toggle-button")
    press(browser, Keys.ENTER)
    answers = browser.execute_script(ANSWERS)
    assert not answers[0]["folded"] and answers[0]["shown"], "answer: ENTER"
    browser.save_screenshot(str(SHOTS / "keyboard-answer-open.png"))
    # "Show all answers": ENTER
    load(browser, server + KEYBOARD_PAGE)
    tab_to(browser, "button.show-all-answers")
    press(browser, Keys.ENTER)
    assert not any(a["folded"] for a in browser.execute_script(ANSWERS))
    # with the answers shown: an ipywidgets slider, then the plotly explorer
    load(browser, server + KEYBOARD_PAGE + "?answers=show")
    browser.execute_async_script(WAIT_FOR_PLOTS)
    for name, selector in (
        ("widget", '.widget-slider [role="slider"]'),
        ("explorer", '.js-plotly-plot .slider-group[role="slider"]'),
    ):
        tab_to(browser, selector)
        value = browser.execute_script(state)[1]
        press(browser, Keys.ARROW_RIGHT)
        moved = browser.execute_script(state)[1]
        browser.save_screenshot(str(SHOTS / f"keyboard-{name}.png"))
        assert value is not None and moved != value, (
            f"{name} slider: ARROW_RIGHT left it at {value!r}"
        )


def test_a_missing_file_counts_as_a_failed_request(server, browser):
    """Guards the audit's request check against passing vacuously."""
    browser.get("about:blank")
    failed_requests(browser)
    browser.get(server + "no-such-page.html")
    assert any("404" in f for f in failed_requests(browser))
