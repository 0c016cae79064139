#!/usr/bin/python3
"""Journey maps as living documents, from Python, through the gateway only.

Imports a journey file with `polku-journeys import` into a draft, edits the
draft over gRPC with a field mask (a rename through `replaces`, a move to
another stage, a new target), publishes it as version 2, diffs the versions,
exports the result with `polku-journeys export` and checks that the export
reads back as the edited map. The suite is the one client_test.py starts.

Run with /usr/bin/python3. Environment: POLKU_BIN_DIR, POLKU_PROTO_DIR.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import client_test  # noqa: E402  (stub generation and the process suite)
import grpc  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
EXAMPLE = os.path.join(REPO, "examples", "journeys", "generic-customer-journey.json")


def metadata(key):
    return (("authorization", "Bearer " + key),)


class JourneyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stub_dir = tempfile.mkdtemp(prefix="polku-py-stubs-")
        client_test.generate_stubs(cls.stub_dir)
        global journey_pb2, field_mask_pb2, json_format
        from google.protobuf import field_mask_pb2, json_format
        from polku.v1 import journey_pb2, journey_pb2_grpc
        cls.suite = client_test.Suite()
        try:
            cls.suite.start()
        except Exception:
            cls.suite.kill()
            raise
        cls.channel = grpc.insecure_channel(cls.suite.addr["grpc"])
        cls.journeys = journey_pb2_grpc.JourneyServiceStub(cls.channel)
        cls.admin = metadata(cls.suite.credentials["admin_key"])

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

    def tool(self, *args):
        """polku-journeys with the suite's gateway and credentials; stdout."""
        command = [os.path.join(client_test.BIN_DIR, "polku-journeys"), args[0],
                   "--gateway=" + self.suite.addr["grpc"],
                   "--credentials=" + os.path.join(self.suite.data_dir,
                                                   "credentials.json")] + list(args[1:])
        result = subprocess.run(command, capture_output=True, text=True,
                                timeout=client_test.TIMEOUT)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout

    def call(self, method, request):
        try:
            return getattr(self.journeys, method)(request, metadata=self.admin,
                                                  timeout=10)
        except grpc.RpcError as error:
            print(self.suite.logs(), file=sys.stderr)
            self.fail("%s: %s %s" % (method, error.code(), error.details()))

    def test_import_edit_publish_diff_export(self):
        # Import into a draft only, then publish it as version 1.
        out = self.tool("import", "--publish=false", EXAMPLE)
        self.assertIn('journey "generic-customer-journey" created, not published', out)
        draft = self.call("GetJourneyVersion", journey_pb2.GetJourneyVersionRequest(
            key="generic-customer-journey", version=0))
        self.assertEqual(draft.state, journey_pb2.DRAFT)
        v1 = self.call("PublishJourney", journey_pb2.PublishJourneyRequest(
            key="generic-customer-journey"))
        self.assertEqual(v1.version, 1)

        # Edit the draft: only `touchpoints` is taken from the request.
        edit = journey_pb2.Journey()
        edit.CopyFrom(v1)
        edit.name = "not in the mask, so not applied"
        call = next(t for t in edit.touchpoints if t.key == "service_call")
        call.key = "support_call"
        call.replaces = "service_call"
        call.stage = "use"
        call.target.nps = 15
        mask = field_mask_pb2.FieldMask(paths=["touchpoints"])
        draft = self.call("UpdateDraft", journey_pb2.UpdateDraftRequest(
            journey=edit, update_mask=mask))
        self.assertEqual(draft.name, "Generic customer journey")
        self.assertIn("support_call", [t.key for t in draft.touchpoints])

        # A touchpoint dropped without a successor is refused at publish.
        removal = journey_pb2.Journey()
        removal.CopyFrom(draft)
        del removal.touchpoints[0]
        self.call("UpdateDraft", journey_pb2.UpdateDraftRequest(journey=removal))
        with self.assertRaises(grpc.RpcError) as refused:
            self.journeys.PublishJourney(
                journey_pb2.PublishJourneyRequest(key="generic-customer-journey"),
                metadata=self.admin, timeout=10)
        self.assertEqual(refused.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertIn("awareness_ad", refused.exception.details())
        self.call("UpdateDraft", journey_pb2.UpdateDraftRequest(journey=draft))

        v2 = self.call("PublishJourney", journey_pb2.PublishJourneyRequest(
            key="generic-customer-journey"))
        self.assertEqual(v2.version, 2)
        renamed = next(t for t in v2.touchpoints if t.key == "support_call")
        self.assertEqual(list(renamed.former_keys), ["service_call"])

        diff = self.call("DiffJourneyVersions", journey_pb2.DiffJourneyVersionsRequest(
            key="generic-customer-journey", from_version=1, to_version=2))
        changes = [(journey_pb2.ChangeKind.Name(c.kind), c.key, c.old_value, c.new_value)
                   for c in diff.changes]
        self.assertEqual(changes, [
            ("TOUCHPOINT_RENAMED", "support_call", "service_call", "support_call"),
            ("TOUCHPOINT_MOVED", "support_call", "support-or-leave", "use"),
            ("TARGET_CHANGED", "support_call", "", ""),
        ])
        self.assertEqual(diff.changes[2].new_target.nps, 15)

        versions = self.call("ListJourneyVersions", journey_pb2.ListJourneyVersionsRequest(
            key="generic-customer-journey"))
        self.assertEqual([v.version for v in versions.versions], [1, 2])

        # Export: the file form of version 2, which reads back as the edit.
        exported = json.loads(self.tool("export", "generic-customer-journey"))
        self.assertNotIn("version", exported)
        self.assertNotIn("formerKeys", json.dumps(exported))
        back = json_format.ParseDict(exported, journey_pb2.Journey())
        expected = journey_pb2.Journey()
        expected.CopyFrom(v2)
        for field in ("version", "state", "create_time", "publish_time"):
            expected.ClearField(field)
        for touchpoint in expected.touchpoints:
            del touchpoint.former_keys[:]
        self.assertEqual(back, expected)

        # Re-importing the export changes nothing.
        path = os.path.join(self.suite.data_dir, "exported.json")
        with open(path, "w") as f:
            json.dump(exported, f)
        out = self.tool("import", path)
        self.assertIn("draft unchanged, already published (version 2)", out)

    def test_template_and_round_trip_of_the_shipped_files(self):
        created = self.call("CreateJourney", journey_pb2.CreateJourneyRequest(
            template="home-renovation",
            journey=journey_pb2.Journey(key="from-template")))
        self.assertEqual(created.key, "from-template")
        self.assertEqual(created.name, "Home renovation")

        # export(import(file)) says what the file says, for every shipped file.
        for name in ("home-renovation", "switching-mobile-operator"):
            path = os.path.join(REPO, "examples", "journeys", name + ".json")
            self.tool("import", path)
            with open(path) as f:
                original = json.load(f)
            self.assertEqual(json.loads(self.tool("export", name)), original, name)


if __name__ == "__main__":
    unittest.main()
