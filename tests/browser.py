"""Open an HTML page in headless Chromium and check that every image loaded.

Dependency-free (stdlib only): drives the ``chromium`` binary through
``subprocess`` with ``--dump-dom`` / ``--screenshot``; no Node, Playwright or
WebDriver needed.

How it works: the page is copied (next to the original, so relative URLs still
resolve) with an extra ``<script>`` appended.  After ``window.load`` -- and
after any image still pending has fired ``load``/``error`` -- that script
writes a base64-encoded JSON summary of ``document.images`` into a ``<pre>``
element, which ``--dump-dom`` serialises and we parse back.  A second Chromium
run on the *unmodified* page takes the screenshot.

Usage::

    from browser import check_page, find_chromium
    rep = check_page(Path("results/report.html"), Path("results/report.png"))
    assert rep.images_total > 0 and not rep.images_broken
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PageReport", "BrowserCheckError", "find_chromium", "check_page", "evaluate"]

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Flags verified on Debian 12 (chromium 14x+/15x) running as root with no
# network: --no-sandbox is mandatory as root; the background-networking /
# component-update / sync flags stop Chromium from dialing out; a fresh
# --user-data-dir per run avoids profile-lock clashes between parallel runs;
# --disable-dev-shm-usage avoids crashes in containers with a tiny /dev/shm.
BASE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
)
WINDOW_SIZE = "1400,3000"
VIRTUAL_TIME_BUDGET_MS = 10000
_MARKER_ID = "__nst_browser_check__"
_SRC_MAX = 80

# Runs after the page's own content.  Lazy images are forced eager (they would
# otherwise never load outside the viewport and be reported as broken).  The
# summary is base64(JSON) so the serialised DOM needs no HTML unescaping.
_PROBE_JS = r"""
<script>
(function () {
  var MARK = "%(mark)s";
  function emit(loadFired) {
    if (document.getElementById(MARK)) return;
    var imgs = Array.prototype.slice.call(document.images).map(function (im) {
      return {src: im.getAttribute("src") || im.currentSrc || im.src || "",
              complete: !!im.complete, naturalWidth: im.naturalWidth || 0,
              naturalHeight: im.naturalHeight || 0};
    });
    var data = {title: document.title, load: loadFired, images: imgs};
    var pre = document.createElement("pre");
    pre.id = MARK;
    pre.hidden = true;
    pre.textContent = btoa(unescape(encodeURIComponent(JSON.stringify(data))));
    (document.body || document.documentElement).appendChild(pre);
  }
  function settle(img) {
    if (img.complete) return Promise.resolve();
    return new Promise(function (res) {
      img.addEventListener("load", res, {once: true});
      img.addEventListener("error", res, {once: true});
    });
  }
  Array.prototype.forEach.call(document.images, function (im) {
    if (im.loading === "lazy") im.loading = "eager";
  });
  window.addEventListener("load", function () {
    Promise.all(Array.prototype.map.call(document.images, settle))
      .then(function () { emit(true); });
  });
  // Fallback inside the virtual-time budget: report whatever state we have.
  setTimeout(function () { emit(false); }, %(fallback_ms)d);
})();
</script>
"""

_MARKER_RE = re.compile(r'<pre[^>]*id="' + _MARKER_ID + r'"[^>]*>([A-Za-z0-9+/=\s]*)</pre>')


class BrowserCheckError(RuntimeError):
    """Chromium failed, timed out, or the page never produced a summary."""


@dataclass
class PageReport:
    images_total: int
    images_broken: list[str] = field(default_factory=list)
    title: str = ""
    screenshot: Path = Path()
    load_fired: bool = True  # False: window.load never fired within the budget

    @property
    def ok(self) -> bool:
        return not self.images_broken and self.load_fired


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome binary on PATH, or None."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _run_chromium(binary: str, args: list[str], timeout_s: float) -> subprocess.CompletedProcess:
    """Run chromium with a fresh profile; kill the whole process group on timeout."""
    with tempfile.TemporaryDirectory(prefix="nst-chromium-profile-") as profile:
        cmd = [binary, *BASE_FLAGS, f"--user-data-dir={profile}", *args]
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # own process group: renderer/GPU children die with it
        )
        try:
            out, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.communicate()
            raise BrowserCheckError(f"chromium timed out after {timeout_s:g}s: {' '.join(cmd)}") from None
        finally:
            # Stray zygote/utility processes occasionally outlive the browser.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    return subprocess.CompletedProcess(
        cmd, proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    )


def _stderr_tail(err: str, n: int = 15) -> str:
    # Chromium spams harmless dbus errors without a system bus; drop them.
    lines = [ln for ln in err.splitlines() if "dbus" not in ln.lower()]
    return "\n".join(lines[-n:])


def _inject_probe(html: str) -> str:
    probe = _PROBE_JS % {"mark": _MARKER_ID, "fallback_ms": max(VIRTUAL_TIME_BUDGET_MS - 1000, 1000)}
    idx = html.lower().rfind("</body>")
    if idx == -1:
        return html + probe
    return html[:idx] + probe + html[idx:]


def check_page(html_path: Path, screenshot_path: Path, timeout_s: float = 120) -> PageReport:
    """Load ``html_path`` in headless Chromium, summarise its images, screenshot it.

    Raises BrowserCheckError if Chromium is missing, fails, times out, or does
    not produce the summary / a non-empty screenshot.  ``timeout_s`` applies to
    each of the two Chromium invocations.
    """
    binary = find_chromium()
    if binary is None:
        raise BrowserCheckError(
            "no chromium/chromium-browser/google-chrome on PATH "
            "(Debian: apt-get install -y --no-install-recommends chromium)"
        )
    html_path = Path(html_path).resolve()
    screenshot_path = Path(screenshot_path).resolve()
    if not html_path.is_file():
        raise FileNotFoundError(html_path)

    common = [f"--window-size={WINDOW_SIZE}", f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}"]

    # 1) DOM dump of a probed copy placed beside the original (relative URLs keep working).
    html = html_path.read_text(encoding="utf-8", errors="surrogateescape")
    fd, probe_name = tempfile.mkstemp(prefix=f".{html_path.stem}.probe-", suffix=".html", dir=html_path.parent)
    probe_path = Path(probe_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(_inject_probe(html))
        res = _run_chromium(binary, [*common, "--dump-dom", probe_path.as_uri()], timeout_s)
    finally:
        probe_path.unlink(missing_ok=True)
    m = _MARKER_RE.search(res.stdout)
    if res.returncode != 0 or not m:
        raise BrowserCheckError(
            f"no image summary from chromium (rc={res.returncode}, {len(res.stdout)} bytes of DOM)\n"
            + _stderr_tail(res.stderr)
        )
    data = json.loads(base64.b64decode("".join(m.group(1).split())).decode("utf-8"))

    images = data["images"]
    broken = [img["src"][:_SRC_MAX] for img in images if not img["complete"] or img["naturalWidth"] == 0]

    # 2) Screenshot of the unmodified page.
    screenshot_path.parent.mkdir(parents=True, exist_ok=True)
    screenshot_path.unlink(missing_ok=True)
    res = _run_chromium(binary, [*common, f"--screenshot={screenshot_path}", html_path.as_uri()], timeout_s)
    if res.returncode != 0 or not screenshot_path.is_file() or screenshot_path.stat().st_size == 0:
        raise BrowserCheckError(f"chromium screenshot failed (rc={res.returncode})\n" + _stderr_tail(res.stderr))

    return PageReport(
        images_total=len(images),
        images_broken=broken,
        title=data["title"],
        screenshot=screenshot_path,
        load_fired=bool(data["load"]),
    )


_EVALUATE_JS = r"""
<script>
window.addEventListener("load", function () {
  var result;
  try { result = {value: (function () { %(body)s })()}; } catch (error) { result = {error: String(error)}; }
  var pre = document.createElement("pre");
  pre.id = "%(mark)s";
  pre.hidden = true;
  pre.textContent = btoa(unescape(encodeURIComponent(JSON.stringify(result))));
  document.body.appendChild(pre);
});
</script>
"""


def evaluate(html_path: Path, body: str, timeout_s: float = 120):
    """Run the JavaScript function body `body` in the page once it has loaded (after the page's own
    scripts) and return what it returns (JSON-able); BrowserCheckError if it throws."""
    binary = find_chromium()
    if binary is None:
        raise BrowserCheckError("no chromium on PATH")
    html_path = Path(html_path).resolve()
    html = html_path.read_text(encoding="utf-8")
    script = _EVALUATE_JS % {"body": body, "mark": _MARKER_ID}
    index = html.lower().rfind("</body>")
    fd, name = tempfile.mkstemp(prefix=f".{html_path.stem}.eval-", suffix=".html", dir=html_path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(html[:index] + script + html[index:] if index != -1 else html + script)
        common = [f"--window-size={WINDOW_SIZE}", f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}"]
        res = _run_chromium(binary, [*common, "--dump-dom", Path(name).as_uri()], timeout_s)
    finally:
        Path(name).unlink(missing_ok=True)
    m = _MARKER_RE.search(res.stdout)
    if res.returncode != 0 or not m:
        raise BrowserCheckError(f"no result from chromium (rc={res.returncode})\n" + _stderr_tail(res.stderr))
    result = json.loads(base64.b64decode("".join(m.group(1).split())).decode("utf-8"))
    if "error" in result:
        raise BrowserCheckError(f"the script threw: {result['error']}")
    return result.get("value")


if __name__ == "__main__":  # python tests/browser.py page.html shot.png
    import sys

    rep = check_page(Path(sys.argv[1]), Path(sys.argv[2] if len(sys.argv) > 2 else "screenshot.png"))
    print(
        json.dumps(
            {
                "images_total": rep.images_total,
                "images_broken": rep.images_broken,
                "title": rep.title,
                "screenshot": str(rep.screenshot),
                "load_fired": rep.load_fired,
            },
            indent=2,
        )
    )
    sys.exit(0 if rep.ok else 1)
