"""Unit tests of the Python example masker, run natively against the bindings
componentize-py generates (scripts/build-python-masker runs them before it builds
the component). The host's `pseudonyms` import is replaced by a local stand-in."""

import unittest

from componentize_py_types import Err
from wit_world.imports import pseudonyms
from wit_world.imports.types import (
    Batch,
    Field,
    Level,
    LogRecord,
    MaskAction,
    MaskContext,
    PluginError_InvalidInput,
    RuleCount,
)

import app


def fake_token(rule, value):
    return None if value == "CUST-00000000" else f"{rule}:{abs(hash(value)) % 16**12:012x}"


pseudonyms.token = fake_token


def batch(message, attributes=()):
    log = LogRecord(1, "runtime-1", "prod", "s", Level.ERROR, message, None, None, [Field(k, v) for k, v in attributes])
    return Batch([log], [], [])


def mask(policy, message, attributes=()):
    out = app.Mask().mask(MaskContext("acme", policy), batch(message, attributes))
    return out.batch.logs[0], out.counts


class MaskerTest(unittest.TestCase):
    def test_ids_become_pseudonyms_and_secret_keys_are_masked(self):
        log, counts = mask("{}", "for CUST-12345678 and CUST-123456789", [("db_password", "hunter2"), ("author", "CUST-12345678")])
        token = fake_token("customer-id", "CUST-12345678")
        self.assertEqual(log.message, f"for {token} and CUST-123456789")
        self.assertEqual([(f.key, f.value) for f in log.attributes], [("db_password", "[MASKED:sensitive-key]"), ("author", token)])
        self.assertEqual(counts, [RuleCount("customer-id", MaskAction.HASH, 2), RuleCount("sensitive-key", MaskAction.MASK, 1)])

    def test_no_pseudonym_from_the_host_masks_instead(self):
        log, counts = mask("", "for CUST-00000000")
        self.assertEqual(log.message, "for [MASKED:customer-id]")
        self.assertEqual(counts, [RuleCount("customer-id", MaskAction.MASK, 1)])

    def test_policy_actions_and_categories(self):
        log, _ = mask('{"actions": {"person": "partial", "credential": "remove"}}', "for CUST-12345678", [("token", "abc")])
        self.assertEqual((log.message, log.attributes[0].value), ("for ****5678", ""))
        log, counts = mask('{"categories": ["network"]}', "for CUST-12345678", [("token", "abc")])
        self.assertEqual((log.message, log.attributes[0].value, counts), ("for CUST-12345678", "abc", []))

    def test_a_bad_policy_is_invalid_input(self):
        for policy in ["{not json", "[]", '{"actions": {"person": "shred"}}', '{"categories": "person"}']:
            with self.assertRaises(Err) as e:
                mask(policy, "x")
            self.assertIsInstance(e.exception.value, PluginError_InvalidInput, policy)
            self.assertTrue(e.exception.value.value.startswith("policy:"), e.exception.value.value)


if __name__ == "__main__":
    unittest.main()
