#!/usr/bin/python3
"""An independent Polku client in Python, through the gateway only.

Generates its stubs from protos/ (see generate_stubs), starts the four real binaries plus `polku-keys init` on
free loopback ports in a temporary data directory, then imports a journey,
submits feedback with channel keys and checks the scorecard against numbers
worked out by hand.

Run with /usr/bin/python3 (a pyenv python3 on PATH lacks Debian's grpcio).
Environment: POLKU_BIN_DIR (the built binaries), POLKU_PROTO_DIR (protos/).
"""

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BIN_DIR = os.environ.get("POLKU_BIN_DIR", os.path.join(REPO, "build", "release", "bin"))
PROTO_DIR = os.environ.get("POLKU_PROTO_DIR", os.path.join(REPO, "protos"))
TIMEOUT = 60.0  # bound on every wait, seconds
LAUNCH_ATTEMPTS = 5  # launches of one process whose port another process took

import grpc  # noqa: E402


def generate_stubs(out_dir):
    """polku/v1/*_pb2.py and *_pb2_grpc.py into out_dir, then importable.

    Debian's protoc (3.21) with grpc_python_plugin from protobuf-compiler-grpc:
    the protoc bundled in Debian 12's python3-grpc-tools is libprotoc 3.5.1,
    which rejects proto3 `optional` (the scores use it). grpc_tools.protoc is
    the fallback where no system protoc exists.
    """
    protos = sorted(
        os.path.join("polku", "v1", name)
        for name in os.listdir(os.path.join(PROTO_DIR, "polku", "v1"))
        if name.endswith(".proto"))
    protoc_binary = shutil.which("protoc", path="/usr/bin")
    plugin = shutil.which("grpc_python_plugin", path="/usr/bin")
    if protoc_binary and plugin:
        command = [protoc_binary, "-I" + PROTO_DIR, "-I/usr/include",
                   "--plugin=protoc-gen-grpc_python=" + plugin,
                   "--python_out=" + out_dir, "--grpc_python_out=" + out_dir] + protos
        result = subprocess.run(command, capture_output=True, text=True)
        ok = result.returncode == 0
        error = result.stderr
    else:
        from grpc_tools import protoc
        include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
        ok = protoc.main(["grpc_tools.protoc", "-I" + PROTO_DIR, "-I" + include,
                          "--python_out=" + out_dir, "--grpc_python_out=" + out_dir]
                         + protos) == 0
        error = "(see above)"
    if not ok:
        raise RuntimeError("generating stubs from %s failed: %s" % (PROTO_DIR, error))
    sys.path.insert(0, out_dir)


def free_ports(count):
    """Free loopback ports, all different: each socket stays bound until all are chosen.

    They are released before the servers bind them, so another process may take one in
    between: Suite starts such a server again on a new port (see port_taken).
    """
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def port_taken(log, ports):
    """Whether a server that exited during start-up did so because one of its ports was taken.

    It said so (lib/rpc/server.cc: "cannot listen on … (address in use or invalid?)", the
    gateway's HTTP listener: "cannot listen on"), or one of the ports cannot be bound now.
    The same test as tests/harness/suite.cc's.
    """
    if "in use" in log or "cannot listen on" in log:
        return True
    for port in ports:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError as error:
                if error.errno == errno.EADDRINUSE:
                    return True
    return False


def health_serving(address, service=""):
    """grpc.health.v1.Health/Check with hand-encoded messages."""
    request = b""
    if service:
        encoded = service.encode()
        request = b"\x0a" + bytes([len(encoded)]) + encoded
    with grpc.insecure_channel(address) as channel:
        check = channel.unary_unary("/grpc.health.v1.Health/Check")
        try:
            return check(request, timeout=1.0) == b"\x08\x01"
        except grpc.RpcError:
            return False


class Suite:
    """The four processes, started and stopped like scripts/up.sh does.

    They start one after another, each once the one before is ready, so a server whose port
    was taken before it could bind it is started again on a new port that only those after it
    are told about.
    """

    def __init__(self):
        self.data_dir = tempfile.mkdtemp(prefix="polku-py-")
        self.log_dir = os.path.join(self.data_dir, "logs")
        os.makedirs(self.log_dir)
        ports = free_ports(5)
        self.addr = {name: "127.0.0.1:%d" % port for name, port in
                     zip(["journey", "feedback", "insight", "grpc", "http"], ports)}
        self.processes = {}

    def _spawn(self, name, args):
        with open(os.path.join(self.log_dir, name + ".log"), "ab") as log:
            return subprocess.Popen([os.path.join(BIN_DIR, name)] + args,
                                    stdout=log, stderr=subprocess.STDOUT)

    def start(self):
        keys = self._spawn("polku-keys", ["init", "--data_dir=" + self.data_dir,
                                          "--tenant=demo",
                                          "--channels=shop,phone,web,email"])
        if keys.wait(timeout=TIMEOUT) != 0:
            raise RuntimeError("polku-keys init failed\n" + self.logs())
        with open(os.path.join(self.data_dir, "credentials.json")) as f:
            self.credentials = json.load(f)
        d = "--data_dir=" + self.data_dir
        a = self.addr  # read at each launch: a relaunch may have moved a port
        self._start("polku-journey", ["journey"], lambda: ["--listen=" + a["journey"], d])
        self._start("polku-feedback", ["feedback"],
                    lambda: ["--listen=" + a["feedback"], d,
                             "--journey_address=" + a["journey"]],
                    health_service="polku.v1.FeedbackService")
        self._start("polku-insight", ["insight"],
                    lambda: ["--listen=" + a["insight"], d,
                             "--feedback_address=" + a["feedback"],
                             "--journey_address=" + a["journey"]])
        self._start("polku-gateway", ["grpc", "http"],
                    lambda: ["--grpc_listen=" + a["grpc"], "--http_listen=" + a["http"], d,
                             "--feedback_address=" + a["feedback"],
                             "--journey_address=" + a["journey"],
                             "--insight_address=" + a["insight"]])

    def _start(self, name, ports, args, health_service=""):
        """Launches `name` listening on `ports` (keys of addr) and waits until it is ready.

        Ready: it logged that it listens (the gateway: on both ports), so that a server that
        took its port is not mistaken for it, and gRPC health `health_service` is SERVING on
        its first port (the gateway: and GET /healthz answers). When it exits during start-up
        because one of its ports was taken, it is launched again on new ports, up to
        LAUNCH_ATTEMPTS times in all.
        """
        gateway = name == "polku-gateway"
        bound = '"msg":"serving"' if gateway else '"msg":"listening"'
        for attempt in range(1, LAUNCH_ATTEMPTS + 1):
            log_offset = self._log_size(name)
            process = self.processes[name] = self._spawn(name, args())

            def ready():
                return (bound in self._log_since(name, log_offset) and
                        health_serving(self.addr[ports[0]], health_service) and
                        (not gateway or self._http_healthy()))

            if self._await(ready, "%s health %r" % (name, health_service), starting=name):
                return
            numbers = [int(self.addr[port].rsplit(":", 1)[1]) for port in ports]
            if attempt == LAUNCH_ATTEMPTS or not port_taken(self._log_since(name, log_offset),
                                                            numbers):
                raise RuntimeError("%s exited with %s during start-up (launch %d)\n%s"
                                   % (name, process.returncode, attempt, self.logs()))
            print("%s: its port was taken by another process; starting it again on a new port"
                  % name, file=sys.stderr)
            for port, number in zip(ports, free_ports(len(ports))):
                self.addr[port] = "127.0.0.1:%d" % number

    def _log_size(self, name):
        path = os.path.join(self.log_dir, name + ".log")
        return os.path.getsize(path) if os.path.exists(path) else 0

    def _log_since(self, name, offset):
        """The log of `name` from byte `offset` on: what its latest launch wrote."""
        with open(os.path.join(self.log_dir, name + ".log"), "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def _http_healthy(self):
        try:
            url = "http://%s/healthz" % self.addr["http"]
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def _await(self, condition, what, starting=None):
        """True once `condition()`. An error if a process exits meanwhile, except `starting`:
        then False."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if condition():
                return True
            for name, process in self.processes.items():
                if process.poll() is not None:
                    if name == starting:
                        return False
                    raise RuntimeError("%s exited with %s during start-up\n%s"
                                       % (name, process.returncode, self.logs()))
            time.sleep(0.05)
        raise RuntimeError("timed out waiting for " + what + "\n" + self.logs())

    def stop(self):
        """SIGTERM, gateway first; every process must exit 0."""
        problems = []
        for name in reversed(list(self.processes)):
            process = self.processes[name]
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                problems.append(name + " did not exit after SIGTERM")
                continue
            if code != 0:
                problems.append("%s exited with %d" % (name, code))
        self.processes = {}
        return problems

    def kill(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()

    def logs(self):
        out = []
        for name in sorted(os.listdir(self.log_dir)):
            with open(os.path.join(self.log_dir, name), errors="replace") as f:
                out.append("===== %s =====\n%s" % (name, f.read()))
        return "\n".join(out)

    def remove(self):
        shutil.rmtree(self.data_dir, ignore_errors=True)


def dump_logs_on_failure(test):
    """Prints the processes' logs when `test` fails, then re-raises."""
    def wrapper(self):
        try:
            test(self)
        except BaseException:
            print(self.suite.logs(), file=sys.stderr)
            raise
    wrapper.__name__ = test.__name__
    wrapper.__doc__ = test.__doc__
    return wrapper


def metadata(key):
    return (("authorization", "Bearer " + key),)


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stub_dir = tempfile.mkdtemp(prefix="polku-py-stubs-")
        generate_stubs(cls.stub_dir)
        global pb, feedback_pb2, journey_pb2, insight_pb2
        from polku.v1 import common_pb2 as pb  # noqa: F401
        from polku.v1 import feedback_pb2, feedback_pb2_grpc
        from polku.v1 import insight_pb2, insight_pb2_grpc
        from polku.v1 import journey_pb2, journey_pb2_grpc
        cls.suite = Suite()
        try:
            cls.suite.start()
        except Exception:
            cls.suite.kill()
            raise
        cls.channel = grpc.insecure_channel(cls.suite.addr["grpc"])
        cls.journeys = journey_pb2_grpc.JourneyServiceStub(cls.channel)
        cls.feedback = feedback_pb2_grpc.FeedbackServiceStub(cls.channel)
        cls.insight = insight_pb2_grpc.InsightServiceStub(cls.channel)
        cls.import_journey()

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        problems = cls.suite.stop()
        if problems:
            print(cls.suite.logs(), file=sys.stderr)
        cls.suite.remove()
        shutil.rmtree(cls.stub_dir, ignore_errors=True)
        if problems:
            raise AssertionError("; ".join(problems))

    @classmethod
    def import_journey(cls):
        journey = journey_pb2.Journey(key="py-journey", name="Python client journey")
        journey.stages.add(key="compare", name="Compare offers")
        journey.stages.add(key="purchase", name="Purchase")
        journey.touchpoints.add(key="price_page", name="Price page", stage="compare",
                                channel="web", kind=journey_pb2.INTERACTION)
        journey.touchpoints.add(key="checkout_call", name="Checkout call", stage="purchase",
                                channel="phone", kind=journey_pb2.INTERACTION)
        admin = metadata(cls.suite.credentials["admin_key"])
        cls.journeys.CreateJourney(journey_pb2.CreateJourneyRequest(journey=journey),
                                   metadata=admin, timeout=10)
        published = cls.journeys.PublishJourney(
            journey_pb2.PublishJourneyRequest(key="py-journey"), metadata=admin, timeout=10)
        assert published.version == 1, published

    def key(self, channel):
        return self.suite.credentials["channel_keys"][channel]

    def event(self, event_id, touchpoint, csat=None, nps=None, ces=None):
        event = pb.TouchpointEvent(event_id=event_id, touchpoint=touchpoint,
                                   customer="py-" + event_id)
        event.occurred_at.FromSeconds(int(time.time()) - 3600)
        if csat is not None:
            event.csat = csat
        if nps is not None:
            event.nps = nps
        if ces is not None:
            event.ces = ces
        return event

    def submit(self, channel, events):
        return self.feedback.SubmitEvents(
            feedback_pb2.SubmitEventsRequest(events=events),
            metadata=metadata(self.key(channel)), timeout=10)

    def submit_first(self, channel, events):
        """Re-sends while the feedback index has not yet seen the publish."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            response = self.submit(channel, events)
            behind = all(r.outcome == feedback_pb2.EventResult.REJECTED and
                         "touchpoint" in r.field for r in response.results)
            if not behind or time.monotonic() > deadline:
                return response
            time.sleep(0.1)

    @dump_logs_on_failure
    def test_scorecard_matches_hand_computed_numbers(self):
        ACCEPTED = feedback_pb2.EventResult.ACCEPTED
        a1 = self.event("a1", "price_page", csat=5, nps=10)
        web = self.submit_first("web", [
            a1,
            self.event("a2", "price_page", csat=4),
            self.event("a3", "price_page", csat=1, nps=2),
        ])
        phone = self.submit("phone", [
            self.event("b1", "checkout_call", csat=3, nps=9, ces=6),
            self.event("b2", "checkout_call", ces=3),
        ])
        results = list(web.results) + list(phone.results)
        self.assertEqual([r.outcome for r in results], [ACCEPTED] * 5, results)
        last = max(r.sequence for r in results)

        deadline = time.monotonic() + TIMEOUT
        while True:
            card = self.insight.GetScorecard(
                insight_pb2.GetScorecardRequest(journey="py-journey",
                                                group_by=insight_pb2.GROUP_BY_TOUCHPOINT),
                metadata=metadata(self.suite.credentials["admin_key"]), timeout=10)
            if card.as_of_sequence >= last or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertGreaterEqual(card.as_of_sequence, last)
        rows = {row.group: row for row in card.rows}
        self.assertEqual([row.group for row in card.rows], ["checkout_call", "price_page"])

        # checkout_call: 2 events. CSAT 3: top-2 0 of 1; Wilson 0 of 1:
        #   c = (0 + 3.8416/2)/(1 + 3.8416) = 1.9208/4.8416 = 0.396728, w = 0.396728
        #   → [0, 0.793457]; mean 3.
        # NPS 9: one promoter → 100; h = 196·√((1 − 1)/1) = 0 → [100, 100].
        # CES 6, 3: mean 4.5, share 5–7 = 1/2.
        call = rows["checkout_call"]
        self.assertEqual(call.events, 2)
        self.assertEqual(call.csat.responses, 1)
        self.assertAlmostEqual(call.csat.top2_box, 0.0, places=5)
        self.assertAlmostEqual(call.csat.ci95.low, 0.0, places=5)
        self.assertAlmostEqual(call.csat.ci95.high, 0.793457, places=5)
        self.assertAlmostEqual(call.csat.mean, 3.0, places=5)
        self.assertEqual((call.nps.responses, call.nps.promoters, call.nps.detractors), (1, 1, 0))
        self.assertAlmostEqual(call.nps.score, 100.0, places=5)
        self.assertAlmostEqual(call.nps.ci95.low, 100.0, places=5)
        self.assertAlmostEqual(call.nps.ci95.high, 100.0, places=5)
        self.assertEqual(call.ces.responses, 2)
        self.assertAlmostEqual(call.ces.mean, 4.5, places=5)
        self.assertAlmostEqual(call.ces.share_5_to_7, 0.5, places=5)

        # price_page: 3 events. CSAT 5, 4, 1: top-2 2/3; mean 10/3 = 3.333333;
        #   Wilson 2 of 3: c = (0.666667 + 0.640267)/2.280533 = 0.573083,
        #   w = 0.859442·√(0.074074 + 0.106711) = 0.365427 → [0.207655, 0.938510].
        # NPS 10, 2: p = d = 1/2 → 0; h = 196·√((1 − 0)/2) = 138.592929
        #   → clamped to [−100, 100]. No CES.
        page = rows["price_page"]
        self.assertEqual(page.events, 3)
        self.assertEqual(page.csat.responses, 3)
        self.assertAlmostEqual(page.csat.top2_box, 2 / 3, places=5)
        self.assertAlmostEqual(page.csat.ci95.low, 0.207655, places=5)
        self.assertAlmostEqual(page.csat.ci95.high, 0.938510, places=5)
        self.assertAlmostEqual(page.csat.mean, 3.333333, places=5)
        self.assertEqual((page.nps.responses, page.nps.promoters, page.nps.detractors), (2, 1, 1))
        self.assertAlmostEqual(page.nps.score, 0.0, places=5)
        self.assertAlmostEqual(page.nps.ci95.low, -100.0, places=5)
        self.assertAlmostEqual(page.nps.ci95.high, 100.0, places=5)
        self.assertFalse(page.HasField("ces"))

        # Total: 5 events. CSAT 5, 4, 1, 3: top-2 2/4, mean 13/4 = 3.25;
        #   Wilson 2 of 4: c = 0.5, w = 1.96/1.9604·√(0.0625 + 0.060025) = 0.349964
        #   → [0.150036, 0.849964].
        # NPS 10, 2, 9: p = 2/3, d = 1/3 → 33.333333;
        #   h = 196·√((1 − 1/9)/3) = 196·0.544331 = 106.688887 → [−73.355553, 100].
        # CES 6, 3: mean 4.5, share 1/2.
        total = card.total
        self.assertEqual(total.events, 5)
        self.assertEqual(total.csat.responses, 4)
        self.assertAlmostEqual(total.csat.top2_box, 0.5, places=5)
        self.assertAlmostEqual(total.csat.ci95.low, 0.150036, places=5)
        self.assertAlmostEqual(total.csat.ci95.high, 0.849964, places=5)
        self.assertAlmostEqual(total.csat.mean, 3.25, places=5)
        self.assertEqual(total.nps.responses, 3)
        self.assertAlmostEqual(total.nps.score, 33.333333, places=5)
        self.assertAlmostEqual(total.nps.ci95.low, -73.355553, places=5)
        self.assertAlmostEqual(total.nps.ci95.high, 100.0, places=5)
        self.assertAlmostEqual(total.ces.mean, 4.5, places=5)

        # Re-sending the same event is answered DUPLICATE with the original sequence.
        again = self.submit("web", [a1])
        self.assertEqual(again.results[0].outcome, feedback_pb2.EventResult.DUPLICATE, again)
        self.assertEqual(again.results[0].sequence, web.results[0].sequence)

    @dump_logs_on_failure
    def test_unknown_key_is_unauthenticated(self):
        with self.assertRaises(grpc.RpcError) as raised:
            self.feedback.SubmitEvents(
                feedback_pb2.SubmitEventsRequest(events=[self.event("x1", "price_page", csat=3)]),
                metadata=metadata("not-a-key"), timeout=10)
        self.assertEqual(raised.exception.code(), grpc.StatusCode.UNAUTHENTICATED)


if __name__ == "__main__":
    unittest.main()
