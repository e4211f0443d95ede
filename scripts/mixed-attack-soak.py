#!/usr/bin/env python3
"""Soaks a real Chatterbox server in mixed attacks while honest users chat (SECURITY.md, issue 21).

    scripts/mixed-attack-soak.py CHATTERBOX [--seconds S] [--honest N] [--json FILE] [...]
        [-- SERVER-ARGUMENTS...]

Starts `CHATTERBOX server` (TLS with the CA it generates, 127.0.0.1, a free port) on a temporary
data directory made with --init and seeded with messages, then for S seconds (default 180) runs,
all at once and from their own loopback addresses (127.X.Y.Z; --limit-loopback makes the server
count them as it counts internet peers): connection floods and churn, slowloris (silent TCP,
half a TLS handshake, no login, a frame dribbled a byte at a time), oversized and malformed
frames, password guessing against a registered name from rotating addresses, search and history
floods, file-offer floods, readers that never read beside senders of large broadcasts at the
allowed rate, message floods above the rate limit, and fuzzed frames (mutated and random JSON,
random bytes). Meanwhile honest users (another process) chat, timing each message's round trip
and every other honest user's receipt of it, fresh users log in one after another, and the
registered name's owner logs in with its password. The server's RSS, descriptors and CPU time are
sampled twice a second.

Checks (exit status 1 if any fails): the server ran throughout; no honest message was lost and
no honest user was disconnected or sent an ERROR; honest latency and login times within the
bounds given (--max-p99-ms, --max-latency-ms, --max-login-p99-ms, --max-login-ms); the owner got
in every time; no guess got in; each slowloris connection was closed within its timeout (plus
slack); peak RSS under --max-rss-mib; descriptors back within --fd-slack of where they were
before the attacks once the attackers leave; exit status 0 after SIGTERM within 60 s.

Python 3 standard library only. Needs a release build: swift build -c release --product chatterbox.
The attackers and the honest users are separate processes; on a machine with few cores they
compete with the server for CPU, so the latencies include the generator's own delays.
"""
import argparse, asyncio, base64, collections, hashlib, json, logging, multiprocessing, os, random, re, resource
import signal, socket, sqlite3, ssl, statistics, struct, subprocess, sys, tempfile, threading, time, zlib

SERVER_USER = "Chatterbox"
OWNER, OWNER_PASSWORD = "owner", "correct horse battery staple"
HOST = "127.0.0.1"


# ---------------------------------------------------------------- frames

def encode(value):
    return raw_frame(json.dumps(value).encode())


def raw_frame(payload):
    return struct.pack(">I", len(payload)) + payload


async def read_frame(reader):
    length = struct.unpack(">I", await reader.readexactly(4))[0]
    payload = await reader.readexactly(length)
    if payload[:1] == b"\0":  # feature deflate: a raw deflate stream after one zero byte
        payload = zlib.decompress(payload[1:], -15)
    return json.loads(payload)


def error_kind(text):
    """The first words of an ERROR or INFO, numbers and names out, to count replies by kind."""
    words = re.sub(r"[0-9]+", "N", str(text)).split()[:4]
    return " ".join(words)[:48]


def tls_context(ca_file):
    context = ssl.create_default_context(cafile=ca_file)
    return context


async def connect(port, source, context, timeout=30, receive_buffer=None):
    """A connection from the loopback address source (TLS unless context is None)."""
    async def open_connection():
        if receive_buffer is None:
            return await asyncio.open_connection(
                HOST, port, ssl=context, server_hostname=HOST if context else None, local_addr=(source, 0),
                ssl_handshake_timeout=timeout if context else None)
        # A small receive buffer, set before connecting (the window is agreed then), so that a
        # client that stops reading stops the server's sending at once rather than after the
        # several megabytes of an autotuned loopback buffer.
        sock = socket.socket()
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            sock.bind((source, 0))
            await asyncio.get_running_loop().sock_connect(sock, (HOST, port))
            return await asyncio.open_connection(sock=sock, ssl=context, server_hostname=HOST,
                                                 ssl_handshake_timeout=timeout)
        except BaseException:
            sock.close()
            raise
    return await asyncio.wait_for(open_connection(), timeout)


def close(writer):
    try:
        writer.transport.abort()
    except Exception:
        pass


def percentile(values, fraction):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summary(values):
    if not values:
        return {"count": 0}
    return {"count": len(values), "p50": percentile(values, 0.5), "p99": percentile(values, 0.99),
            "max": max(values)}


def quiet_asyncio():
    # A write to a connection the server has closed is logged by asyncio each time: expected here.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)


def raise_descriptor_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# ---------------------------------------------------------------- honest users

class Honest:
    """One honest user: logs in, chats at a human pace, records what it receives."""

    def __init__(self, run, name, features):
        self.run, self.name, self.features = run, name, features
        self.received = {}        # (sender, seq) -> monotonic time of receipt
        self.errors = []
        self.disconnected = None
        self.sequence = 0

    async def start(self):
        self.reader, self.writer = await connect(self.run.port, HOST, self.run.context)
        login = {"USERNAME": self.name}
        if self.features:
            login["FEATURES"] = ["commands", "accounts", "history", "deflate", "files"]
        self.writer.write(encode(login))
        while True:
            reply = await read_frame(self.reader)
            if "USERNAME_ACCEPTED" in reply:
                if reply["USERNAME_ACCEPTED"] is not True:
                    raise RuntimeError("honest user %s refused: %s" % (self.name, reply.get("INFO")))
                break
        self.reading = asyncio.ensure_future(self.read())

    async def read(self):
        try:
            while True:
                frame = await read_frame(self.reader)
                now = time.monotonic()
                if "ERROR" in frame:
                    self.errors.append(frame["ERROR"])
                for message in frame.get("MESSAGES", []) if isinstance(frame.get("MESSAGES"), list) else []:
                    content = message[3] if len(message) == 4 and isinstance(message[3], str) else ""
                    if content.startswith("honest "):
                        parts = content.split(" ", 3)
                        if message[0] == parts[1]:
                            self.received.setdefault((parts[1], int(parts[2])), now)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, OSError) as error:
            if not self.run.stopping:
                self.disconnected = "%s at %.1f s" % (type(error).__name__, time.monotonic() - self.run.began)
        except asyncio.CancelledError:
            pass

    def send(self, others):
        self.sequence += 1
        dest = "ALL" if self.sequence % 5 or not others else random.choice(others).name
        filler = "x" * random.randint(10, 400)
        content = "honest %s %d %s" % (self.name, self.sequence, filler)
        self.run.sent[(self.name, self.sequence)] = (time.monotonic(), dest)
        self.writer.write(encode({"MESSAGES": [[self.name, dest, int(time.time()), content]]}))


class HonestRun:
    def __init__(self, port, ca_file, options):
        self.port, self.options = port, options
        self.context = tls_context(ca_file)
        self.sent = {}
        self.stopping = False
        self.logins, self.owner_logins, self.login_failures, self.owner_failures = [], [], [], []

    async def register_owner(self):
        reader, writer = await connect(self.port, HOST, self.context)
        writer.write(encode({"USERNAME": OWNER, "FEATURES": ["commands", "accounts"]}))
        while "USERNAME_ACCEPTED" not in await read_frame(reader):
            pass
        writer.write(encode({"MESSAGES": [[OWNER, SERVER_USER, int(time.time()), "/Register " + OWNER_PASSWORD]]}))
        while True:
            frame = await read_frame(reader)
            texts = [m[3] for m in frame.get("MESSAGES", []) if len(m) == 4]
            if any("Registered" in text for text in texts):
                break
            if "ERROR" in frame:
                raise RuntimeError("could not register the owner: " + frame["ERROR"])
        close(writer)

    async def timed_login(self, name, password=None, features=True):
        started = time.monotonic()
        reader, writer = await connect(self.port, HOST, self.context)
        try:
            login = {"USERNAME": name}
            if features:
                login["FEATURES"] = ["commands", "accounts", "history", "deflate", "files"]
            if password:
                login["PASSWORD"] = password
            writer.write(encode(login))
            while True:
                reply = await asyncio.wait_for(read_frame(reader), 60)
                if "USERNAME_ACCEPTED" in reply:
                    return time.monotonic() - started, reply
        finally:
            close(writer)

    async def probe_logins(self):
        count = 0
        while not self.stopping:
            count += 1
            try:
                seconds, reply = await self.timed_login("probe%d" % count, features=count % 5 != 0)
                (self.logins if reply["USERNAME_ACCEPTED"] is True else self.login_failures).append(
                    seconds if reply["USERNAME_ACCEPTED"] is True else reply.get("INFO"))
            except Exception as error:
                if not self.stopping:
                    self.login_failures.append("%s: %s" % (type(error).__name__, error))
            await asyncio.sleep(self.options.login_interval)

    async def probe_owner(self):
        while not self.stopping:
            await asyncio.sleep(self.options.owner_interval)
            if self.stopping:
                break
            try:
                seconds, reply = await self.timed_login(OWNER, OWNER_PASSWORD)
                if reply["USERNAME_ACCEPTED"] is True:
                    self.owner_logins.append(seconds)
                else:
                    self.owner_failures.append(reply.get("INFO"))
            except Exception as error:
                if not self.stopping:
                    self.owner_failures.append("%s: %s" % (type(error).__name__, error))

    async def chat(self, users):
        interval = 1.0 / self.options.honest_rate
        while not self.stopping:
            for user in users:
                if user.disconnected is None:
                    user.send([other for other in users if other is not user])
            await asyncio.sleep(interval * random.uniform(0.8, 1.2))

    async def main(self, ready, stop, results):
        self.began = time.monotonic()
        await self.register_owner()
        users = [Honest(self, "honest%d" % index, index % 2 == 0) for index in range(self.options.honest)]
        for user in users:
            await user.start()
        ready.set()
        tasks = [asyncio.ensure_future(task) for task in (self.chat(users), self.probe_logins(), self.probe_owner())]
        while not stop.is_set():
            await asyncio.sleep(0.2)
        self.stopping = True
        for task in tasks:
            task.cancel()
        # Every message sent must come back to its sender and reach its recipients (all: every
        # honest user). Bounded wait for the last ones in flight.
        expected = {}
        for (sender, sequence), (_, dest) in self.sent.items():
            expected[(sender, sequence)] = [u for u in users if dest == "ALL" or u.name in (sender, dest)]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(key not in u.received for key, us in expected.items() for u in us):
            await asyncio.sleep(0.2)
        echo, delivery, lost = [], [], []
        for key, recipients in expected.items():
            sent_at = self.sent[key][0]
            for user in recipients:
                if key not in user.received:
                    lost.append("%s %d to %s" % (key[0], key[1], user.name))
                elif user.name == key[0]:
                    echo.append((user.received[key] - sent_at) * 1000)
                else:
                    delivery.append((user.received[key] - sent_at) * 1000)
        results.put({
            "messages_sent": len(self.sent), "deliveries_expected": sum(len(us) for us in expected.values()),
            "lost": lost[:20], "lost_count": len(lost),
            "echo_ms": summary(echo), "delivery_ms": summary(delivery),
            "logins_s": summary(self.logins), "login_failures": self.login_failures[:20],
            "owner_logins_s": summary(self.owner_logins), "owner_failures": self.owner_failures[:20],
            "errors": [e for u in users for e in u.errors][:20],
            "disconnected": {u.name: u.disconnected for u in users if u.disconnected},
        })
        await stop_shutdown_wait(users)


async def stop_shutdown_wait(users):
    # The users stay connected until the main process has stopped the server (they should be
    # told goodbye and closed); the main process kills this process once it is done.
    await asyncio.sleep(3600)


def honest_process(port, ca_file, options, ready, stop, results):
    raise_descriptor_limit()
    quiet_asyncio()
    try:
        asyncio.run(HonestRun(port, ca_file, options).main(ready, stop, results))
    except Exception as error:
        results.put({"fatal": "%s: %s" % (type(error).__name__, error)})
        ready.set()


# ---------------------------------------------------------------- attackers

class Family:
    """Counters of one kind of attack."""

    def __init__(self, name):
        self.name = name
        self.counts = collections.Counter()
        self.replies = collections.Counter()

    def reply(self, frame):
        for key in ("ERROR", "INFO"):
            if key in frame:
                self.replies[key + " " + error_kind(frame[key])] += 1
        if "USERNAME_ACCEPTED" in frame:
            self.replies["USERNAME_ACCEPTED %s" % frame["USERNAME_ACCEPTED"]] += 1
        for key in ("SEARCH", "HISTORY", "FILE_UPLOAD", "FILES", "FILE_DATA"):
            if key in frame:
                self.replies[key] += 1


def address(block, index):
    return "127.%d.%d.%d" % (block, (index // 250) % 250, index % 250 + 1)


KEYS = ["USERNAME", "MESSAGES", "PASSWORD", "FEATURES", "HISTORY", "SEARCH", "FILE_OFFER", "FILE_CHUNK",
        "FILE_GET", "FILES", "INFO", "ERROR", "USERNAME_ACCEPTED", "USER_LIST", "USERS_JOINED", "QUERY",
        "BEFORE", "LIMIT", "NAME", "SIZE", "SHA256", "TO", "ID", "OFFSET", "DATA"]
TOKENS = [b"{", b"}", b"[", b"]", b'"', b",", b":", b"\\u", b"\\ud800", b"null", b"true", b"1e999",
          b"-0", b"123456789012345678901234567890", b'"MESSAGES"', b'"USERNAME"', b'"ALL"', b"\xff",
          b"\xc3\x28", b"\x00", b"/Quit", b"/DisplayAllUsers", b'"SEARCH"', b"w*"]


def random_json(rng, depth=0):
    kind = rng.randrange(9 if depth < 6 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 1, 2 ** 53, 2 ** 64, -2 ** 63, 1.5, 1e300, 7])
    if kind in (3, 4, 5):
        return rng.choice(["", "ALL", SERVER_USER, "honest0", OWNER, "w* w*", "/Help", "\u202e", "\U0001F600",
                           "a" * rng.randrange(0, 5000), "".join(chr(rng.randrange(32, 0x3000)) for _ in range(20))])
    if kind in (6, 7):
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(0, 5))]
    return {rng.choice(KEYS): random_json(rng, depth + 1) for _ in range(rng.randrange(0, 4))}


def mutate(data, rng):
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        operation = rng.randrange(6)
        if operation == 0 and buffer:
            buffer[rng.randrange(len(buffer))] ^= 1 << rng.randrange(8)
        elif operation == 1:
            buffer.insert(rng.randrange(len(buffer) + 1), rng.randrange(256))
        elif operation == 2 and buffer:
            del buffer[rng.randrange(len(buffer))]
        elif operation == 3:
            at = rng.randrange(len(buffer) + 1)
            buffer[at:at] = rng.choice(TOKENS)
        elif operation == 4 and buffer:
            del buffer[rng.randrange(len(buffer)):]
        elif operation == 5 and buffer:
            start = rng.randrange(len(buffer))
            buffer[start:start] = buffer[start:start + rng.randrange(1, 64)]
    return bytes(buffer)


def malformed_frames(name):
    """Each: (description, bytes on the wire). Some close the connection by design."""
    deep = b"[" * 100_000 + b"]" * 100_000
    nested = b'{"a":' * 40 + b"1" + b"}" * 40
    message = lambda content: {"MESSAGES": [[name, "ALL", int(time.time()), content]]}
    return [
        ("length 4 GiB", struct.pack(">I", 0xFFFFFFFF) + b"{"),
        ("length 1 MiB + 1", struct.pack(">I", (1 << 20) + 1) + b"{}"),
        ("truncated JSON", raw_frame(b'{"MESSAGES": [')),
        ("not JSON", raw_frame(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")),
        ("invalid UTF-8", raw_frame(b'{"MESSAGES": [["' + name.encode() + b'", "ALL", 1, "\xff\xfe"]]}')),
        ("lone surrogate", raw_frame(b'{"USERNAME": "\\ud800"}')),
        ("duplicate keys", raw_frame(b'{"MESSAGES": [], "MESSAGES": []}')),
        ("not an object", raw_frame(b"[1, 2, 3]")),
        ("empty object", raw_frame(b"{}")),
        ("USERNAME a number", encode({"USERNAME": 5})),
        ("MESSAGES a string", encode({"MESSAGES": "hello"})),
        ("message of 3", encode({"MESSAGES": [[name, "ALL", 1]]})),
        ("TIMESTAMP a string", encode({"MESSAGES": [[name, "ALL", "now", "x"]]})),
        ("TIMESTAMP huge", raw_frame(b'{"MESSAGES": [["' + name.encode() + b'", "ALL", 1e999, "x"]]}')),
        ("spoofed SRC", encode({"MESSAGES": [["honest0", "ALL", 1, "spoof"]]})),
        ("HISTORY a string", encode({"HISTORY": "x"})),
        ("SEARCH QUERY a number", encode({"SEARCH": {"QUERY": 7}})),
        ("FILE_OFFER negative", encode({"FILE_OFFER": {"NAME": "../x", "SIZE": -1, "SHA256": "z", "TO": "ALL"}})),
        ("PASSWORD a list", encode({"PASSWORD": []})),
        ("server-only keys", encode({"USERNAME_ACCEPTED": True, "USER_LIST": [], "USERS_LEFT": ["honest0"]})),
        ("deep nesting 100,000", raw_frame(deep)),
        ("nesting 40 objects", raw_frame(nested)),
        ("content 1 MiB - 100", encode(message("y" * ((1 << 20) - 100)))),
        ("content 64 KiB + 1", encode(message("z" * (64 * 1024 + 1)))),
        ("name 100,000", encode({"USERNAME": "n" * 100_000})),
        ("query 200,000", encode({"SEARCH": {"QUERY": "q " * 100_000}})),
        ("a million numbers", raw_frame(b"[" + b"1," * 400_000 + b"1]")),
        ("deflate garbage", raw_frame(b"\x00" + os.urandom(64))),
        ("deflate bomb", raw_frame(b"\x00" + zlib.compress(b"{" + b" " * (8 << 20), 9)[2:-4])),
        ("zero length", raw_frame(b"")),
    ]


class AttackRun:
    def __init__(self, port, ca_file, options, part):
        self.port, self.options, self.part = port, options, part
        self.context = tls_context(ca_file)
        self.stopping = False
        self.families = {}
        self.rng = random.Random(options.seed * 100 + part)
        self.names = 0
        self.slowloris_holds = collections.defaultdict(list)
        self.slowloris_open = {}
        self.stall_times = []

    def family(self, name):
        return self.families.setdefault(name, Family(name))

    def name(self, prefix):
        self.names += 1
        return "%s%d_%d" % (prefix, self.part, self.names)

    async def login(self, reader, writer, family, name, features=None, extra=None):
        login = {"USERNAME": name}
        if features:
            login["FEATURES"] = features
        if extra:
            login.update(extra)
        writer.write(encode(login))
        while True:
            frame = await asyncio.wait_for(read_frame(reader), 60)
            family.reply(frame)
            if "USERNAME_ACCEPTED" in frame:
                return frame["USERNAME_ACCEPTED"] is True

    async def drain(self, reader, family, parse=True):
        """Reads everything the server sends until it closes; counts the replies."""
        try:
            while True:
                if parse:
                    family.reply(await read_frame(reader))
                else:
                    if not await reader.read(1 << 16):
                        break
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, OSError, ValueError):
            pass
        family.counts["closed by server"] += 1

    async def forever(self, family, session, pause=0.05):
        """Runs session again and again (each on a new connection) until the soak ends."""
        while not self.stopping:
            try:
                await session()
            except asyncio.CancelledError:
                raise
            except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, OSError, asyncio.TimeoutError) as error:
                family.counts["ended: " + type(error).__name__] += 1
            except Exception as error:
                family.counts["ended: " + type(error).__name__] += 1
            await asyncio.sleep(pause)

    # -- connection flood: hold many connections, half of them logged in, and churn more

    async def flood_holder(self, index):
        family = self.family("connection flood")

        async def session():
            reader, writer = await connect(self.port, address(1, index // 10), self.context)
            family.counts["connections"] += 1
            try:
                if index % 5 == 0 and await self.login(reader, writer, family, self.name("flood")):
                    family.counts["logged in"] += 1
                await asyncio.wait_for(self.drain(reader, family, parse=False), self.rng.uniform(5, 40))
            except asyncio.TimeoutError:
                pass
            finally:
                close(writer)
        await self.forever(family, session, pause=0.2)

    async def churner(self, index):
        family = self.family("connection churn")
        sequence = 0

        async def session():
            nonlocal sequence
            sequence += 1
            source = address(2, index * 1000 + sequence % 200)
            if sequence % 3 == 0:  # plain TCP to the TLS port: random bytes or HTTP
                reader, writer = await connect(self.port, source, None)
                writer.write(os.urandom(self.rng.randrange(1, 600)) if sequence % 2 else b"GET / HTTP/1.0\r\n\r\n")
                family.counts["garbage connections"] += 1
            else:
                reader, writer = await connect(self.port, source, self.context)
                family.counts["TLS connections"] += 1
                if sequence % 3 == 1:
                    family.counts["logins"] += 1
                    await self.login(reader, writer, family, self.name("churn"))
            close(writer)
            await asyncio.sleep(1.0 / self.options.churn_rate * self.options.churners)
        await self.forever(family, session, pause=0)

    async def over_cap_burst(self):
        """40 connections from one address at once, every 5 s: the limit per address refuses 20."""
        family = self.family("over-cap burst")
        round_ = 0
        while not self.stopping:
            round_ += 1
            source = address(12, round_ % 50)

            async def one():
                try:
                    reader, writer = await connect(self.port, source, self.context)
                except Exception as error:
                    family.counts["failed: " + type(error).__name__] += 1
                    return
                family.counts["connections"] += 1
                try:
                    frame = await asyncio.wait_for(read_frame(reader), 3)
                    family.reply(frame)
                except Exception:
                    pass
                finally:
                    close(writer)
            await asyncio.gather(*[one() for _ in range(40)])
            await asyncio.sleep(5)

    # -- slowloris

    async def slowloris(self, index):
        kinds = ["silent TCP", "half a TLS handshake", "TLS, no login", "frame dribbled after login"]
        kind = kinds[index % len(kinds)]
        family = self.family("slowloris")
        hello = client_hello()

        async def session():
            tls = kind in ("TLS, no login", "frame dribbled after login")
            started = time.monotonic()
            reader, writer = await connect(self.port, address(3, index), self.context if tls else None)
            family.counts[kind] += 1
            token = object()
            self.slowloris_open[token] = (kind, started)
            try:
                if kind == "half a TLS handshake":
                    writer.write(hello[:len(hello) // 2])
                if kind == "frame dribbled after login":
                    if not await self.login(reader, writer, family, self.name("loris")):
                        return
                    started = time.monotonic()
                    self.slowloris_open[token] = (kind, started)
                    pending = struct.pack(">I", 1000) + b'{"MESSAGES": ' + b" " * 990

                    async def dribble():
                        for byte in pending:
                            writer.write(bytes([byte]))
                            await asyncio.sleep(3)
                    dribbling = asyncio.ensure_future(dribble())
                    await self.drain(reader, family)
                    dribbling.cancel()
                else:
                    await self.drain(reader, family, parse=tls)
                self.slowloris_holds[kind].append(time.monotonic() - started)
            finally:
                self.slowloris_open.pop(token, None)
                close(writer)
        await self.forever(family, session, pause=0.1)

    # -- malformed frames

    async def malformed(self, index):
        family = self.family("malformed frames")

        async def session():
            reader, writer = await connect(self.port, address(4, index), self.context)
            family.counts["connections"] += 1
            name = self.name("bad")
            if index % 3 and not await self.login(reader, writer, family, name, ["commands", "history", "files", "deflate"]):
                close(writer)
                return
            draining = asyncio.ensure_future(self.drain(reader, family))
            try:
                catalogue = malformed_frames(name)
                while not draining.done() and not self.stopping:
                    description, data = self.rng.choice(catalogue)
                    family.counts["frames sent"] += 1
                    family.counts["sent: " + description] += 1
                    writer.write(data)
                    await asyncio.wait_for(writer.drain(), 30)
                    await asyncio.sleep(1.0 / self.options.malformed_rate)
            finally:
                draining.cancel()
                close(writer)
        await self.forever(family, session)

    # -- password guessing from rotating addresses

    async def guesser(self, index):
        family = self.family("password guessing")
        rotation = 0

        async def session():
            nonlocal rotation
            rotation += 1
            reader, writer = await connect(self.port, address(5, index * 10_000 + rotation), self.context)
            try:
                for _ in range(5):  # five guesses from each address, then another address
                    family.counts["guesses"] += 1
                    if await self.login(reader, writer, family, OWNER, ["accounts"], {"PASSWORD": "guess%d" % self.rng.randrange(10 ** 9)}):
                        family.counts["GUESS ACCEPTED"] += 1
                        return
                    await asyncio.sleep(1.0 / self.options.guess_rate * self.options.guessers)
            finally:
                close(writer)
        await self.forever(family, session)

    # -- search and history floods

    async def searcher(self, index):
        family = self.family("search flood")
        queries = ["w* w*", "wor* wha*", "whale west", "wonder", "win* wan*", "日本語", "a b c d e f g h",
                   "\"OR\" NEAR(x)", "x" * 300, "zzz*"]

        async def session():
            reader, writer = await connect(self.port, address(6, index), self.context)
            if not await self.login(reader, writer, family, self.name("seeker"), ["commands", "history", "files"]):
                close(writer)
                return
            draining = asyncio.ensure_future(self.drain(reader, family))
            try:
                while not draining.done() and not self.stopping:
                    burst = []
                    for _ in range(self.options.search_burst):
                        choice = self.rng.randrange(10)
                        if choice < 7:
                            burst.append(encode({"SEARCH": {"QUERY": self.rng.choice(queries), "LIMIT": 200}}))
                        elif choice < 9:
                            burst.append(encode({"HISTORY": {"BEFORE": self.rng.randrange(1, 60_000), "LIMIT": 200}}))
                        else:
                            burst.append(encode({"FILES": {}}))
                    family.counts["requests sent"] += len(burst)
                    writer.write(b"".join(burst))
                    await asyncio.wait_for(writer.drain(), 30)
                    await asyncio.sleep(self.options.search_interval)
            finally:
                draining.cancel()
                close(writer)
        await self.forever(family, session)

    # -- file-offer floods

    async def file_flooder(self, index):
        family = self.family("file-offer flood")

        async def session():
            reader, writer = await connect(self.port, address(7, index), self.context)
            name = self.name("filer")
            if not await self.login(reader, writer, family, name, ["commands", "files"]):
                close(writer)
                return
            uploads = asyncio.Queue()

            async def read():
                try:
                    while True:
                        frame = await read_frame(reader)
                        family.reply(frame)
                        upload = frame.get("FILE_UPLOAD")
                        if isinstance(upload, dict) and not upload.get("DONE"):
                            uploads.put_nowait(upload)
                except Exception:
                    family.counts["closed by server"] += 1
            reading = asyncio.ensure_future(read())
            chunk = os.urandom(96 * 1024)
            sent_bytes = 0
            try:
                while not reading.done() and not self.stopping and sent_bytes < 16 << 20:
                    kind = self.rng.randrange(10)
                    if kind < 6:  # offers of files never sent
                        size = self.rng.choice([0, 1, 1000, 64 << 20, (64 << 20) + 1, 10 ** 15])
                        offer = {"NAME": "f%d.bin" % self.rng.randrange(10 ** 6), "SIZE": size,
                                 "SHA256": hashlib.sha256(os.urandom(8)).hexdigest(), "TO": "ALL"}
                        writer.write(encode({"FILE_OFFER": offer}))
                        family.counts["offers"] += 1
                    elif kind < 8 and not uploads.empty():  # one chunk of an upload, then abandoned
                        upload = uploads.get_nowait()
                        data = (chunk if upload.get("OFFSET", 0) == 0 else b"")
                        writer.write(encode({"FILE_CHUNK": {"ID": upload.get("ID"), "OFFSET": upload.get("OFFSET", 0),
                                                            "DATA": base64.b64encode(data).decode()}}))
                        sent_bytes += len(data)
                        family.counts["chunks"] += 1
                    elif kind == 8:  # a bad chunk or a fetch of a file that is not there
                        writer.write(encode({"FILE_CHUNK": {"ID": "nope", "OFFSET": 5, "DATA": "!!"}}))
                        writer.write(encode({"FILE_GET": {"ID": "f%x" % self.rng.randrange(1 << 40), "OFFSET": 0}}))
                        family.counts["bad requests"] += 2
                    else:
                        writer.write(encode({"FILES": {}}))
                        family.counts["listings"] += 1
                    await asyncio.wait_for(writer.drain(), 30)
                    await asyncio.sleep(1.0 / self.options.file_rate)
            finally:
                reading.cancel()
                close(writer)
        await self.forever(family, session)

    # -- readers that never read, and senders of large broadcasts at the allowed rate

    async def stalled_reader(self, index):
        family = self.family("stalled readers")

        async def session():
            started = time.monotonic()
            reader, writer = await connect(self.port, address(8, index), self.context, receive_buffer=16384)
            if not await self.login(reader, writer, family, self.name("stall"), ["history"]):
                close(writer)
                return
            family.counts["logged in"] += 1
            # Pages of history asked for and never read, then nothing read at all: the server must
            # cut the connection once its queue passes the cap or the budget.
            writer.write(b"".join(encode({"HISTORY": {"LIMIT": 200}}) for _ in range(4)))
            writer.transport.pause_reading()
            try:
                # Reading paused, so the close shows only in the socket's TCP state:
                # CLOSE_WAIT (the server closed) or CLOSE (it reset the connection).
                sock = writer.transport.get_extra_info("socket")
                cut = False
                while not self.stopping and time.monotonic() - started < 60:
                    await asyncio.sleep(0.5)
                    if sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0] in (7, 8):
                        cut = True
                        break
                if cut:
                    family.counts["cut by the server"] += 1
                    self.stall_times.append(time.monotonic() - started)
                elif not self.stopping:
                    family.counts["left after 60 s uncut"] += 1
            finally:
                close(writer)
        await self.forever(family, session, pause=0.5)

    async def big_sender(self, index):
        family = self.family("large broadcasts")

        async def session():
            reader, writer = await connect(self.port, address(11, index), self.context)
            name = self.name("big")
            if not await self.login(reader, writer, family, name, ["commands"]):
                close(writer)
                return
            draining = asyncio.ensure_future(self.drain(reader, family, parse=False))
            try:
                while not draining.done() and not self.stopping:
                    content = "big " + "".join(self.rng.choice("abcdefgh ") for _ in range(self.options.big_bytes))
                    writer.write(encode({"MESSAGES": [[name, "ALL", int(time.time()), content]]}))
                    family.counts["sent"] += 1
                    await asyncio.wait_for(writer.drain(), 30)
                    await asyncio.sleep(1.0 / self.options.big_rate)
            finally:
                draining.cancel()
                close(writer)
        await self.forever(family, session)

    # -- message floods above the rate limit

    async def flooder(self, index):
        family = self.family("message flood")
        contents = ["flood", "/DisplayAllUsers", "/Help", "/Search whale", "/History 200", "/Blocked", "/Nope"]

        async def session():
            reader, writer = await connect(self.port, address(9, index), self.context)
            name = self.name("flooder")
            if not await self.login(reader, writer, family, name, ["commands"] if index % 2 else None):
                close(writer)
                return
            draining = asyncio.ensure_future(self.drain(reader, family))
            try:
                per_frame = 10
                while not draining.done() and not self.stopping:
                    batch = [[name, "ALL", int(time.time()), self.rng.choice(contents)] for _ in range(per_frame)]
                    writer.write(encode({"MESSAGES": batch}))
                    family.counts["messages sent"] += per_frame
                    await asyncio.wait_for(writer.drain(), 30)
                    await asyncio.sleep(per_frame / self.options.flood_rate)
            finally:
                draining.cancel()
                close(writer)
        await self.forever(family, session)

    # -- fuzzed frames

    async def fuzzer(self, index):
        family = self.family("fuzzed frames")
        corpus = None

        async def session():
            nonlocal corpus
            reader, writer = await connect(self.port, address(10, index), self.context)
            name = self.name("fuzz")
            corpus = [encode(v)[4:] for v in [
                {"USERNAME": name, "FEATURES": ["commands", "history", "files"]},
                {"MESSAGES": [[name, "ALL", int(time.time()), "hello /Help"]]},
                {"MESSAGES": [[name, "honest1", 1, "dm"], [name, "ALL", 2, "b"]]},
                {"HISTORY": {"BEFORE": 100, "LIMIT": 20}}, {"SEARCH": {"QUERY": "whale wonder", "LIMIT": 10}},
                {"FILE_OFFER": {"NAME": "a.txt", "SIZE": 3, "SHA256": "0" * 64, "TO": "ALL"}},
                {"FILE_GET": {"ID": "abc", "OFFSET": 0}}, {"FILES": {}}, {"PASSWORD": "x", "USERNAME": name}]]
            if index % 2 and not await self.login(reader, writer, family, name, ["commands", "history", "files"]):
                close(writer)
                return
            draining = asyncio.ensure_future(self.drain(reader, family))
            try:
                while not draining.done() and not self.stopping:
                    choice = self.rng.randrange(10)
                    if choice < 6:
                        payload = mutate(self.rng.choice(corpus), self.rng)
                    elif choice < 9:
                        payload = json.dumps(random_json(self.rng) if self.rng.randrange(4) else
                                             {self.rng.choice(KEYS): random_json(self.rng)}).encode()
                    else:
                        payload = os.urandom(self.rng.randrange(0, 300))
                    length = len(payload)
                    if self.rng.randrange(40) == 0:  # now and then a length that lies
                        length = max(0, length + self.rng.randrange(-10, 10))
                    writer.write(struct.pack(">I", length) + payload)
                    family.counts["frames sent"] += 1
                    await asyncio.wait_for(writer.drain(), 30)
                    await asyncio.sleep(1.0 / self.options.fuzz_rate)
            finally:
                draining.cancel()
                close(writer)
        await self.forever(family, session)

    async def main(self, stop, results):
        self.began = time.monotonic()
        o = self.options
        plan = ([(self.flood_holder, i) for i in range(o.flood_connections)] +
                [(self.churner, i) for i in range(o.churners)] + [(self.over_cap_burst, None)] +
                [(self.slowloris, i) for i in range(o.slowloris)] +
                [(self.malformed, i) for i in range(o.malformed)] +
                [(self.guesser, i) for i in range(o.guessers)] +
                [(self.searcher, i) for i in range(o.searchers)] +
                [(self.file_flooder, i) for i in range(o.file_flooders)] +
                [(self.stalled_reader, i) for i in range(o.stalled_readers)] +
                [(self.big_sender, i) for i in range(o.big_senders)] +
                [(self.flooder, i) for i in range(o.flooders)] +
                [(self.fuzzer, i) for i in range(o.fuzzers)])

        async def after_a_while(attack, index):  # a ramp of a few seconds rather than one SYN storm
            await asyncio.sleep(self.rng.uniform(0, 3))
            await (attack() if index is None else attack(index))
        # Each attack process takes every Nth attack, so that every kind runs in each.
        tasks = [asyncio.ensure_future(after_a_while(attack, index))
                 for number, (attack, index) in enumerate(plan) if number % o.attack_processes == self.part]
        while not stop.is_set():
            await asyncio.sleep(0.2)
        self.stopping = True
        now = time.monotonic()
        still_open = collections.defaultdict(list)
        for kind, started in self.slowloris_open.values():
            still_open[kind].append(now - started)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        seconds = now - self.began
        results.put({
            "seconds": seconds,
            "families": {name: {"counts": dict(f.counts), "replies": dict(f.replies)} for name, f in self.families.items()},
            "slowloris_closed_s": dict(self.slowloris_holds),
            "slowloris_open_s": dict(still_open),
            "stalled_cut_after_s": self.stall_times,
        })


def client_hello():
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def attack_process(port, ca_file, options, part, stop, results):
    raise_descriptor_limit()
    os.setpriority(os.PRIO_PROCESS, 0, 0)  # below the server and the honest users (--high-priority)
    quiet_asyncio()
    try:
        asyncio.run(AttackRun(port, ca_file, options, part).main(stop, results))
    except Exception as error:
        results.put({"fatal": "%s: %s" % (type(error).__name__, error)})


def merge_attacks(parts):
    """One report from the attack processes' raw figures."""
    fatal = [part["fatal"] for part in parts if "fatal" in part]
    if fatal:
        return {"fatal": "; ".join(fatal)}
    families = collections.defaultdict(lambda: {"counts": collections.Counter(), "replies": collections.Counter()})
    closed, still_open, stalled = collections.defaultdict(list), collections.defaultdict(list), []
    for part in parts:
        for name, family in part["families"].items():
            families[name]["counts"].update(family["counts"])
            families[name]["replies"].update(family["replies"])
        for kind, values in part["slowloris_closed_s"].items():
            closed[kind] += values
        for kind, values in part["slowloris_open_s"].items():
            still_open[kind] += values
        stalled += part["stalled_cut_after_s"]
    return {
        "seconds": max(part["seconds"] for part in parts),
        "families": {name: {"counts": dict(f["counts"]), "replies": dict(f["replies"].most_common(12))}
                     for name, f in families.items()},
        "slowloris_closed_s": {kind: summary(values) for kind, values in closed.items()},
        "slowloris_open_s": {kind: summary(values) for kind, values in still_open.items()},
        "stalled_cut_after_s": summary(stalled),
    }


# ---------------------------------------------------------------- the server

class Sampler(threading.Thread):
    """The server's RSS, open descriptors and CPU time, twice a second."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.samples, self.running = pid, [], True

    def sample(self):
        try:
            with open("/proc/%d/status" % self.pid) as status:
                rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024
            descriptors = len(os.listdir("/proc/%d/fd" % self.pid))
            with open("/proc/%d/stat" % self.pid) as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            return (time.monotonic(), rss, descriptors, cpu)
        except (OSError, StopIteration):
            return None

    def run(self):
        while self.running:
            sample = self.sample()
            if sample:
                self.samples.append(sample)
            time.sleep(0.5)


def start_server(options, directory, initialise):
    log_path = os.path.join(directory, "server.log")
    offset = os.path.getsize(log_path) if os.path.exists(log_path) else 0
    log = open(log_path, "a")
    arguments = [options.chatterbox, "server", HOST, "-p", "0", "--data-dir", directory,
                 "--log-level", "warning", "--limit-loopback"]
    arguments += ["--init"] if initialise else []
    arguments += options.server_arguments
    process = subprocess.Popen(arguments, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    marker = "Listening on %s port " % HOST
    text = ""
    while time.monotonic() < deadline and process.poll() is None:
        with open(log_path, errors="replace") as file:
            file.seek(offset)
            text = file.read()
        if marker in text:
            return process, int(text.split(marker, 1)[1].split()[0]), arguments
        time.sleep(0.05)
    process.kill()
    raise SystemExit("the server did not start:\n" + text[-3000:])


def descriptor_kinds(pid):
    """What the server's descriptors are: sockets, pipes, event descriptors, files (by name)."""
    kinds = collections.Counter()
    try:
        for entry in os.listdir("/proc/%d/fd" % pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, entry))
            except OSError:
                continue
            kinds[re.sub(r"[:\[].*", "", target) if not target.startswith("/") else os.path.basename(target)] += 1
    except OSError:
        pass
    return dict(kinds)


def seed(directory, count):
    database = sqlite3.connect(os.path.join(directory, "chatterbox.sqlite"))
    database.execute(
        """WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
           INSERT INTO message (seq, src, src_key, dest, dest_key, timestamp, content)
           SELECT i, 'user' || (i % 50), 'user' || (i % 50), 'ALL', 'all', 1700000000 + i,
                  'word' || (i % 997) || ' wonder what we want with ' || hex(randomblob(6)) || ' west wind ' || (i % 13) || ' whale'
           FROM n""", (count,))
    database.commit()
    database.close()


def main():
    arguments = sys.argv[1:]
    server_arguments = arguments[arguments.index("--") + 1:] if "--" in arguments else []
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("chatterbox", help="the chatterbox executable (a release build)")
    add("--seconds", type=float, default=180, help="how long the attacks run (default 180)")
    add("--seed-messages", type=int, default=50_000, help="broadcasts stored before the start (search targets)")
    add("--honest", type=int, default=8, help="honest users chatting")
    add("--honest-rate", type=float, default=2, help="messages each honest user sends per second")
    add("--login-interval", type=float, default=1, help="seconds between fresh honest logins")
    add("--owner-interval", type=float, default=13, help="seconds between the owner's logins with its password")
    add("--attack-processes", type=int, default=2, help="processes the attacks are spread over")
    add("--flood-connections", type=int, default=300, help="connections the flood holds open (a fifth logged in)")
    add("--churners", type=int, default=4)
    add("--churn-rate", type=float, default=40, help="connections opened and closed per second (a third plain TCP garbage)")
    add("--slowloris", type=int, default=80)
    add("--malformed", type=int, default=6)
    add("--malformed-rate", type=float, default=10, help="malformed frames per second per connection")
    add("--guessers", type=int, default=6)
    add("--guess-rate", type=float, default=10, help="password guesses per second, all guessers together")
    add("--searchers", type=int, default=4)
    add("--search-burst", type=int, default=40, help="searches, pages and listings in one write")
    add("--search-interval", type=float, default=2)
    add("--file-flooders", type=int, default=3)
    add("--file-rate", type=float, default=40, help="file requests per second per flooder")
    add("--stalled-readers", type=int, default=100)
    add("--big-senders", type=int, default=2)
    add("--big-bytes", type=int, default=32_000)
    add("--big-rate", type=float, default=2, help="large broadcasts per second per sender")
    add("--flooders", type=int, default=4)
    add("--flood-rate", type=float, default=200, help="messages per second each flooder tries")
    add("--fuzzers", type=int, default=6)
    add("--fuzz-rate", type=float, default=50, help="fuzzed frames per second per fuzzer")
    add("--seed", type=int, default=21)
    add("--max-p99-ms", type=float, default=1000, help="bound on the honest messages' p99 round trip")
    add("--max-latency-ms", type=float, default=5000, help="bound on any honest message's round trip or delivery")
    add("--max-login-p99-ms", type=float, default=1000)
    add("--max-login-ms", type=float, default=3000)
    add("--max-rss-mib", type=float, help="bound on the server's peak RSS (default: its --max-queued-bytes-total)")
    add("--fd-slack", type=int, default=16, help="descriptors the server may hold at the end beyond its count before the attacks")
    add("--slowloris-slack", type=float, default=15, help="seconds past its timeout a slowloris connection may stay")
    add("--high-priority", action="store_true",
        help="run the server and the honest users at nice -10 and this session (autogroup) at -10, the attackers at 0 "
             "(needs root or CAP_SYS_NICE; run under setsid so that the session is the soak's own)")
    add("--json", help="write the figures to this file")
    add("--keep", action="store_true", help="keep the data directory (its path is printed)")
    options = parser.parse_args(arguments[:arguments.index("--")] if "--" in arguments else arguments)
    # A budget for queued bytes of 256 MiB (the default is an eighth of the memory), which the
    # server's whole RSS must stay under unless --max-rss-mib says otherwise.
    if "--max-queued-bytes-total" not in server_arguments:
        server_arguments = ["--max-queued-bytes-total", str(256 << 20)] + server_arguments
    options.server_arguments = server_arguments
    if options.max_rss_mib is None:
        options.max_rss_mib = int(server_arguments[server_arguments.index("--max-queued-bytes-total") + 1]) / (1 << 20)
    raise_descriptor_limit()
    if options.high_priority:
        # Where the kernel groups processes by session (autogroups), nice values count only
        # within the session: the session's own value decides against other work.
        os.setpriority(os.PRIO_PROCESS, 0, -10)
        try:
            with open("/proc/self/autogroup", "w") as autogroup:
                autogroup.write("-10")
        except OSError:
            pass

    directory = tempfile.mkdtemp(prefix="chatterbox-soak-")
    failures, report = [], {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                            "cores": os.cpu_count(), "load_before": os.getloadavg()}
    process, _, _ = start_server(options, directory, True)
    process.terminate()
    process.wait(timeout=60)
    seed(directory, options.seed_messages)
    process, port, server_command = start_server(options, directory, False)
    report["server"] = " ".join(server_command)
    report["high_priority"] = options.high_priority
    ca_file = os.path.join(directory, "ca.crt")
    sampler = Sampler(process.pid)
    sampler.start()
    spawn = multiprocessing.get_context("spawn")
    ready, stop_honest, stop_attack = spawn.Event(), spawn.Event(), spawn.Event()
    honest_results, attack_results = spawn.Queue(), spawn.Queue()
    honest = spawn.Process(target=honest_process, args=(port, ca_file, options, ready, stop_honest, honest_results))
    honest.start()
    if not ready.wait(120):
        failures.append("the honest users did not log in within 120 s")
    time.sleep(2)
    before = sampler.sample()
    descriptors_before = descriptor_kinds(process.pid)
    attackers = [spawn.Process(target=attack_process, args=(port, ca_file, options, part, stop_attack, attack_results))
                 for part in range(options.attack_processes)]
    for attacker in attackers:
        attacker.start()
    began = time.monotonic()
    crashed = None
    while time.monotonic() - began < options.seconds:
        if process.poll() is not None:
            crashed = process.returncode
            break
        time.sleep(0.5)
    report["load_during"] = os.getloadavg()
    stop_attack.set()
    parts = []
    for _ in attackers:
        try:
            parts.append(attack_results.get(timeout=120))
        except Exception:
            parts.append({"fatal": "no results from an attack process"})
    report["attacks"] = merge_attacks(parts)
    for attacker in attackers:
        attacker.join(30)
        if attacker.is_alive():
            attacker.kill()
    # Descriptors back where they were once the attackers have gone (bounded wait).
    deadline = time.monotonic() + 30
    after = sampler.sample()
    while after and after[2] > before[2] + options.fd_slack and time.monotonic() < deadline:
        time.sleep(0.5)
        after = sampler.sample()
    report["descriptor_kinds"] = {"before": descriptors_before, "end": descriptor_kinds(process.pid)}
    stop_honest.set()
    try:
        report["honest"] = honest_results.get(timeout=120)
    except Exception:
        report["honest"] = {"fatal": "no results from the honest users"}
    if process.poll() is not None and crashed is None:
        crashed = process.returncode
    # Then SIGTERM, with the honest users still connected.
    exit_status = crashed
    if crashed is None:
        after = sampler.sample() or after
        process.terminate()
        try:
            exit_status = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            exit_status = "no exit within 60 s of SIGTERM"
    sampler.running = False
    honest.kill()
    honest.join()

    samples = sampler.samples
    attack_samples = [s for s in samples if s[0] >= began]
    report.update({
        "seconds": options.seconds,
        "rss_mib": {"before": before[1], "peak": max(s[1] for s in attack_samples), "end": after[1] if after else None},
        "descriptors": {"before": before[2], "peak": max(s[2] for s in attack_samples), "end": after[2] if after else None},
        "server_cpu_s": (attack_samples[-1][3] - before[3]) if attack_samples else None,
        "exit_status": exit_status,
    })
    log_text = open(os.path.join(directory, "server.log"), errors="replace").read()
    report["server_log_lines"] = collections.Counter(error_kind(re.sub(r"^\S+ \S+ ", "", line)) for line in log_text.splitlines()
                                                     if "warning" in line or "error" in line or "critical" in line).most_common(15)

    honest_report, attack_report = report["honest"], report["attacks"]
    if crashed is not None:
        failures.append("the server died during the soak (status %s)" % crashed)
    for side, result in (("honest", honest_report), ("attack", attack_report)):
        if "fatal" in result:
            failures.append("the %s process failed: %s" % (side, result["fatal"]))
    if "fatal" not in honest_report:
        if honest_report["lost_count"]:
            failures.append("%d honest deliveries lost, e.g. %s" % (honest_report["lost_count"], honest_report["lost"][:3]))
        if honest_report["disconnected"]:
            failures.append("honest users disconnected: %s" % honest_report["disconnected"])
        if honest_report["errors"]:
            failures.append("honest users got ERROR: %s" % honest_report["errors"][:3])
        for label, figures in (("round trip", honest_report["echo_ms"]), ("delivery", honest_report["delivery_ms"])):
            if figures["count"] and figures["p99"] > options.max_p99_ms:
                failures.append("honest %s p99 %.0f ms > %.0f" % (label, figures["p99"], options.max_p99_ms))
            if figures["count"] and figures["max"] > options.max_latency_ms:
                failures.append("honest %s max %.0f ms > %.0f" % (label, figures["max"], options.max_latency_ms))
        logins = honest_report["logins_s"]
        if not logins["count"]:
            failures.append("no fresh login succeeded")
        elif logins["p99"] * 1000 > options.max_login_p99_ms or logins["max"] * 1000 > options.max_login_ms:
            failures.append("fresh logins p99 %.3f s, max %.3f s" % (logins["p99"], logins["max"]))
        if honest_report["login_failures"]:
            failures.append("fresh logins failed: %s" % honest_report["login_failures"][:3])
        if honest_report["owner_failures"] or not honest_report["owner_logins_s"]["count"]:
            failures.append("the owner was kept out: %s" % honest_report["owner_failures"][:3])
        elif honest_report["owner_logins_s"]["max"] * 1000 > options.max_login_ms:
            failures.append("the owner's login took %.3f s" % honest_report["owner_logins_s"]["max"])
    if "fatal" not in attack_report:
        if attack_report["families"].get("password guessing", {}).get("counts", {}).get("GUESS ACCEPTED"):
            failures.append("a password guess was accepted")
        bounds = timeout_bounds(server_command)
        for source in ("slowloris_closed_s", "slowloris_open_s"):
            for kind, figures in attack_report[source].items():
                if figures["count"] and figures["max"] > bounds[kind] + options.slowloris_slack:
                    failures.append("a slowloris connection (%s) was held %.0f s (timeout %d s)" % (kind, figures["max"], bounds[kind]))
    if report["rss_mib"]["peak"] > options.max_rss_mib:
        failures.append("peak RSS %.0f MiB > %.0f" % (report["rss_mib"]["peak"], options.max_rss_mib))
    if after is None or after[2] > before[2] + options.fd_slack:
        failures.append("descriptors at the end %s, before the attacks %d" % (after and after[2], before[2]))
    if exit_status != 0:
        failures.append("exit status after SIGTERM: %s" % exit_status)
    report["failures"] = failures

    print_report(report, options)
    if options.json:
        with open(options.json, "w") as out:
            json.dump(report, out, indent=1, default=str)
    if options.keep or failures:
        print("data directory and server log kept in", directory)
    else:
        subprocess.run(["rm", "-rf", directory])
    sys.exit(1 if failures else 0)


def timeout_bounds(server_command):
    def value(flag, default):
        return int(server_command[server_command.index(flag) + 1]) if flag in server_command else default
    handshake, login, frame = value("--handshake-timeout", 10), value("--login-timeout", 60), 30
    return {"silent TCP": handshake, "half a TLS handshake": handshake, "TLS, no login": login,
            "frame dribbled after login": frame}


def print_report(report, options):
    seconds = report["attacks"].get("seconds") or options.seconds
    print("Mixed-attack soak, %s, %.0f s of attacks, %d cores, load average before %.1f, during %.1f"
          % (report["date"], seconds, report["cores"], report["load_before"][0], report["load_during"][0]))
    print("server:", report["server"])
    if report["high_priority"]:
        print("priorities: server and honest users nice -10, attackers 0, session (autogroup) -10")
    attacks = report["attacks"]
    if "families" in attacks:
        print("\nattacks (counts over the run; replies by kind):")
        for name, family in attacks["families"].items():
            counts = ", ".join("%s %d (%.1f/s)" % (key, value, value / seconds) for key, value in sorted(family["counts"].items())
                               if not key.startswith("sent: "))
            print("  %-18s %s" % (name, counts))
            if family["replies"]:
                print("  %-18s replies: %s" % ("", "; ".join("%s x%d" % item for item in family["replies"].items())))
        for label in ("slowloris_closed_s", "slowloris_open_s"):
            for kind, figures in attacks[label].items():
                print("  slowloris %-28s %s: %d, longest %.1f s" % (kind, "closed by the server" if label == "slowloris_closed_s"
                                                                   else "open at the end", figures["count"], figures["max"]))
        figures = attacks["stalled_cut_after_s"]
        if figures["count"]:
            print("  stalled readers cut after: p50 %.1f s, max %.1f s (%d)" % (figures["p50"], figures["max"], figures["count"]))
    honest = report["honest"]
    if "echo_ms" in honest:
        print("\nhonest users: %d messages sent, %d deliveries expected, %d lost"
              % (honest["messages_sent"], honest["deliveries_expected"], honest["lost_count"]))
        for label, key in (("round trip (echo) ms", "echo_ms"), ("delivery to others ms", "delivery_ms")):
            figures = honest[key]
            if figures["count"]:
                print("  %-24s p50 %.1f  p99 %.1f  max %.1f  (%d)" % (label, figures["p50"], figures["p99"], figures["max"], figures["count"]))
        for label, key in (("fresh logins s", "logins_s"), ("owner's logins s", "owner_logins_s")):
            figures = honest[key]
            if figures["count"]:
                print("  %-24s p50 %.3f  p99 %.3f  max %.3f  (%d)" % (label, figures["p50"], figures["p99"], figures["max"], figures["count"]))
    print("\nserver: RSS MiB before %.0f, peak %.0f, end %.0f; descriptors before %d, peak %d, end %s; CPU %.0f s; exit status %s"
          % (report["rss_mib"]["before"], report["rss_mib"]["peak"], report["rss_mib"]["end"] or -1,
             report["descriptors"]["before"], report["descriptors"]["peak"], report["descriptors"]["end"],
             report["server_cpu_s"] or -1, report["exit_status"]))
    print("descriptors before: %s" % report["descriptor_kinds"]["before"])
    print("descriptors at the end: %s" % report["descriptor_kinds"]["end"])
    if report["server_log_lines"]:
        print("server log warnings: " + "; ".join("%s x%d" % item for item in report["server_log_lines"]))
    print("\nRESULT: " + ("PASS" if not report["failures"] else "FAIL\n  " + "\n  ".join(report["failures"])))


if __name__ == "__main__":
    main()
