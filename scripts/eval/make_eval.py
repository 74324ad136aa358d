#!/usr/bin/env python3
"""Builds the detectors' evaluation set: guest-sdk/data/eval/{learn,eval}.jsonl.

Every record is a text (a log line, a chat message, a config snippet) and the values
planted in it, each with its category. The material comes from sources the rules were
not written from, and every source is split deterministically, by a hash of the item
(a template, an example, a locale), into a part the rules may learn from ("learn") and
a part only the evaluation reads ("eval"):

- credentials: the examples of two public secret-scanning rule collections, Nosey
  Parker (praetorian-inc/noseyparker, Apache-2.0) and Kingfisher (mongodb/kingfisher,
  Apache-2.0), read from local copies (--noseyparker, --kingfisher). No token is copied:
  each secret the collection's own pattern finds in an example is replaced by a
  template of its shape (`glpat-{u1}{l2}{d1}...`: the literal characters the pattern
  needs, then runs of random upper case, lower case, digits or hex, drawn when the
  test runs), so no committed file holds anything a secret scanner would flag;
- personal data: Faker (MIT) per locale, with fixed seeds, put into the sentence
  templates of Microsoft's presidio-evaluator (MIT), into e-mail headers and into
  key/value log fields;
- phone numbers: the example numbers of Google's libphonenumber metadata (through the
  `phonenumbers` package, Apache-2.0), written in national, international and E.164
  form;
- ordinary log lines (the false-positive side): faker-observability-provider (MIT) log
  lines in nine formats, stack traces, and Faker's benign values (UUIDs, hashes,
  versions, timestamps, paths, user agents, prices, ISBNs, Kubernetes names).

Reproduce (package versions pinned; the rule collections at the commits named below):

    python3 -m pip install faker==40.54.0 phonenumbers==9.0.43 pyyaml \\
        presidio-evaluator==0.3.2 faker-observability-provider==1.1.0 --no-deps
    python3 scripts/eval/make_eval.py --kingfisher PATH/data/rules \\
        --noseyparker PATH/crates/noseyparker/data/default/builtin/rules

The rules in guest-sdk/src/detect may be tuned on the learn part only; the eval part is
read by guest-sdk/tests/eval.rs and the `eval` example alone.
"""
import argparse
import datetime as dt
import glob
import hashlib
import json
import pathlib
import random
import re
import string
import sys

import yaml
from faker import Faker
import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

SEED = 20261130
ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "guest-sdk/data/eval"
COLLECTION_COMMITS = {
    "kingfisher": "mongodb/kingfisher@ee7c0db",
    "noseyparker": "praetorian-inc/noseyparker@2e6e7f36",
}
LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "en_IN", "zh_CN", "ja_JP", "pt_BR", "en_AU", "en_CA"]
PHONE_REGIONS = ["US", "CA", "GB", "DE", "FR", "IN", "CN", "JP", "BR", "AU"]


def part(source: str, key: str) -> str:
    """learn or eval, by a hash of the item: the same item always lands on one side."""
    h = hashlib.sha256(f"{source}|{key}".encode()).digest()
    return "eval" if h[0] & 1 else "learn"


def rng_for(*key) -> random.Random:
    h = hashlib.sha256("|".join(map(str, (SEED,) + key)).encode()).digest()
    return random.Random(int.from_bytes(h[:8], "big"))


# ---- templates of secrets -------------------------------------------------------------

CLASSES = {
    "d": string.digits,
    "l": string.ascii_lowercase,
    "u": string.ascii_uppercase,
    "h": "0123456789abcdef",
    "H": "0123456789ABCDEF",
}


def char_class(c: str) -> str | None:
    if c in string.digits:
        return "d"
    if c in string.ascii_lowercase:
        return "l"
    if c in string.ascii_uppercase:
        return "u"
    return None


def expand(template: str, r: random.Random) -> str:
    """The same language as guest-sdk/src/detect/examples.rs (classes d, l, u, h, H)."""
    out = []
    i = 0
    while i < len(template):
        c = template[i]
        if template.startswith("{{", i) or template.startswith("}}", i):
            out.append(c)
            i += 2
            continue
        if c == "{":
            j = template.index("}", i)
            spec = template[i + 1 : j]
            cls, n = spec[0], int(spec[1:])
            out.extend(r.choice(CLASSES[cls]) for _ in range(n))
            i = j + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def escape(s: str) -> str:
    return s.replace("{", "{{").replace("}", "}}")


def shape_template(value: str, free: list[bool]) -> str:
    """Literal where the pattern needs the character, class runs where it does not. A
    stretch of free characters that are all hex digits stays hex (`h`/`H`)."""
    cls_of = [char_class(c) if f else None for c, f in zip(value, free)]
    # Stretches of free characters; a stretch that is hex keeps being hex.
    i = 0
    while i < len(value):
        if cls_of[i] is None:
            i += 1
            continue
        j = i
        while j < len(value) and cls_of[j] is not None:
            j += 1
        stretch = value[i:j]
        if j - i >= 8 and all(c in "0123456789abcdef" for c in stretch):
            for k in range(i, j):
                cls_of[k] = "h"
        elif j - i >= 8 and all(c in "0123456789ABCDEF" for c in stretch):
            for k in range(i, j):
                cls_of[k] = "H"
        i = j
    out = []
    run_cls, run_n = None, 0

    def flush():
        nonlocal run_cls, run_n
        if run_cls:
            out.append("{%s%d}" % (run_cls, run_n))
        run_cls, run_n = None, 0

    for c, cls in zip(value, cls_of):
        if cls is None:
            flush()
            out.append(escape(c))
            continue
        if cls != run_cls:
            flush()
            run_cls = cls
        run_n += 1
    flush()
    return "".join(out)


def py_pattern(p: str) -> re.Pattern | None:
    p = p.replace(r"\z", r"\Z")
    try:
        return re.compile(p)
    except re.error:
        return None


SECRET_BEFORE = re.compile(r"(?i)(pass|pwd|secret|key|token|auth(?![a-z0-9])|credential|private|signature|sig)[^\n]{0,16}$")
NOT_SECRET_BEFORE = re.compile(
    r"(?i)(user(name)?|login|name|[_ .-]id|host(name)?|server|domain|database|db|endpoint|url|uri|sid|account|tenant|org|-u|@|//)[\s\"':=]{0,4}$"
)


def looks_random(v: str) -> bool:
    return (
        len(v) >= 16
        and any(c.isdigit() for c in v)
        and any(c.isalpha() for c in v)
        and not re.search(r"\.[a-z]{2,6}(?::\d+)?$|://|^/", v)
    )


def secret_spans(pat: re.Pattern, text: str):
    """The spans of the secrets the pattern captures. With one group (or none), the
    group (or the match), unless it is a host name or a URL. With several (a user, a
    password and a host in one URI), only those a secret word precedes, the password
    of `user:password@`, or random-looking ones not preceded by a user, host or
    name."""
    for m in pat.finditer(text):
        groups = [g for g in range(1, (pat.groups or 0) + 1) if m.span(g)[0] >= 0 and m.span(g)[1] - m.span(g)[0] >= 8]
        if not pat.groups:
            yield m.span()
            continue
        if len(groups) == 1:
            a, b = m.span(groups[0])
            v = text[a:b]
            if not re.search(r"^[a-z0-9.-]+\.[a-z]{2,6}$|://|\s", v) and not NOT_SECRET_BEFORE.search(text[max(0, a - 24) : a]):
                yield (a, b)
            continue
        for g in groups:
            a, b = m.span(g)
            v, before = text[a:b], text[max(0, a - 24) : a]
            if re.search(r"\s", v) or not v[:1].isalnum() or NOT_SECRET_BEFORE.search(before):
                continue
            url_password = before.endswith(":") and text[b : b + 1] == "@"
            if SECRET_BEFORE.search(before) or url_password or (looks_random(v) and not NOT_SECRET_BEFORE.search(before)):
                yield (a, b)


def free_chars(pat: re.Pattern, text: str, span, r: random.Random) -> list[bool]:
    """Which characters of the secret the pattern lets vary: each is tried with four
    others of its class. In a long secret (a key block) only the first and last 48
    are tried; the letters and digits between vary. Testing stops after two seconds
    per secret (some patterns backtrack a lot), the rest counting as free."""
    import time

    a, b = span
    value = text[a:b]
    free = []
    deadline = time.monotonic() + 2.0
    for i, c in enumerate(value):
        cls = char_class(c)
        ok = cls is not None
        tried = len(value) <= 160 or i < 48 or i >= len(value) - 48
        if time.monotonic() > deadline:
            tried = False
        for _ in range(4 if ok and tried else 0):
            alt = r.choice(CLASSES[cls])
            t2 = text[:a] + value[:i] + alt + value[i + 1 :] + text[b:]
            if (a, b) not in set(secret_spans(pat, t2)):
                ok = False
                break
        free.append(ok)
    return free


# Twenty characters or more of a token alphabet, with upper and lower case letters
# and digits all present: what a random key looks like (hex digests are left alone).
RANDOM_TOKEN = re.compile(
    r"(?=[A-Za-z0-9_\-+/=.]*[A-Z])(?=[A-Za-z0-9_\-+/=.]*[a-z])(?=[A-Za-z0-9_\-+/=.]*[0-9])"
    r"(?<![A-Za-z0-9_\-+/=.])[A-Za-z0-9_\-+/=.]{20,}"
)

NOT_SECRETS = re.compile(
    r"(?i)\b(host|hostname|url|uri|domain|endpoint|region|account name|username|user name|arn|bucket|account id|sid|"
    r"org(anization)? id|tenant|bucket|project id|client id|app id|subdomain|instance)\b"
)
SECRET_WORDS = re.compile(r"(?i)(key|secret|token|password|credential|private|pat\b|hash)")


def collection_rules(path: str, source: str):
    rules = []
    for f in sorted(glob.glob(str(pathlib.Path(path) / "*.yml"))):
        d = yaml.safe_load(open(f, encoding="utf-8")) or {}
        for rule in d.get("rules") or []:
            pat = py_pattern(rule.get("pattern", ""))
            if pat is None or rule.get("visible") is False:
                continue
            name = rule.get("name", "")
            secret = not (NOT_SECRETS.search(name) and not SECRET_WORDS.search(name))
            rules.append((source, rule["id"], name, pat, rule.get("examples") or [], secret))
    return rules


def credential_records(rules):
    secret_pats = [r[3] for r in rules if r[5]]
    for source, rid, name, pat, examples, secret in rules:
        if not secret:
            continue
        for i, example in enumerate(examples):
            if not isinstance(example, str) or len(example) > 1500:
                continue
            key = f"{rid}#{i}"
            r = rng_for("cred", key)
            spans = sorted(set(secret_spans(pat, example)))
            if not spans:
                continue
            # Every other secret any collection pattern finds in the example is
            # templated too, so that no token is committed as it stands.
            others = set()
            for p in secret_pats:
                others.update(secret_spans(p, example))
            # Spans that do not overlap one kept already, longest first.
            chosen = []
            for s in sorted(set(spans) | others, key=lambda s: (-(s[1] - s[0]), s)):
                if all(s[1] <= c[0] or c[1] <= s[0] for c in chosen):
                    chosen.append(s)
            chosen.sort()
            planted, pieces, last, ok = [], [], 0, True
            # A whole URI with a password in it: the password is the secret.
            narrowed, passwords = [], set()
            for s in chosen:
                m = re.match(r"[a-z][a-z0-9+.-]*://[^:/@\s]*:([^@/\s]+)@", example[s[0] : s[1]])
                if m:
                    s = (s[0] + m.start(1), s[0] + m.end(1))
                    passwords.add(s)
                narrowed.append(s)
            chosen = narrowed
            for s in chosen:
                owner = pat if s in spans else next(
                    (p for p in secret_pats if s in set(secret_spans(p, example))), pat
                )
                free = (
                    [c.isalnum() for c in example[s[0] : s[1]]]
                    if s in passwords
                    else free_chars(owner, example, s, r)
                )
                # The first three characters and the last two stay as written: a
                # collection's pattern is often looser than the format (`ey[A-Za-z]`
                # for a JWT's `eyJ`, `00[A-Za-z]` for Salesforce's `00D`).
                free = [f and 3 <= i < len(free) - 2 for i, f in enumerate(free)]
                tmpl = shape_template(example[s[0] : s[1]], free)
                if sum(free) < 6:
                    ok = False  # too little of it is random to be worth a template
                    break
                if owner is not pat and (s[0], s[1]) not in set(secret_spans(owner, example)):
                    owner = pat
                # The template must still be an instance of the format.
                for trial in range(0 if s in passwords else 5):
                    v = expand(tmpl, random.Random(trial))
                    t2 = example[: s[0]] + v + example[s[1] :]
                    if (s[0], s[0] + len(v)) not in set(secret_spans(owner, t2)):
                        ok = False
                if not ok:
                    break
                pieces.append(example[last : s[0]])
                pieces.append(f"⟦{len(planted)}⟧")
                planted.append({"category": "credential", "kind": f"{source}:{rid}", "template": tmpl})
                last = s[1]
            if not ok or not planted:
                continue
            pieces.append(example[last:])
            text = "".join(pieces)
            # A token no collection pattern knew may still stand in the context: such an
            # example is left out rather than committed with it.
            if RANDOM_TOKEN.search(re.sub(r"⟦\d+⟧", " ", text)):
                continue
            yield part("credential-example", key), {
                "id": f"{source}:{key}",
                "source": COLLECTION_COMMITS[source],
                "text": text,
                "planted": planted,
            }


# ---- personal data in sentence templates ------------------------------------------------

def presidio_templates():
    import importlib.util

    # Only its data file is used (importing the package would need its models).
    spec = importlib.util.find_spec("presidio_evaluator")
    base = pathlib.Path(list(spec.submodule_search_locations)[0])
    path = base / "data_generator/raw_data/templates.txt"
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [l.strip() for l in lines if l.strip() and "{{" in l]


def group_digits(digits: str, r: random.Random) -> str:
    """A card number as people write it: compact, in fours, or in another grouping."""
    style = r.random()
    if style < 0.35:
        return digits
    sep = r.choice([" ", " ", "-"])
    if style < 0.8 or len(digits) not in (15, 16):
        groups = [digits[i : i + 4] for i in range(0, len(digits), 4)]
    elif len(digits) == 15:
        groups = [digits[:4], digits[4:10], digits[10:]]
    else:
        cut = r.choice([[4, 8, 12], [3, 7, 11, 15], [6, 10]])
        groups, prev = [], 0
        for c in cut + [len(digits)]:
            groups.append(digits[prev:c])
            prev = c
    return sep.join(g for g in groups if g)


def iban_text(f: Faker, r: random.Random) -> str:
    iban = f.iban()
    if r.random() < 0.5:
        return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    return iban


NON_ASCII_DOMAINS = ["münchen.de", "correo.es", "société.fr", "пример.рф", "例子.中国", "bücher.example", "mail.co.jp"]


def email_text(f: Faker, r: random.Random, name: str) -> str:
    if r.random() < 0.25 and any(ord(c) > 127 for c in name):
        local = re.sub(r"[^\w.-]+", ".", name.lower()).strip(".")
        return f"{local}@{r.choice(NON_ASCII_DOMAINS)}"
    if r.random() < 0.1:
        local = re.sub(r"[^\w.-]+", ".", name.lower()).strip(".") or "user"
        return f"{local}@{r.choice(NON_ASCII_DOMAINS)}"
    return f.email()


def ssn_text(f: Faker, locale: str) -> str | None:
    if locale == "en_IN":
        return f.aadhaar_id()
    if locale == "pt_BR":
        return f.cpf()
    if locale in ("en_US", "en_GB", "fr_FR", "zh_CN", "en_CA"):
        return f.ssn()
    return None


def fill(template: str, f: Faker, locale: str, r: random.Random):
    """Fills a presidio template; returns the text with ⟦i⟧ marks and the planted values."""
    planted = []

    def plant(category, kind, value):
        planted.append({"category": category, "kind": kind, "value": value})
        return f"⟦{len(planted) - 1}⟧"

    person = None

    def name():
        nonlocal person
        person = f.name()
        return person

    def sub(m):
        k = m.group(1)
        if k in ("person", "name", "name_male", "name_female"):
            return plant("person", "name", name())
        if k in ("first_name", "first_name_male", "first_name_female", "first_name_nonbinary"):
            return plant("person", "given-name", f.first_name())
        if k in ("last_name", "last_name_male", "last_name_female"):
            return plant("person", "surname", f.last_name())
        if k in ("address",):
            return plant("person", "address", f.address().replace("\n", ", "))
        if k == "street_name":
            return plant("person", "street", f.street_address())
        if k == "credit_card_number":
            return plant("payment", "card", group_digits(f.credit_card_number(), r))
        if k == "iban":
            return plant("payment", "iban", iban_text(f, r))
        if k == "phone_number":
            return plant("contact", "phone", f.phone_number())
        if k == "email":
            return plant("contact", "email", email_text(f, r, person or f.name()))
        if k == "ssn":
            v = ssn_text(f, locale) or f.ssn()
            return plant("government-id", "national-id", v)
        if k == "ip_address":
            return plant("network", "ip", f.ipv4_public())
        if k == "us_driver_license":
            return plant("government-id", "driver-license", f.bothify("?#######").upper())
        # Not sensitive by the detectors' categories: left unlabelled.
        fallback = {
            "organization": f.company, "city": f.city, "country": f.country,
            "building_number": f.building_number, "secondary_address": lambda: f.bothify("Apt. ###"),
            "postcode": f.postcode, "zipcode": f.postcode, "age": lambda: str(r.randint(18, 90)),
            "year": lambda: str(r.randint(1950, 2030)), "nationality": lambda: r.choice(["German", "French", "Indian", "Chinese", "Brazilian"]),
            "url": f.url, "job": f.job, "date_time": lambda: f.date_time().isoformat(" "),
            "date_of_birth": lambda: f.date_of_birth().isoformat(), "state_abbr": lambda: r.choice(["CA", "NY", "TX", "WA"]),
            "day_of_week": f.day_of_week, "prefix_male": lambda: "Mr.", "prefix_female": lambda: "Ms.",
            "prefix": lambda: r.choice(["Mr.", "Ms.", "Dr."]), "nation_woman": lambda: "German woman",
            "nation_plural": lambda: "Germans",
        }.get(k)
        return fallback() if fallback else m.group(0)

    text = re.sub(r"\{\{([a-z_]+)\}\}", sub, template)
    return text, planted


def pii_records():
    templates = presidio_templates()
    for t_i, template in enumerate(templates):
        split = part("presidio-template", template)
        for locale in LOCALES:
            r = rng_for("pii", split, locale, t_i)
            f = Faker(locale)
            f.seed_instance(r.randrange(2**32))
            text, planted = fill(template, f, locale, r)
            yield split, {"id": f"presidio:{t_i}:{locale}", "source": "presidio-evaluator templates + Faker", "text": text, "planted": planted}


# ---- personal data in log fields, headers and prompts ------------------------------------

def log_pii_records():
    """Fields of structured logs and mail headers: the shapes a log carries a person in."""
    for locale in LOCALES:
        for k in range(40):
            key = f"{locale}:{k}"
            split = part("log-pii", key)
            r = rng_for("logpii", split, key)
            f = Faker(locale)
            f.seed_instance(r.randrange(2**32))
            who = f.name()
            mail = email_text(f, r, who)
            ts = dt.datetime(2026, 1, 1) + dt.timedelta(seconds=r.randrange(10**7))
            choice = k % 8
            if choice == 0:
                text, planted = f"From: ⟦0⟧ <⟦1⟧>", [("person", "name", who), ("contact", "email", mail)]
            elif choice == 1:
                text, planted = (json.dumps({"ts": ts.isoformat() + "Z", "level": "info", "msg": "order placed", "customer": "⟦0⟧", "amount": round(r.uniform(1, 500), 2)}, ensure_ascii=False), [("person", "name", who)])
            elif choice == 2:
                text, planted = (f"{ts.isoformat()}Z INFO shipping label created name=\"⟦0⟧\" address=\"⟦1⟧\"", [("person", "name", who), ("person", "address", f.address().replace("\n", ", "))])
            elif choice == 3:
                text, planted = (f"{ts.isoformat()}Z WARN payment retry card=⟦0⟧ holder=\"⟦1⟧\"", [("payment", "card", group_digits(f.credit_card_number(), r)), ("person", "name", who)])
            elif choice == 4:
                text, planted = (f"user: Hi, I'm ⟦0⟧, my number is ⟦1⟧ and I live at ⟦2⟧.", [("person", "name", who), ("contact", "phone", f.phone_number()), ("person", "address", f.address().replace("\n", ", "))])
            elif choice == 5:
                text, planted = (f"To: ⟦0⟧ <⟦1⟧>\nSubject: your invoice {r.randint(1000, 99999)}", [("person", "name", who), ("contact", "email", mail)])
            elif choice == 6:
                iban = iban_text(f, r)
                text, planted = (f"{ts.isoformat()}Z INFO payout beneficiary=\"⟦0⟧\" iban=⟦1⟧ status=SENT", [("person", "name", who), ("payment", "iban", iban)])
            else:
                text, planted = (f"assistant: Thanks ⟦0⟧! I've updated the delivery address to ⟦1⟧.", [("person", "name", who), ("person", "address", f.address().replace("\n", ", "))])
            yield split, {
                "id": f"logpii:{key}",
                "source": "Faker in log and header shapes",
                "text": text,
                "planted": [{"category": c, "kind": k2, "value": v} for c, k2, v in planted],
            }


# ---- government ids -------------------------------------------------------------------------

GOV_CONTEXTS = [
    "applicant {who} national id ⟦0⟧ failed verification",
    'kyc check: {"name": "{who}", "id_number": "⟦0⟧"}',
    "Please update my records, my social security number is ⟦0⟧",
    "tax_id=⟦0⟧ status=pending",
    "ID: ⟦0⟧",
    "user says: my ID number is ⟦0⟧, can you check?",
]


def gov_records():
    for locale in ["en_US", "en_GB", "fr_FR", "zh_CN", "en_IN", "pt_BR", "en_CA"]:
        for k in range(24):
            key = f"{locale}:{k}"
            split = part("gov-id", key)
            r = rng_for("gov", split, key)
            f = Faker(locale)
            f.seed_instance(r.randrange(2**32))
            value = ssn_text(f, locale)
            if locale == "en_IN" and k % 2:
                value = f.pan() if hasattr(f, "pan") else value
            ctx = GOV_CONTEXTS[k % len(GOV_CONTEXTS)].replace("{who}", f.name())
            yield split, {"id": f"gov:{key}", "source": "Faker national ids", "text": ctx, "planted": [{"category": "government-id", "kind": f"{locale}-id", "value": value}]}


# ---- phone numbers ----------------------------------------------------------------------

PHONE_CONTEXTS = [
    "Please call me back at ⟦0⟧ after 5pm.",
    "contact_phone=⟦0⟧",
    '{"phone": "⟦0⟧", "verified": false}',
    "SMS delivery failed for ⟦0⟧ (carrier timeout)",
    "Tel.: ⟦0⟧",
    "my mobile is ⟦0⟧",
    "Customer reached us from ⟦0⟧, ext. 215",
    "callback number ⟦0⟧ confirmed",
]


def phone_records():
    types = [PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE]
    for region in PHONE_REGIONS:
        for t in types:
            ex = phonenumbers.example_number_for_type(region, t)
            if ex is None:
                continue
            for fmt_name, fmt in [("national", PhoneNumberFormat.NATIONAL), ("international", PhoneNumberFormat.INTERNATIONAL), ("e164", PhoneNumberFormat.E164)]:
                key = f"{region}:{t}:{fmt_name}"
                split = part("phone-example", key)
                r = rng_for("phone", key)
                number = phonenumbers.format_number(ex, fmt)
                ctx = r.choice(PHONE_CONTEXTS)
                yield split, {"id": f"phone:{key}", "source": "libphonenumber example numbers", "text": ctx, "planted": [{"category": "contact", "kind": "phone", "value": number}]}
    # Faker's locale formats, with extensions and without `+`.
    for locale in LOCALES:
        for k in range(25):
            key = f"{locale}:{k}"
            split = part("phone-faker", key)
            r = rng_for("phonef", split, key)
            f = Faker(locale)
            f.seed_instance(r.randrange(2**32))
            number = f.phone_number()
            ctx = PHONE_CONTEXTS[k % len(PHONE_CONTEXTS)]
            yield split, {"id": f"phonef:{key}", "source": "Faker phone formats", "text": ctx, "planted": [{"category": "contact", "kind": "phone", "value": number}]}


# ---- ordinary log lines (false positives) -----------------------------------------------

def observability_lines():
    from faker_observability import ObservabilityProvider
    import faker_observability.provider as fo

    class FixedClock(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=tz)

    fo.datetime = FixedClock
    ip = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
    for fmt in fo._LOG_FORMATS:
        for k in range(60):
            key = f"{fmt}:{k}"
            split = part("observability", key)
            f = Faker()
            f.add_provider(ObservabilityProvider)
            f.seed_instance(int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big"))
            line = f.log_line(fmt=fmt)
            planted = []
            # Client addresses are personal data (network): planted, not negatives.
            pieces, last = [], 0
            for m in ip.finditer(line):
                pieces.append(line[last : m.start()])
                pieces.append(f"⟦{len(planted)}⟧")
                planted.append({"category": "network", "kind": "ip", "value": m.group()})
                last = m.end()
            pieces.append(line[last:])
            yield split, {"id": f"obs:{key}", "source": "faker-observability-provider", "text": "".join(pieces), "planted": planted}
        if fmt == "json":
            for lang in ["python", "java", "go", "node", "ruby", "dotnet"]:
                for k in range(6):
                    key = f"stack:{lang}:{k}"
                    split = part("observability", key)
                    f = Faker()
                    f.add_provider(ObservabilityProvider)
                    f.seed_instance(k + 17)
                    try:
                        text = f.stacktrace(language=lang)
                    except Exception:
                        continue
                    yield split, {"id": f"obs:{key}", "source": "faker-observability-provider", "text": text, "planted": []}


def benign_lines():
    """Hard negatives: values that look like secrets or numbers but are none."""
    for k in range(700):
        key = str(k)
        split = part("benign", key)
        r = rng_for("benign", split, key)
        f = Faker()
        f.seed_instance(r.randrange(2**32))
        ts = (dt.datetime(2026, 1, 1) + dt.timedelta(seconds=r.randrange(10**7), microseconds=r.randrange(10**6)))
        kind = k % 14
        if kind == 0:
            text = f"{ts.isoformat()}Z INFO request_id={f.uuid4()} took={r.randint(1, 3000)}ms status={r.choice([200, 201, 204, 404])}"
        elif kind == 1:
            text = f"deploy commit={f.sha1()} image_digest=sha256:{f.sha256()} version={r.randint(0, 9)}.{r.randint(0, 40)}.{r.randint(0, 200)}"
        elif kind == 2:
            text = f"GET {f.uri()} HTTP/1.1 200 {r.randint(100, 99999)} \"{f.user_agent()}\""
        elif kind == 3:
            text = f"open {f.file_path(depth=r.randint(1, 5))}: permission denied (errno {r.randint(1, 130)})"
        elif kind == 4:
            text = f"invoice total={f.pricetag()} tax={r.randint(1, 99)}.{r.randint(0, 99):02d} EUR isbn={f.isbn13()} ean={f.ean13()}"
        elif kind == 5:
            text = f"pod {f.slug()}-{f.hexify('^^^^^^^^^')}-{f.lexify('?????')} on node ip-{r.randint(10, 250)}-{r.randint(0, 255)}-{r.randint(0, 255)}-{r.randint(0, 255)}.ec2.internal restarted {r.randint(1, 9)} times"
        elif kind == 6:
            text = f"{ts.strftime('%d/%b/%Y:%H:%M:%S')} listening on port {f.port_number()} (pid {r.randint(100, 99999)}), build {r.randint(1000, 99999)}"
        elif kind == 7:
            text = f"trace_id={f.hexify('^' * 32)} span_id={f.hexify('^' * 16)} parent={f.hexify('^' * 16)} sampled=1 duration_ns={r.randint(10**4, 10**10)}"
        elif kind == 8:
            text = f"{f.sentence(nb_words=r.randint(6, 14))} ({f.catch_phrase()})"
        elif kind == 9:
            text = f"epoch={int(ts.timestamp())} epoch_ms={int(ts.timestamp() * 1000)} epoch_ns={int(ts.timestamp() * 10**9)} seq={r.randint(10**6, 10**12)}"
        elif kind == 10:
            text = f"lat={f.latitude()} lon={f.longitude()} color={f.hex_color()} mime={f.mime_type()} tz={f.timezone()}"
        elif kind == 11:
            text = f"order {f.bothify('??-########').upper()} for {f.company()} shipped via {f.license_plate()} on {f.date()}"
        elif kind == 12:
            text = json.dumps({"level": "debug", "msg": f.bs(), "job": f.job(), "retries": r.randint(0, 5), "md5": f.md5(), "ts": ts.isoformat()})
        else:
            text = f"password_policy=min_length:{r.randint(8, 16)} token_ttl={r.randint(60, 86400)}s max_tokens={r.randint(16, 8192)} api_version={f.date()} auth_method={r.choice(['oauth2', 'saml', 'ldap'])}"
        yield split, {"id": f"benign:{key}", "source": "Faker benign values", "text": text, "planted": []}


# ---- secrets assigned to names (and placeholders that are none) ------------------------------

ASSIGN_SYNTAXES = [
    "{k}={v}", "{k}: {v}", '"{k}": "{v}"', "{k} = \"{v}\"", "{k} := \"{v}\"", "'{k}' => '{v}'",
    "{k} -> {v}", "<{k}>{v}</{k}>", '<add key="{k}" value="{v}"/>', "--{k} {v}", "--{k}={v}",
    "?{k}={v}&lang=en", "export {K}='{v}'", "{K}={v}", "set {k} {v}", "{k}: '{v}'",
]
PLACEHOLDERS = ["${DB_PASSWORD}", "$NPM_TOKEN", "%s", "{}", "<redacted>", "[REDACTED]", "****", "null", "none", "", "xxxxxxxx", "/run/secrets/db_password", "{{ .Values.password }}", "%(password)s", "<your-api-key>", "********"]
KEYS = ["password", "db_password", "api_key", "client_secret", "auth_token", "secret", "passwd", "access_token", "apiKey", "X-Api-Key", "private_key", "smtp_password"]


def assignment_records():
    for k in range(240):
        key = str(k)
        split = part("assign", key)
        r = rng_for("assign", split, key)
        f = Faker()
        f.seed_instance(r.randrange(2**32))
        syntax = ASSIGN_SYNTAXES[k % len(ASSIGN_SYNTAXES)]
        name = r.choice(KEYS)
        if k % 3 == 2:
            value = r.choice(PLACEHOLDERS)
            text = syntax.replace("{k}", name).replace("{K}", name.upper()).replace("{v}", value)
            yield split, {"id": f"assign:{key}", "source": "placeholders", "text": text, "planted": []}
            continue
        secret = f.password(length=r.randint(10, 20), special_chars=r.random() < 0.6)
        secret = secret.replace("'", "").replace('"', "").replace("<", "").replace("&", "").replace("\\", "")
        tmpl = shape_template(secret, [True] * len(secret))
        text = syntax.replace("{k}", name).replace("{K}", name.upper()).replace("{v}", "⟦0⟧")
        yield split, {"id": f"assign:{key}", "source": "Faker passwords in assignment syntaxes", "text": text, "planted": [{"category": "credential", "kind": "assigned", "template": tmpl}]}
    prose = [
        "the password is ⟦0⟧", "Your temporary password: ⟦0⟧", "use passphrase ⟦0⟧ to unlock",
        "He told me the password was ⟦0⟧ yesterday", "wifi password ⟦0⟧", "Passwort: ⟦0⟧",
        "mot de passe : ⟦0⟧", "contraseña ⟦0⟧", "pin code is ⟦0⟧", "login with user admin and password ⟦0⟧",
    ]
    for k, p in enumerate(prose * 3):
        key = f"prose:{k}"
        split = part("assign", key)
        r = rng_for("prose", split, key)
        f = Faker()
        f.seed_instance(r.randrange(2**32))
        secret = f.password(length=r.randint(8, 14), special_chars=False)
        yield split, {"id": f"assign:{key}", "source": "Faker passwords in prose", "text": p, "planted": [{"category": "credential", "kind": "prose", "template": shape_template(secret, [True] * len(secret))}]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kingfisher", required=True)
    ap.add_argument("--noseyparker", required=True)
    args = ap.parse_args()
    rules = collection_rules(args.kingfisher, "kingfisher") + collection_rules(args.noseyparker, "noseyparker")
    out = {"learn": [], "eval": []}
    seen = set()
    for gen in [credential_records(rules), pii_records(), log_pii_records(), gov_records(), phone_records(), observability_lines(), benign_lines(), assignment_records()]:
        for split, rec in gen:
            sig = (rec["text"], json.dumps(rec["planted"], sort_keys=True))
            if sig in seen:
                continue
            seen.add(sig)
            rec["split"] = split
            out[split].append(rec)
    OUT.mkdir(parents=True, exist_ok=True)
    for split, recs in out.items():
        with open(OUT / f"{split}.jsonl", "w", encoding="utf-8") as fh:
            for rec in recs:
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        cats = {}
        for rec in recs:
            for p in rec["planted"]:
                cats[p["category"]] = cats.get(p["category"], 0) + 1
        neg = sum(1 for rec in recs if not rec["planted"])
        print(f"{split}: {len(recs)} records, {neg} negatives, planted {dict(sorted(cats.items()))}", file=sys.stderr)


if __name__ == "__main__":
    main()
