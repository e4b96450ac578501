"""Headless Chromium driven over the Chrome DevTools Protocol, with the standard library only.

`--remote-debugging-pipe` makes Chromium read protocol commands on its file descriptor 3 and
write replies and events on 4, each a JSON object ended by a NUL byte: no websocket, no port.
`Browser.open(path)` loads a local page in a fresh tab and records, from before the first byte is
parsed, every console error, uncaught exception and browser-logged error (a failed load, a bad
image, ...); `Page.evaluate` runs JavaScript there (promises awaited).

Network access is cut (every host name resolves to nothing): a page that needs the internet logs
its failed loads as errors here, whether or not the machine is online.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The first Chromium-like browser on PATH (Debian's package installs `chromium`)."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(RuntimeError):
    """The browser died, timed out or answered a command with an error."""


class Browser:
    """One headless Chromium with a temporary profile; use as a context manager."""

    def __init__(self, executable: str, timeout: float = 120):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="advpretrain-chromium-")
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()

        def on_fds_3_and_4():  # in the child, before exec: the pipe ends become fds 3 and 4
            ends = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser, from_browser)]
            os.dup2(ends[0], 3)
            os.dup2(ends[1], 4)

        command = [executable, "--headless=new", "--no-sandbox", "--remote-debugging-pipe",
                   f"--user-data-dir={self.profile}", "--no-first-run",
                   "--no-default-browser-check", "--disable-dev-shm-usage", "--disable-gpu",
                   "--disable-extensions", "--disable-background-networking",
                   "--disable-component-update", "--disable-sync", "--mute-audio",
                   "--host-resolver-rules=MAP * ~NOTFOUND", "--window-size=1400,1000",
                   "about:blank"]
        self._log = tempfile.TemporaryFile()
        # HOME in the profile too: Chromium writes nothing elsewhere (CI may run as nobody).
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=self._log,
                                        stderr=subprocess.STDOUT, pass_fds=(3, 4),
                                        preexec_fn=on_fds_3_and_4,
                                        env={**os.environ, "HOME": self.profile})
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict] = []

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.send("Browser.close", timeout=10)
            except BrowserError:
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for fd in (self._read, self._write):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def output(self) -> str:
        """What Chromium printed (its last lines), for error messages."""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-3000:]

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("no answer from Chromium in time")
            ready, _, _ = select.select([self._read], [], [], left)
            if ready:
                chunk = os.read(self._read, 1 << 20)
                if not chunk:
                    raise BrowserError(f"Chromium exited ({self.process.poll()}):\n"
                                       f"{self.output()}")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float | None = None) -> dict:
        """Send one command and return its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self._write, data):]
        except BrokenPipeError as error:
            raise BrowserError(f"Chromium exited:\n{self.output()}") from error
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)

    def wait_for(self, method: str, session: str, timeout: float | None = None) -> dict:
        """Wait for the first event ``method`` of ``session`` not yet consumed."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for event in self._events:
                if event.get("method") == method and event.get("sessionId") == session:
                    self._events.remove(event)
                    return event
            event = self._receive(deadline)
            self._events.append(event)

    def forget(self, session: str) -> None:
        self._events = [event for event in self._events if event.get("sessionId") != session]

    def events(self, session: str) -> list[dict]:
        return [event for event in self._events if event.get("sessionId") == session]

    def open(self, path: Path) -> Page:
        """A new tab with the local file ``path`` loaded (its load event fired)."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=session)
        navigated = self.send("Page.navigate", {"url": Path(path).resolve().as_uri()},
                              session=session)
        if navigated.get("errorText"):
            raise BrowserError(f"cannot open {path}: {navigated['errorText']}")
        self.wait_for("Page.loadEventFired", session)
        return Page(self, session, target)


class Page:
    """A loaded tab: JavaScript to evaluate, and the errors it logged."""

    def __init__(self, browser: Browser, session: str, target: str):
        self.browser = browser
        self.session = session
        self.target = target

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target})
        self.browser.forget(self.session)

    def evaluate(self, expression: str, timeout: float | None = None):
        """The value of a JavaScript expression (a promise is awaited), as JSON."""
        result = self.browser.send("Runtime.evaluate",
                                   {"expression": expression, "awaitPromise": True,
                                    "returnByValue": True}, session=self.session,
                                   timeout=timeout)
        if "exceptionDetails" in result:
            raise BrowserError(f"JavaScript failed: {describe_exception(result)}")
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """Every console error, uncaught exception and browser-logged error so far."""
        self.evaluate("0")  # a round trip: events sent before it have arrived
        found = []
        for event in self.browser.events(self.session):
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(f"uncaught exception: {describe_exception(params)}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error",
                                                                                 "assert"):
                args = " ".join(describe_value(arg) for arg in params.get("args", []))
                found.append(f"console.{params['type']}: {args}{where(params)}")
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                entry = params["entry"]
                found.append(f"{entry.get('source', 'browser')} error: {entry.get('text')}"
                             f"{' (' + entry['url'] + ')' if entry.get('url') else ''}")
        return found


def describe_value(value: dict) -> str:
    if "value" in value:
        return str(value["value"])
    return value.get("description") or value.get("type", "?")


def describe_exception(params: dict) -> str:
    details = params.get("exceptionDetails", {})
    exception = details.get("exception") or {}
    text = exception.get("description") or details.get("text", "?")
    return f"{text} (line {details.get('lineNumber', -1) + 1} of {details.get('url') or 'page'})"


def where(params: dict) -> str:
    frames = params.get("stackTrace", {}).get("callFrames", [])
    if not frames:
        return ""
    return f" (line {frames[0].get('lineNumber', -1) + 1} of {frames[0].get('url') or 'page'})"
