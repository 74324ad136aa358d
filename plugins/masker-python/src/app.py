"""An example casefile masker in Python, built with componentize-py against
wit/casefile.wit (world `masker`), to show the contract is not Rust's alone.

What it masks:
- customer ids (`CUST-` and exactly 8 digits) in every text a record carries
  (messages, hosts, span names, attribute keys and values): by default the
  tenant's keyed pseudonym `customer-id:<12 hex>`, asked of the host through the
  `pseudonyms` import (the key never enters the component);
- the value of every attribute or label whose key ends like a secret
  (`password`, `db_password`, `api_key`, `authorization`, ...): `[MASKED:sensitive-key]`.

Everything else is left as it is. It does not carry the SDK's detectors, so it
relies on the host's leak gate behind every masker for e-mail addresses, cards,
tokens in free text and the rest: the gate masks what it finds and counts each
one as a violation of this masker.

The policy (`mask-context.policy`, JSON) steers it the way it steers the default
masker: `actions.person` is the action for customer ids and `actions.credential`
for secret keys (`mask`, `remove`, `hash`, `partial`); leaving `person` or
`credential` out of `categories` switches that part off. A policy that is not a
JSON object is `invalid-input`.

Build: scripts/build-python-masker (componentize-py, installed by scripts/setup),
which first runs ../test_app.py natively against the generated bindings.
"""

import json
import re

from wit_world import exports
from componentize_py_types import Err
from wit_world.imports import pseudonyms
from wit_world.imports.types import (
    Batch,
    Field,
    MaskAction,
    MaskContext,
    MaskedBatch,
    PluginError_InvalidInput,
    RuleCount,
)

CUSTOMER_RULE = "customer-id"
KEY_RULE = "sensitive-key"
# Not preceded or followed by a letter, digit or underscore: CUST-123456789 is no id.
CUSTOMER_ID = re.compile(r"(?<![A-Za-z0-9_])CUST-[0-9]{8}(?![A-Za-z0-9_])")
SECRET_KEY = re.compile(
    r"(?i)(pass(word|wd|phrase)?|pwd|secret|token|api[_-]?key|private[_-]?key"
    r"|credentials?|auth|authorization|session[_-]?id|cookie)$"
)
ACTIONS = {
    "mask": MaskAction.MASK,
    "remove": MaskAction.REMOVE,
    "hash": MaskAction.HASH,
    "partial": MaskAction.PARTIAL,
}
CATEGORIES = ["credential", "payment", "government-id", "contact", "network", "person"]


def invalid(message: str) -> Err:
    return Err(PluginError_InvalidInput(message))


class Rules:
    """The two rules under one tenant's policy, counting what they do."""

    def __init__(self, policy_json: str):
        try:
            policy = json.loads(policy_json) if policy_json.strip() else {}
        except ValueError as e:
            raise invalid(f"policy: not JSON: {e}")
        if not isinstance(policy, dict):
            raise invalid("policy: must be a JSON object")
        actions = policy.get("actions", {})
        categories = policy.get("categories", CATEGORIES)
        if not isinstance(actions, dict) or not isinstance(categories, list):
            raise invalid("policy: `actions` must be an object and `categories` a list")
        self.customer = self._action(actions, "person", "hash") if "person" in categories else None
        self.key = self._action(actions, "credential", "mask") if "credential" in categories else None
        self.counts: dict[tuple[str, MaskAction], int] = {}

    @staticmethod
    def _action(actions: dict, category: str, default: str) -> MaskAction:
        name = actions.get(category, default)
        if name not in ACTIONS:
            raise invalid(f"policy: actions.{category}: unknown action {name!r}")
        return ACTIONS[name]

    def render(self, rule: str, action: MaskAction, value: str) -> str:
        if action == MaskAction.HASH:
            token = pseudonyms.token(rule, value)
            # No pseudonym from the host: mask the value instead (the WIT's advice).
            action = MaskAction.HASH if token is not None else MaskAction.MASK
        key = (rule, action)
        self.counts[key] = self.counts.get(key, 0) + 1
        if action == MaskAction.HASH:
            return token
        if action == MaskAction.REMOVE:
            return ""
        if action == MaskAction.PARTIAL:
            tail = "".join(c for c in value if c.isalnum())
            return "****" + tail[-4:] if len(tail) >= 8 else f"[MASKED:{rule}]"
        return f"[MASKED:{rule}]"

    def text(self, text: str) -> str:
        if self.customer is None or "CUST-" not in text:
            return text
        return CUSTOMER_ID.sub(lambda m: self.render(CUSTOMER_RULE, self.customer, m.group(0)), text)

    def fields(self, fields: list[Field]) -> None:
        for f in fields:
            if self.key is not None and f.value and SECRET_KEY.search(f.key):
                f.value = self.render(KEY_RULE, self.key, f.value)
            else:
                f.value = self.text(f.value)
            f.key = self.text(f.key)


class Mask(exports.Mask):
    def mask(self, context: MaskContext, records: Batch) -> MaskedBatch:
        rules = Rules(context.policy)
        # Records are changed in place, so the batch keeps its record count.
        for log in records.logs:
            log.message = rules.text(log.message)
            log.host = rules.text(log.host)
            rules.fields(log.attributes)
        for span in records.spans:
            span.name = rules.text(span.name)
            span.host = rules.text(span.host)
            rules.fields(span.attributes)
        for sample in records.metrics:
            sample.host = rules.text(sample.host)
            rules.fields(sample.labels)
        counts = [RuleCount(rule, action, n) for (rule, action), n in sorted(rules.counts.items(), key=lambda kv: (kv[0][0], kv[0][1].value))]
        return MaskedBatch(records, counts)
