//! A labeled corpus of log lines, generated from a fixed seed: lines with planted
//! sensitive values (each with its category and exact text) and hard negatives that
//! must come out unchanged. Nothing here is a real secret: every value is drawn from
//! `Rng`, and the shapes (prefixes, lengths, check digits) are those the real ones have.
//!
//! Shared by `tests/corpus.rs`, `tests/props.rs` and `examples/throughput.rs`.

#![allow(dead_code)]

use casefile_guest::detect::Category;

/// SplitMix64: tiny, fast, and the same sequence on every platform and version, so a
/// seed names one corpus for good (a dependency's generator may change between
/// releases).
#[derive(Clone, Debug)]
pub struct Rng(u64);

pub const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
pub const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
pub const DIGITS: &[u8] = b"0123456789";
pub const HEX: &[u8] = b"0123456789abcdef";
pub const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
pub const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
pub const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// What AWS access key ids are made of (base32).
pub const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// Crockford base32, for ULIDs.
pub const CROCKFORD: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// 0..n
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// lo..=hi
    pub fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }

    pub fn string(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n).map(|_| *self.pick(alphabet) as char).collect()
    }

    pub fn digits(&mut self, n: usize) -> String {
        self.string(DIGITS, n)
    }

    pub fn hex(&mut self, n: usize) -> String {
        self.string(HEX, n)
    }

    pub fn alnum(&mut self, n: usize) -> String {
        self.string(ALNUM, n)
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

pub fn base64(bytes: &[u8], alphabet: &[u8], pad: bool) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
        if pad {
            for _ in chunk.len()..3 {
                out.push('=');
            }
        }
    }
    out
}

/// One sensitive value in a line: its category and its exact text there.
#[derive(Clone, Debug)]
pub struct Planted {
    pub category: Category,
    pub value: String,
}

/// A log line and the values planted in it (none for a hard negative).
#[derive(Clone, Debug)]
pub struct Line {
    /// Which template made it, for failure reports.
    pub kind: &'static str,
    pub text: String,
    pub planted: Vec<Planted>,
}

fn plant(category: Category, value: impl Into<String>) -> Planted {
    Planted {
        category,
        value: value.into(),
    }
}

use Category::*;

// ---- context: what surrounds a value in a log line -----------------------------------

const SERVICES: &[&str] = &[
    "api-gateway",
    "billing",
    "auth-svc",
    "checkout",
    "plugin-runtime",
    "notifier",
    "ledger",
    "search",
    "ingest-worker",
    "user-profile",
];
const LEVELS: &[&str] = &["INFO", "WARN", "ERROR", "DEBUG", "error", "warn", "info"];
const FIRST: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "oscar", "peggy", "trent", "victor", "wei", "li", "yuki", "olga", "pierre",
];
const LAST: &[&str] = &[
    "smith", "jones", "zhang", "wang", "mueller", "dubois", "tanaka", "garcia", "rossi",
    "kowalski", "nguyen", "ivanova", "silva", "patel", "kim",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "mail.example.org",
    "corp-mail.co.uk",
    "gmail.com",
    "outlook.com",
    "acme.io",
    "dept.bigcorp.com.cn",
    "yahoo.co.jp",
    "web.de",
    "students.uni-example.edu",
];
const HOSTS: &[&str] = &[
    "db.internal",
    "pg-primary.prod.svc.cluster.local",
    "mysql-0.mysql",
    "cache.internal",
    "cluster0.ab1cd.mongodb.net",
    "rabbit.mq.local",
    "10-0-3-7.internal",
    "api.example.com",
];
const PATHS: &[&str] = &[
    "/api/v1/users",
    "/api/v2/orders",
    "/v1/charges",
    "/oauth/token",
    "/login",
    "/healthz",
    "/internal/debug/report",
    "/static/app.js",
    "/graphql",
    "/webhooks/stripe",
];

fn timestamp(r: &mut Rng) -> String {
    let (y, mo, d) = (r.between(2023, 2026), r.between(1, 12), r.between(1, 28));
    let (h, mi, s, ms) = (r.below(24), r.below(60), r.below(60), r.below(1000));
    match r.below(6) {
        0 => format!("{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z"),
        1 => format!("{y}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02},{ms:03}"),
        2 => {
            let off = r.pick(&["+08:00", "-05:00", "+00:00", "+05:30", "+10:00", "-07:00"]);
            format!(
                "{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:06}{off}",
                r.below(1_000_000)
            )
        }
        3 => {
            let mon = r.pick(&[
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ]);
            format!("[{d:02}/{mon}/{y}:{h:02}:{mi:02}:{s:02} +0000]")
        }
        4 => format!("ts={}", r.between(1_690_000_000_000, 1_790_000_000_000)),
        _ => format!("{y}/{mo:02}/{d:02} {h:02}:{mi:02}:{s:02}"),
    }
}

fn uuid(r: &mut Rng) -> String {
    format!(
        "{}-{}-4{}-{}{}-{}",
        r.hex(8),
        r.hex(4),
        r.hex(3),
        r.pick(&['8', '9', 'a', 'b']),
        r.hex(3),
        r.hex(12)
    )
}

fn ulid(r: &mut Rng) -> String {
    format!("01H{}", r.string(CROCKFORD, 23))
}

/// The start of a log line: time, level, service, sometimes a request or trace id.
fn prefix(r: &mut Rng) -> String {
    let ts = timestamp(r);
    let level = *r.pick(LEVELS);
    let svc = *r.pick(SERVICES);
    match r.below(5) {
        0 => format!("{ts} {level} [{svc}] "),
        1 => format!("{ts} {level} {svc} request_id=req_{} ", ulid(r)),
        2 => format!(
            "{ts} {level} [{svc}] trace_id={} span_id={} ",
            r.hex(32),
            r.hex(16)
        ),
        3 => format!("{level} {svc}: "),
        _ => format!(
            "{ts} [{}] {level} {svc} - ",
            r.pick(&[
                "main",
                "worker-3",
                "tokio-runtime-worker",
                "http-nio-8080-exec-7"
            ])
        ),
    }
}

fn username(r: &mut Rng) -> String {
    let (f, l) = (*r.pick(FIRST), *r.pick(LAST));
    match r.below(4) {
        0 => f.to_owned(),
        1 => format!("{f}.{l}"),
        2 => format!("{f}{}", r.between(1, 99)),
        _ => format!("{f}_{l}"),
    }
}

// ---- credentials ------------------------------------------------------------------

pub fn aws_key_id(r: &mut Rng) -> String {
    format!("{}{}", r.pick(&["AKIA", "ASIA"]), r.string(BASE32, 16))
}

pub fn aws_secret(r: &mut Rng) -> String {
    loop {
        let s = r.string(B64, 40);
        // Real keys always mix cases and digits; forty random characters nearly always
        // do, but a corpus must not hinge on luck.
        if s.bytes().any(|b| b.is_ascii_uppercase())
            && s.bytes().any(|b| b.is_ascii_lowercase())
            && s.bytes().any(|b| b.is_ascii_digit())
        {
            return s;
        }
    }
}

pub fn gcp_api_key(r: &mut Rng) -> String {
    format!("AIza{}", r.string(B64URL, 35))
}

pub fn azure_key(r: &mut Rng) -> String {
    base64(&r.bytes(64), B64, true)
}

pub fn github_token(r: &mut Rng) -> String {
    match r.below(5) {
        0 => format!("github_pat_{}_{}", r.alnum(22), r.alnum(59)),
        n => format!("{}_{}", ["ghp", "gho", "ghs", "ghu"][n - 1], r.alnum(36)),
    }
}

pub fn gitlab_token(r: &mut Rng) -> String {
    format!("glpat-{}", r.string(B64URL, 20))
}

pub fn slack_token(r: &mut Rng) -> String {
    match r.below(2) {
        0 => format!("xoxb-{}-{}-{}", r.digits(12), r.digits(13), r.alnum(24)),
        _ => format!(
            "xoxp-{}-{}-{}-{}",
            r.digits(12),
            r.digits(12),
            r.digits(13),
            r.hex(32)
        ),
    }
}

pub fn stripe_key(r: &mut Rng) -> String {
    let n = *r.pick(&[24, 99]);
    format!("{}_live_{}", r.pick(&["sk", "rk"]), r.alnum(n))
}

pub fn npm_token(r: &mut Rng) -> String {
    format!("npm_{}", r.alnum(36))
}

pub fn pypi_token(r: &mut Rng) -> String {
    let n = r.between(60, 160);
    format!("pypi-AgEIcHlwaS5vcmc{}", r.string(B64URL, n))
}

pub fn openai_key(r: &mut Rng) -> String {
    match r.below(3) {
        0 => format!("sk-{}T3BlbkFJ{}", r.alnum(20), r.alnum(20)),
        1 => format!(
            "sk-proj-{}T3BlbkFJ{}",
            r.string(B64URL, 74),
            r.string(B64URL, 74)
        ),
        _ => format!("sk-svcacct-{}", r.string(B64URL, 100)),
    }
}

pub fn jwt(r: &mut Rng) -> String {
    let header = match r.below(3) {
        0 => r#"{"alg":"HS256","typ":"JWT"}"#.to_owned(),
        1 => format!(r#"{{"alg":"RS256","kid":"{}","typ":"JWT"}}"#, r.hex(16)),
        _ => r#"{"typ":"JWT","alg":"ES256"}"#.to_owned(),
    };
    let iat = r.between(1_690_000_000, 1_790_000_000);
    let payload = format!(
        r#"{{"sub":"{}","iat":{iat},"exp":{},"scope":"read write","tenant":"{}"}}"#,
        uuid(r),
        iat + 3600,
        r.pick(SERVICES)
    );
    let sig_len = *r.pick(&[32, 64, 256]);
    format!(
        "{}.{}.{}",
        base64(header.as_bytes(), B64URL, false),
        base64(payload.as_bytes(), B64URL, false),
        base64(&r.bytes(sig_len), B64URL, false)
    )
}

pub fn opaque_token(r: &mut Rng) -> String {
    let n = r.between(24, 64);
    r.string(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-~",
        n,
    )
}

/// A password a person or a generator would choose: letters, digits, common symbols.
pub fn password(r: &mut Rng) -> String {
    match r.below(4) {
        0 => format!(
            "{}{}{}",
            r.pick(&[
                "Summer",
                "Winter",
                "Dragon",
                "Monkey",
                "Passw0rd",
                "Tr0ub4dor",
                "letmein",
                "qwerty"
            ]),
            r.between(1, 2025),
            r.pick(&["!", "#", "$", "", "?", "*"])
        ),
        1 => {
            let n = r.between(12, 24);
            r.string(
                b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!@#$%^*-_+=.~",
                n,
            )
        }
        2 => {
            let n = r.between(8, 16);
            r.alnum(n)
        }
        _ => format!(
            "{}-{}-{}",
            r.pick(&["correct", "horse", "battery", "staple", "orbit", "maple"]),
            r.pick(&["river", "stone", "cloud", "ember"]),
            r.digits(2)
        ),
    }
}

/// A password made only of characters that need no escaping in a URL.
pub fn url_password(r: &mut Rng) -> String {
    let n = r.between(8, 20);
    let base = r.string(
        b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789._~-",
        n,
    );
    if r.chance(30) {
        // An escaped symbol, as a client library writes it.
        format!(
            "{base}{}",
            r.pick(&["%21", "%40", "%23", "%24", "%2F", "%3A"])
        )
    } else {
        base
    }
}

fn pem_body_lines(r: &mut Rng, lines: usize) -> Vec<String> {
    let mut out: Vec<String> = (0..lines)
        .map(|_| base64(&r.bytes(48), B64, false))
        .collect();
    let n = r.between(5, 40);
    out.push(base64(&r.bytes(n), B64, true));
    out
}

pub fn pem_block(r: &mut Rng) -> String {
    let kind = *r.pick(&[
        "RSA PRIVATE KEY",
        "EC PRIVATE KEY",
        "PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
        "DSA PRIVATE KEY",
        "PGP PRIVATE KEY BLOCK",
    ]);
    let n = r.between(2, 12);
    let body = pem_body_lines(r, n).join("\n");
    format!("-----BEGIN {kind}-----\n{body}\n-----END {kind}-----")
}

/// The `private_key` of a GCP service-account file, as it stands in the JSON (`\n` escapes).
pub fn gcp_private_key_json(r: &mut Rng) -> String {
    let n = r.between(3, 20);
    let body = pem_body_lines(r, n).join("\\n");
    format!("-----BEGIN PRIVATE KEY-----\\n{body}\\n-----END PRIVATE KEY-----\\n")
}

pub fn credential_line(r: &mut Rng) -> Line {
    let p = prefix(r);
    let user = username(r);
    let (kind, text, planted): (&'static str, String, Vec<Planted>) = match r.below(50) {
        0 => {
            let id = aws_key_id(r);
            let secret = aws_secret(r);
            ("aws ini", format!("{p}loaded profile [default]\naws_access_key_id = {id}\naws_secret_access_key = {secret}"), vec![plant(Credential, id), plant(Credential, secret)])
        }
        1 => {
            let id = aws_key_id(r);
            let secret = aws_secret(r);
            ("aws env", format!("{p}env AWS_ACCESS_KEY_ID={id} AWS_SECRET_ACCESS_KEY={secret} AWS_REGION=eu-west-1"), vec![plant(Credential, id), plant(Credential, secret)])
        }
        2 => {
            let id = aws_key_id(r);
            let secret = aws_secret(r);
            let session = base64(&r.bytes(180), B64, true);
            (
                "aws sts json",
                format!(
                    r#"{p}sts response {{"Credentials":{{"AccessKeyId":"{id}","SecretAccessKey":"{secret}","SessionToken":"{session}","Expiration":"2024-05-01T13:34:56Z"}}}}"#
                ),
                vec![
                    plant(Credential, id),
                    plant(Credential, secret),
                    plant(Credential, session),
                ],
            )
        }
        3 => {
            let id = aws_key_id(r);
            ("aws id plain", format!("{p}AccessDenied: User arn:aws:iam::{}:user/{user} with key {id} is not authorized to perform s3:GetObject", r.digits(12)), vec![plant(Credential, id)])
        }
        4 => {
            let key = gcp_api_key(r);
            ("gcp key url", format!("{p}GET https://maps.googleapis.com/maps/api/geocode/json?address=Berlin&key={key} -> 403"), vec![plant(Credential, key)])
        }
        5 => {
            let key = gcp_api_key(r);
            (
                "gcp key env",
                format!("{p}GOOGLE_API_KEY={key}"),
                vec![plant(Credential, key)],
            )
        }
        6 => {
            let pk = gcp_private_key_json(r);
            let project = format!(
                "{}-{}",
                r.pick(&["prod", "staging", "analytics"]),
                r.digits(6)
            );
            (
                "gcp service account",
                format!(
                    r#"{p}credentials file {{"type": "service_account", "project_id": "{project}", "private_key_id": "{}", "private_key": "{pk}", "client_email": "deployer@{project}.iam.gserviceaccount.com", "client_id": "{}"}}"#,
                    r.hex(40),
                    r.digits(21)
                ),
                vec![plant(Credential, pk)],
            )
        }
        7 => {
            let key = azure_key(r);
            ("azure conn", format!("{p}BlobServiceClient from DefaultEndpointsProtocol=https;AccountName=st{};AccountKey={key};EndpointSuffix=core.windows.net", r.alnum(8).to_lowercase()), vec![plant(Credential, key)])
        }
        8 => {
            let t = github_token(r);
            ("github", format!("{p}git clone https://x-access-token:{t}@github.com/acme/repo.git failed: exit 128"), vec![plant(Credential, t)])
        }
        9 => {
            let t = github_token(r);
            (
                "github env",
                format!("{p}GITHUB_TOKEN={t} gh api /repos/acme/app"),
                vec![plant(Credential, t)],
            )
        }
        10 => {
            let t = gitlab_token(r);
            ("gitlab header", format!("{p}curl --header \"PRIVATE-TOKEN: {t}\" https://gitlab.example.com/api/v4/projects"), vec![plant(Credential, t)])
        }
        11 => {
            let t = slack_token(r);
            (
                "slack",
                format!("{p}slack client init token={t} channel=#alerts"),
                vec![plant(Credential, t)],
            )
        }
        12 => {
            let t = slack_token(r);
            (
                "slack yaml",
                format!("{p}config:\n  slack:\n    bot_token: {t}\n    channel: '#ops'"),
                vec![plant(Credential, t)],
            )
        }
        13 => {
            let k = stripe_key(r);
            (
                "stripe",
                format!(
                    "{p}stripe.api_key set from env, using {k} for charge ch_{}",
                    r.alnum(24)
                ),
                vec![plant(Credential, k)],
            )
        }
        14 => {
            let t = npm_token(r);
            (
                "npmrc",
                format!("{p}//registry.npmjs.org/:_authToken={t}"),
                vec![plant(Credential, t)],
            )
        }
        15 => {
            let t = pypi_token(r);
            (
                "pypirc",
                format!("{p}[pypi]\n  username = __token__\n  password = {t}"),
                vec![plant(Credential, t)],
            )
        }
        16 => {
            let k = openai_key(r);
            ("openai", format!("{p}openai.AuthenticationError: Incorrect API key provided: {k}. You can find your API key at https://platform.openai.com/account/api-keys."), vec![plant(Credential, k)])
        }
        17 => {
            let t = jwt(r);
            (
                "jwt plain",
                format!("{p}token validation failed for {t}: signature expired"),
                vec![plant(Credential, t)],
            )
        }
        18 => {
            let t = jwt(r);
            (
                "jwt cookie",
                format!("{p}Cookie: theme=dark; id_token={t}; lang=en"),
                vec![plant(Credential, t)],
            )
        }
        19 => {
            let t = opaque_token(r);
            let h = r.pick(&["Authorization", "authorization"]);
            (
                "bearer header",
                format!("{p}> {h}: Bearer {t}"),
                vec![plant(Credential, t)],
            )
        }
        20 => {
            let t = jwt(r);
            (
                "bearer json",
                format!(
                    r#"{p}outgoing request {{"method":"POST","url":"https://api.example.com/v1/charges","headers":{{"Authorization":"Bearer {t}","Content-Type":"application/json"}}}}"#
                ),
                vec![plant(Credential, t)],
            )
        }
        21 => {
            let pw = password(r);
            let basic = base64(format!("{user}:{pw}").as_bytes(), B64, true);
            (
                "basic header",
                format!(
                    "{p}headers={{'Host': 'api.example.com', 'Authorization': 'Basic {basic}'}}"
                ),
                vec![plant(Credential, basic)],
            )
        }
        22 => {
            let pw = password(r);
            (
                "password kv",
                format!("{p}login attempt user={user} password={pw} result=denied"),
                vec![plant(Credential, pw)],
            )
        }
        23 => {
            let pw = password(r);
            (
                "password json",
                format!(
                    r#"{p}POST /login body={{"username":"{user}","password":"{pw}","remember":true}}"#
                ),
                vec![plant(Credential, pw)],
            )
        }
        24 => {
            let pw = password(r);
            ("password yaml", format!("{p}rendered config:\ndatabase:\n  host: {}\n  user: {user}\n  password: {pw}\n  pool: 10", r.pick(HOSTS)), vec![plant(Credential, pw)])
        }
        25 => {
            let pw = url_password(r);
            (
                "password query",
                format!("{p}GET /api/login?username={user}&password={pw}&next=%2Fhome HTTP/1.1"),
                vec![plant(Credential, pw)],
            )
        }
        26 => {
            let pw = url_password(r);
            (
                "url userinfo",
                format!(
                    "{p}fetching https://{user}:{pw}@artifacts.example.com/releases/app.tar.gz"
                ),
                vec![plant(Credential, pw)],
            )
        }
        27 => {
            let pem = pem_block(r);
            (
                "pem",
                format!("{p}loaded key from /etc/ssl/private/server.key:\n{pem}"),
                vec![plant(Credential, pem)],
            )
        }
        28 => {
            let pem = pem_block(r).replace('\n', "\\n");
            (
                "pem json",
                format!(r#"{p}secret payload {{"name":"tls","tls.key":"{pem}"}}"#),
                vec![plant(Credential, pem)],
            )
        }
        29 => {
            let pw = url_password(r);
            let (scheme, port) = *r.pick(&[
                ("postgres", 5432),
                ("postgresql", 5432),
                ("mysql", 3306),
                ("mongodb", 27017),
                ("amqp", 5672),
            ]);
            (
                "db uri",
                format!(
                    "{p}connecting to {scheme}://{user}:{pw}@{}:{port}/app?sslmode=require",
                    r.pick(HOSTS)
                ),
                vec![plant(Credential, pw)],
            )
        }
        30 => {
            let pw = url_password(r);
            ("mongodb srv", format!("{p}MONGO_URL=mongodb+srv://{user}:{pw}@cluster0.{}.mongodb.net/prod?retryWrites=true&w=majority", r.alnum(5).to_lowercase()), vec![plant(Credential, pw)])
        }
        31 => {
            let pw = url_password(r);
            let u = if r.chance(50) {
                String::new()
            } else {
                "default".to_owned()
            };
            (
                "redis uri",
                format!(
                    "{p}redis: Error connecting to {}://{u}:{pw}@cache.internal:6379/0: timeout",
                    r.pick(&["redis", "rediss"])
                ),
                vec![plant(Credential, pw)],
            )
        }
        32 => {
            let pw = url_password(r);
            ("jdbc", format!("{p}HikariPool-1 - jdbc:postgresql://db.internal:5432/app?user={user}&password={pw}&ssl=true"), vec![plant(Credential, pw)])
        }
        33 => {
            let pw = password(r).replace(';', "");
            ("ado.net", format!("{p}SqlConnection: Server=tcp:sql-{}.database.windows.net,1433;Initial Catalog=app;User ID={user};Password={pw};Encrypt=True;", r.alnum(6).to_lowercase()), vec![plant(Credential, pw)])
        }
        34 => {
            let t = opaque_token(r);
            (
                "api key header",
                format!("{p}request headers: X-Api-Key: {t}, Accept: application/json"),
                vec![plant(Credential, t)],
            )
        }
        35 => {
            let n = r.between(24, 40);
            let s = r.alnum(n);
            (
                "client secret kv",
                format!(
                    "{p}oauth client_id={} client_secret={s} grant_type=client_credentials",
                    r.alnum(20)
                ),
                vec![plant(Credential, s)],
            )
        }
        36 => {
            let s = r.hex(64);
            (
                "webhook secret env",
                format!("{p}export WEBHOOK_SECRET=\"{s}\""),
                vec![plant(Credential, s)],
            )
        }
        37 => {
            let s = opaque_token(r);
            ("access token query", format!("{p}callback GET /oauth/callback?code={}&state={}&access_token={s}&token_type=bearer", r.alnum(20), r.hex(16)), vec![plant(Credential, s)])
        }
        38 => {
            let id = aws_key_id(r);
            let secret = aws_secret(r);
            ("aws cli", format!("{p}exec: aws configure set aws_access_key_id {id} && aws configure set aws_secret_access_key {secret}"), vec![plant(Credential, id), plant(Credential, secret)])
        }
        40 => {
            let t = opaque_token(r);
            let name = *r.pick(&[
                "API_TOKEN",
                "STRIPE_SECRET",
                "DB_PASSWORD",
                "SLACK_BOT_TOKEN",
                "JWT_SECRET",
            ]);
            (
                "ecs env json",
                format!(
                    r#"{p}task definition containerDefinitions[0].environment=[{{"name":"NODE_ENV","value":"production"}},{{"name":"{name}","value":"{t}"}}]"#
                ),
                vec![plant(Credential, t)],
            )
        }
        41 => {
            let pw = password(r).replace(['\'', '"'], "");
            ("curl -u", format!("{p}exec: curl -sS -u {user}:{pw} https://api.example.com/v1/export -o /tmp/out.json"), vec![plant(Credential, pw)])
        }
        42 => {
            let t = opaque_token(r);
            let cmd = match r.below(8) {
                0 => format!("sshpass -p {t} ssh deploy@bastion"),
                1 => format!("mysql -h db.internal -u {user} -p{t} app"),
                2 => format!("redis-cli -h cache.internal -a {t} ping"),
                n => format!(
                    "/usr/local/bin/sync-tool --host db.internal {} {t} --verbose",
                    [
                        "--password",
                        "--token",
                        "--api-key",
                        "--client-secret",
                        "--auth-token"
                    ][n - 3]
                ),
            };
            (
                "cli flag",
                format!("{p}spawned: {cmd}"),
                vec![plant(Credential, t)],
            )
        }
        43 => {
            let sid = r.alnum(32);
            let name = *r.pick(&[
                "PHPSESSID",
                "connect.sid",
                "_gh_sess",
                "JSESSIONID",
                "laravel_session",
                "sid",
            ]);
            (
                "cookie header",
                format!(
                    "{p}> Cookie: _ga=GA1.2.{}.{}; {name}={sid}; theme=dark",
                    r.digits(9),
                    r.digits(10)
                ),
                vec![plant(Credential, sid)],
            )
        }
        44 => {
            let sid = r.alnum(40);
            let name = *r.pick(&["PHPSESSID", "connect.sid", "_gh_sess", "session", "auth"]);
            (
                "set-cookie",
                format!("{p}< Set-Cookie: {name}={sid}; Path=/; HttpOnly; Secure; SameSite=Lax"),
                vec![plant(Credential, sid)],
            )
        }
        45 => {
            let pw = password(r).replace(['<', '>', '&'], "");
            let tag = *r.pick(&[
                "password",
                "Password",
                "wsse:Password",
                "api_key",
                "ClientSecret",
            ]);
            ("xml element", format!("{p}SOAP request <soapenv:Header><wsse:UsernameToken><wsse:Username>{user}</wsse:Username><{tag}>{pw}</{tag}></wsse:UsernameToken></soapenv:Header>"), vec![plant(Credential, pw)])
        }
        46 => {
            let pw = password(r).replace(['\'', '\\'], "");
            let stmt = *r.pick(&[
                "CREATE USER app_rw WITH PASSWORD",
                "ALTER USER app_rw WITH ENCRYPTED PASSWORD",
                "CREATE USER 'app'@'%' IDENTIFIED BY",
                "ALTER ROLE reporting PASSWORD",
            ]);
            (
                "sql password",
                format!("{p}statement: {stmt} '{pw}';"),
                vec![plant(Credential, pw)],
            )
        }
        47 => {
            let pem = pem_block(r).replace("PGP PRIVATE KEY BLOCK", "RSA PRIVATE KEY");
            let b64 = base64(format!("{pem}\n").as_bytes(), B64, true);
            let crt = base64(b"-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ\n-----END CERTIFICATE-----\n", B64, true);
            ("k8s secret", format!("{p}kubectl get secret tls -o yaml:\napiVersion: v1\ndata:\n  tls.crt: {crt}\n  tls.key: {b64}\nkind: Secret\ntype: kubernetes.io/tls"), vec![plant(Credential, b64)])
        }
        48 => {
            let pw = url_password(r);
            ("dotenv url", format!("{p}loaded .env: DATABASE_URL=postgres://{user}:{pw}@{}:5432/app REDIS_URL=redis://cache:6379", r.pick(HOSTS)), vec![plant(Credential, pw)])
        }
        _ => {
            let pw = password(r).replace(['\\', '"'], "");
            ("password env yaml", format!("{p}container env:\n- name: DB_PASSWORD\n  value: \"{pw}\"\n- name: DB_USER\n  value: {user}"), vec![plant(Credential, pw)])
        }
    };
    Line {
        kind,
        text,
        planted,
    }
}

// ---- payment ------------------------------------------------------------------------

fn luhn_complete(partial: &str) -> String {
    // The check digit that makes `partial` + digit pass the Luhn check.
    let mut sum = 0;
    for (i, b) in partial.bytes().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    format!("{partial}{}", (10 - sum % 10) % 10)
}

pub fn luhn_ok(digits: &str) -> bool {
    let mut sum = 0;
    for (i, b) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

/// A Luhn-valid card number of Visa, Mastercard (both ranges) or Amex, grouped as the
/// card is printed (or not at all).
pub fn card(r: &mut Rng) -> String {
    let (digits, amex) = match r.below(4) {
        0 => {
            let p = format!("4{}", r.digits(14));
            (luhn_complete(&p), false)
        }
        1 => {
            let p = format!("5{}{}", r.between(1, 5), r.digits(13));
            (luhn_complete(&p), false)
        }
        2 => {
            let p = format!("{}{}", r.between(2221, 2720), r.digits(11));
            (luhn_complete(&p), false)
        }
        _ => {
            let p = format!("3{}{}", r.pick(&['4', '7']), r.digits(12));
            (luhn_complete(&p), true)
        }
    };
    let sep = *r.pick(&["", " ", "-"]);
    if sep.is_empty() {
        return digits;
    }
    let groups: Vec<&str> = if amex {
        vec![&digits[..4], &digits[4..10], &digits[10..]]
    } else {
        vec![&digits[..4], &digits[4..8], &digits[8..12], &digits[12..]]
    };
    groups.join(sep)
}

/// (country, BBAN shape): `n` digit, `a` upper-case letter, `c` letter or digit.
const IBAN_FORMATS: &[(&str, &str)] = &[
    ("DE", "nnnnnnnnnnnnnnnnnn"),
    ("GB", "aaaannnnnnnnnnnnnn"),
    ("FR", "nnnnnnnnnncccccccccccnn"),
    ("ES", "nnnnnnnnnnnnnnnnnnnn"),
    ("IT", "annnnnnnnnncccccccccccc"),
    ("NL", "aaaannnnnnnnnn"),
    ("CH", "nnnnncccccccccccc"),
    ("PL", "nnnnnnnnnnnnnnnnnnnnnnnn"),
    ("BE", "nnnnnnnnnnnn"),
    ("AT", "nnnnnnnnnnnnnnnn"),
    ("SE", "nnnnnnnnnnnnnnnnnnnn"),
    ("NO", "nnnnnnnnnnn"),
];

const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("DE", 22),
    ("GB", 22),
    ("FR", 27),
    ("ES", 24),
    ("IT", 27),
    ("NL", 18),
    ("CH", 21),
    ("PL", 28),
    ("BE", 16),
    ("AT", 20),
    ("SE", 24),
    ("NO", 15),
];

pub fn iban(r: &mut Rng) -> String {
    let (cc, shape) = *r.pick(IBAN_FORMATS);
    let bban: String = shape
        .bytes()
        .map(|s| match s {
            b'n' => *r.pick(DIGITS) as char,
            b'a' => *r.pick(UPPER) as char,
            _ => *r.pick(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") as char,
        })
        .collect();
    let mut rem = 0u32;
    for ch in bban.chars().chain(cc.chars()).chain("00".chars()) {
        let v = ch.to_digit(36).expect("alphanumeric");
        rem = if v < 10 {
            (rem * 10 + v) % 97
        } else {
            (rem * 100 + v) % 97
        };
    }
    let compact = format!("{cc}{:02}{bban}", 98 - rem);
    debug_assert_eq!(
        compact.len(),
        IBAN_LENGTHS
            .iter()
            .find(|(c, _)| *c == cc)
            .expect("known")
            .1
    );
    if r.chance(50) {
        return compact;
    }
    let chars: Vec<char> = compact.chars().collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn payment_line(r: &mut Rng) -> Line {
    let p = prefix(r);
    let (kind, text, planted): (&'static str, String, Vec<Planted>) = match r.below(12) {
        0 => {
            let c = card(r);
            (
                "card kv",
                format!("{p}charge failed card={c} amount=42.00 currency=EUR code=card_declined"),
                vec![plant(Payment, c)],
            )
        }
        1 => {
            let c = card(r);
            (
                "card json",
                format!(
                    r#"{p}payment request {{"card_number":"{c}","exp_month":{},"exp_year":{},"cvc":"***"}}"#,
                    r.between(1, 12),
                    r.between(2025, 2031)
                ),
                vec![plant(Payment, c)],
            )
        }
        2 => {
            let c = card(r);
            (
                "card prose",
                format!("{p}Customer entered {c} at checkout; 3DS challenge timed out"),
                vec![plant(Payment, c)],
            )
        }
        3 => {
            let c = card(r);
            (
                "card yaml",
                format!("{p}fixture:\n  pan: {c}\n  holder: {}", username(r)),
                vec![plant(Payment, c)],
            )
        }
        4 => {
            let c = card(r).replace([' ', '-'], "");
            (
                "card query",
                format!("{p}POST /v1/tokens?card%5Bnumber%5D={c}&card%5Bexp_month%5D=12 400"),
                vec![plant(Payment, c)],
            )
        }
        5 => {
            let c = card(r);
            (
                "card exception",
                format!("{p}java.lang.IllegalArgumentException: invalid PAN '{c}' for BIN lookup"),
                vec![plant(Payment, c)],
            )
        }
        6 => {
            let i = iban(r);
            (
                "iban kv",
                format!("{p}sepa transfer iban={i} amount=1250.00 status=REJECTED"),
                vec![plant(Payment, i)],
            )
        }
        7 => {
            let i = iban(r);
            (
                "iban json",
                format!(
                    r#"{p}payout {{"beneficiary":"{}","iban":"{i}","bic":"DEUTDEFF"}}"#,
                    username(r)
                ),
                vec![plant(Payment, i)],
            )
        }
        8 => {
            let i = iban(r);
            (
                "iban prose",
                format!("{p}Refund to account {i} could not be processed"),
                vec![plant(Payment, i)],
            )
        }
        9 => {
            let i = iban(r);
            let c = card(r);
            (
                "iban and card",
                format!("{p}payment methods: card {c}, bank {i}"),
                vec![plant(Payment, c), plant(Payment, i)],
            )
        }
        10 => {
            let i = iban(r);
            (
                "iban yaml",
                format!(
                    "{p}payee:\n  name: ACME GmbH\n  iban: {i}\n  reference: INV-{}",
                    r.digits(6)
                ),
                vec![plant(Payment, i)],
            )
        }
        _ => {
            let c = card(r);
            (
                "card csv",
                format!(
                    "{p}import row 17: {},{c},{:02}/{}",
                    username(r),
                    r.between(1, 12),
                    r.between(25, 31)
                ),
                vec![plant(Payment, c)],
            )
        }
    };
    Line {
        kind,
        text,
        planted,
    }
}

// ---- government ids ------------------------------------------------------------------

pub fn ssn_digits(r: &mut Rng) -> (String, String, String) {
    let area = loop {
        let a = r.between(1, 899);
        if a != 666 {
            break a;
        }
    };
    (
        format!("{area:03}"),
        format!("{:02}", r.between(1, 99)),
        format!("{:04}", r.between(1, 9999)),
    )
}

pub fn ssn(r: &mut Rng) -> String {
    let (a, g, s) = ssn_digits(r);
    format!("{a}-{g}-{s}")
}

const CN_AREAS: &[&str] = &[
    "110101", "110105", "310104", "440305", "330106", "510107", "120101", "420102", "320102",
    "610113",
];

pub fn cn_resident_id(r: &mut Rng) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let body = format!(
        "{}{}{:02}{:02}{}",
        r.pick(CN_AREAS),
        r.between(1950, 2008),
        r.between(1, 12),
        r.between(1, 28),
        r.digits(3)
    );
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    format!("{body}{}", CHECK[(sum % 11) as usize] as char)
}

pub fn government_line(r: &mut Rng) -> Line {
    let p = prefix(r);
    let (kind, text, planted): (&'static str, String, Vec<Planted>) = match r.below(12) {
        0 => {
            let s = ssn(r);
            (
                "ssn prose",
                format!(
                    "{p}applicant {} SSN {s} failed identity verification",
                    username(r)
                ),
                vec![plant(GovernmentId, s)],
            )
        }
        1 => {
            let s = ssn(r);
            (
                "ssn json",
                format!(
                    r#"{p}kyc payload {{"name":"{}","ssn":"{s}","dob":"1984-03-12"}}"#,
                    username(r)
                ),
                vec![plant(GovernmentId, s)],
            )
        }
        2 => {
            let (a, g, s) = ssn_digits(r);
            let v = format!("{a}{g}{s}");
            let key = *r.pick(&[
                "ssn",
                "SSN",
                "social_security_number",
                "taxpayer_ssn",
                "ssn_number",
            ]);
            (
                "ssn compact kv",
                format!("{p}w9 submitted {key}={v} status=pending"),
                vec![plant(GovernmentId, v)],
            )
        }
        3 => {
            let (a, g, s) = ssn_digits(r);
            let v = format!("{a}{g}{s}");
            (
                "ssn compact json",
                format!(r#"{p}{{"applicant": {{"ssn": "{v}", "state": "CA"}}}}"#),
                vec![plant(GovernmentId, v)],
            )
        }
        4 => {
            let s = ssn(r);
            (
                "ssn yaml",
                format!("{p}employee:\n  name: {}\n  ssn: {s}", username(r)),
                vec![plant(GovernmentId, s)],
            )
        }
        5 => {
            let (a, g, s) = ssn_digits(r);
            let v = format!("{a} {g} {s}");
            (
                "ssn spaced",
                format!("{p}Social Security Number: {v} (unverified)"),
                vec![plant(GovernmentId, v)],
            )
        }
        6 => {
            let id = cn_resident_id(r);
            (
                "cn id chinese",
                format!("{p}实名认证失败 身份证号：{id}，姓名不匹配"),
                vec![plant(GovernmentId, id)],
            )
        }
        7 => {
            let id = cn_resident_id(r);
            (
                "cn id kv",
                format!("{p}realname verify id_card={id} result=MISMATCH"),
                vec![plant(GovernmentId, id)],
            )
        }
        8 => {
            let id = cn_resident_id(r);
            (
                "cn id json",
                format!(
                    r#"{p}{{"userId":{},"idNo":"{id}","name":"张三"}}"#,
                    r.digits(8)
                ),
                vec![plant(GovernmentId, id)],
            )
        }
        9 => {
            let id = cn_resident_id(r);
            (
                "cn id glued",
                format!("{p}证件号码{id}已存在"),
                vec![plant(GovernmentId, id)],
            )
        }
        10 => {
            let s = ssn(r);
            let id = cn_resident_id(r);
            (
                "two ids",
                format!("{p}dedupe: ssn={s} cn_id={id}"),
                vec![plant(GovernmentId, s), plant(GovernmentId, id)],
            )
        }
        _ => {
            let s = ssn(r);
            (
                "ssn query",
                format!("{p}GET /api/v1/lookup?ssn={s}&source=crm 200"),
                vec![plant(GovernmentId, s)],
            )
        }
    };
    Line {
        kind,
        text,
        planted,
    }
}

// ---- contact ------------------------------------------------------------------------

pub fn email(r: &mut Rng) -> String {
    let local = match r.below(5) {
        0 => username(r),
        1 => format!(
            "{}+{}",
            username(r),
            r.pick(&["news", "test", "billing", "1"])
        ),
        2 => format!("{}.{}{}", r.pick(FIRST), r.pick(LAST), r.between(1, 9)),
        3 => r
            .pick(&["support", "no-reply", "admin", "ops-team"])
            .to_string(),
        _ => format!("{}{}", &r.pick(FIRST)[..1], r.pick(LAST)),
    };
    format!("{local}@{}", r.pick(DOMAINS))
}

/// An E.164 number as people and systems write it: compact, spaced, dashed.
pub fn phone(r: &mut Rng) -> String {
    let compact = r.chance(40);
    let sep = if compact { "" } else { *r.pick(&[" ", "-"]) };
    match r.below(9) {
        0 => {
            let (a, b, c) = (r.between(201, 989), r.between(200, 999), r.digits(4));
            if compact {
                format!("+1{a}{b}{c}")
            } else if r.chance(50) {
                format!("+1 ({a}) {b}-{c}")
            } else {
                format!("+1{sep}{a}{sep}{b}{sep}{c}")
            }
        }
        1 => format!("+44{sep}7{}{sep}{}", r.digits(3), r.digits(6)),
        2 => format!("+49{sep}15{}{sep}{}", r.digits(1), r.digits(8)),
        3 => format!(
            "+33{sep}6{sep}{}{sep}{}{sep}{}{sep}{}",
            r.digits(2),
            r.digits(2),
            r.digits(2),
            r.digits(2)
        ),
        4 => format!("+81{sep}90{sep}{}{sep}{}", r.digits(4), r.digits(4)),
        5 => format!("+91{sep}9{}{sep}{}", r.digits(4), r.digits(5)),
        6 => format!(
            "+86{sep}1{}{}{sep}{}{sep}{}",
            r.between(3, 9),
            r.digits(1),
            r.digits(4),
            r.digits(4)
        ),
        7 => format!("+55{sep}11{sep}9{}{sep}{}", r.digits(4), r.digits(4)),
        _ => format!(
            "+61{sep}4{}{sep}{}{sep}{}",
            r.digits(2),
            r.digits(3),
            r.digits(3)
        ),
    }
}

pub fn cn_mobile(r: &mut Rng) -> String {
    let n = format!("1{}{}", r.between(3, 9), r.digits(9));
    match r.below(10) {
        0 => format!("{}-{}-{}", &n[..3], &n[3..7], &n[7..]),
        1 => format!("{} {} {}", &n[..3], &n[3..7], &n[7..]),
        _ => n,
    }
}

pub fn contact_line(r: &mut Rng) -> Line {
    let p = prefix(r);
    let (kind, text, planted): (&'static str, String, Vec<Planted>) = match r.below(16) {
        0 => {
            let e = email(r);
            (
                "email kv",
                format!("{p}password reset requested user={e} ip_hash={}", r.hex(12)),
                vec![plant(Contact, e)],
            )
        }
        1 => {
            let e = email(r);
            (
                "email json",
                format!(r#"{p}{{"event":"signup","email":"{e}","plan":"pro"}}"#),
                vec![plant(Contact, e)],
            )
        }
        2 => {
            let e = email(r);
            (
                "email header",
                format!("{p}smtp: 550 5.1.1 <{e}>: Recipient address rejected"),
                vec![plant(Contact, e)],
            )
        }
        3 => {
            let e = email(r);
            let enc = e.replace('@', "%40").replace('+', "%2B");
            (
                "email urlencoded",
                format!("{p}GET /api/v1/users?email={enc}&limit=1 404"),
                vec![plant(Contact, enc)],
            )
        }
        4 => {
            let e = email(r);
            (
                "email mailto",
                format!("{p}render template link=mailto:{e}?subject=Invoice"),
                vec![plant(Contact, e)],
            )
        }
        5 => {
            let e = email(r);
            (
                "email path",
                format!("{p}DELETE /api/v2/accounts/{e}/sessions 204"),
                vec![plant(Contact, e)],
            )
        }
        6 => {
            let ph = phone(r);
            (
                "phone kv",
                format!("{p}sms dispatch to={ph} provider=twilio status=queued"),
                vec![plant(Contact, ph)],
            )
        }
        7 => {
            let ph = phone(r);
            (
                "phone json",
                format!(r#"{p}{{"customer":{{"phone":"{ph}","country":"XX"}}}}"#),
                vec![plant(Contact, ph)],
            )
        }
        8 => {
            let ph = phone(r);
            (
                "phone prose",
                format!("{p}Call from {ph} dropped after 12s"),
                vec![plant(Contact, ph)],
            )
        }
        9 => {
            let ph = phone(r).replace([' ', '-', '(', ')'], "");
            (
                "phone tel",
                format!("{p}click-to-call href=tel:{ph}"),
                vec![plant(Contact, ph)],
            )
        }
        10 => {
            let m = cn_mobile(r);
            (
                "cn mobile chinese",
                format!("{p}验证码已发送至手机号：{m}，有效期5分钟"),
                vec![plant(Contact, m)],
            )
        }
        11 => {
            let m = cn_mobile(r);
            (
                "cn mobile kv",
                format!("{p}user register mobile={m} channel=app"),
                vec![plant(Contact, m)],
            )
        }
        12 => {
            let m = cn_mobile(r);
            (
                "cn mobile json",
                format!(r#"{p}{{"phone":"{m}","nickname":"小王"}}"#),
                vec![plant(Contact, m)],
            )
        }
        13 => {
            let e = email(r);
            let ph = phone(r);
            (
                "email and phone",
                format!("{p}contact updated: {e} / {ph}"),
                vec![plant(Contact, e), plant(Contact, ph)],
            )
        }
        14 => {
            let e = email(r);
            (
                "email yaml",
                format!("{p}owner:\n  name: {}\n  email: {e}", username(r)),
                vec![plant(Contact, e)],
            )
        }
        _ => {
            let e = email(r);
            (
                "email from",
                format!("{p}From: \"{} {}\" <{e}>", r.pick(FIRST), r.pick(LAST)),
                vec![plant(Contact, e)],
            )
        }
    };
    Line {
        kind,
        text,
        planted,
    }
}

// ---- network ------------------------------------------------------------------------

pub fn ipv4(r: &mut Rng) -> String {
    match r.below(5) {
        0 => format!("10.{}.{}.{}", r.below(256), r.below(256), r.between(1, 254)),
        1 => format!(
            "172.{}.{}.{}",
            r.between(16, 31),
            r.below(256),
            r.between(1, 254)
        ),
        2 => format!("192.168.{}.{}", r.below(256), r.between(1, 254)),
        _ => loop {
            let a = r.between(1, 223);
            if a != 127 && a != 10 {
                break format!(
                    "{a}.{}.{}.{}",
                    r.below(256),
                    r.below(256),
                    r.between(1, 254)
                );
            }
        },
    }
}

pub fn ipv6(r: &mut Rng) -> String {
    let seg = |r: &mut Rng| r.below(0x10000) as u16;
    let addr = match r.below(4) {
        0 => std::net::Ipv6Addr::new(
            0x2001,
            0x0db8 + 1 + r.below(100) as u16,
            seg(r),
            seg(r),
            0,
            0,
            0,
            seg(r),
        ),
        1 => std::net::Ipv6Addr::new(0xfe80, 0, 0, 0, seg(r), seg(r), seg(r), seg(r)),
        2 => std::net::Ipv6Addr::new(
            0x2a00 + r.below(0x200) as u16,
            seg(r),
            seg(r),
            seg(r),
            seg(r),
            seg(r),
            seg(r),
            seg(r),
        ),
        _ => std::net::Ipv6Addr::new(
            0x2600 + r.below(0x100) as u16,
            seg(r),
            seg(r),
            0,
            0,
            0,
            0,
            seg(r),
        ),
    };
    let s = addr.to_string();
    if r.chance(20) {
        s.to_uppercase()
    } else {
        s
    }
}

pub fn mac(r: &mut Rng) -> String {
    let b = loop {
        let b = r.bytes(6);
        if b.iter().any(|&x| x != 0) && b.iter().any(|&x| x != 0xff) {
            break b;
        }
    };
    match r.below(4) {
        0 => b
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
        1 => b
            .iter()
            .map(|x| format!("{x:02X}"))
            .collect::<Vec<_>>()
            .join(":"),
        2 => b
            .iter()
            .map(|x| format!("{x:02X}"))
            .collect::<Vec<_>>()
            .join("-"),
        _ => format!(
            "{:02x}{:02x}.{:02x}{:02x}.{:02x}{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        ),
    }
}

pub fn network_line(r: &mut Rng) -> Line {
    let p = prefix(r);
    let (kind, text, planted): (&'static str, String, Vec<Planted>) = match r.below(24) {
        0 => {
            let ip = ipv4(r);
            ("access log", format!("{ip} - - {} \"GET {} HTTP/1.1\" 200 {} \"-\" \"Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0.6099.109\"", timestamp(r), r.pick(PATHS), r.between(100, 99999)), vec![plant(Network, ip)])
        }
        1 => {
            let ip = ipv4(r);
            (
                "client ip kv",
                format!("{p}rate limited client_ip={ip} path={}", r.pick(PATHS)),
                vec![plant(Network, ip)],
            )
        }
        2 => {
            let (a, b) = (ipv4(r), ipv4(r));
            (
                "xff",
                format!("{p}X-Forwarded-For: {a}, {b}"),
                vec![plant(Network, a), plant(Network, b)],
            )
        }
        3 => {
            let ip = ipv4(r);
            (
                "upstream server",
                format!(
                    "{p}upstream server {ip}:{} marked down after 3 failures",
                    r.between(1024, 65535)
                ),
                vec![plant(Network, ip)],
            )
        }
        4 => {
            let ip = ipv4(r);
            (
                "connect",
                format!("{p}dial tcp {ip}:5432: connect: connection refused"),
                vec![plant(Network, ip)],
            )
        }
        5 => {
            let ip = ipv4(r);
            (
                "url ip",
                format!("{p}POST http://{ip}:9200/_bulk returned 429"),
                vec![plant(Network, ip)],
            )
        }
        6 => {
            let ip = ipv4(r);
            (
                "json ip",
                format!(r#"{p}{{"remote_addr":"{ip}","method":"GET","status":401}}"#),
                vec![plant(Network, ip)],
            )
        }
        7 => {
            let ip = ipv4(r);
            let word = *r.pick(&[
                "resolver",
                "driver connected to",
                "failover to",
                "every request from",
                "server",
                "srv=",
                "dev=",
                "observer",
            ]);
            (
                "ip after words",
                format!("{p}{word} {ip} ok"),
                vec![plant(Network, ip)],
            )
        }
        8 => {
            let ip = ipv6(r);
            (
                "ipv6 plain",
                format!(
                    "{p}accepted connection from {ip} port {}",
                    r.between(1024, 65535)
                ),
                vec![plant(Network, ip)],
            )
        }
        9 => {
            let ip = ipv6(r);
            (
                "ipv6 bracket",
                format!("{p}GET http://[{ip}]:8080/metrics 200"),
                vec![plant(Network, ip)],
            )
        }
        10 => {
            let ip = ipv6(r);
            (
                "ipv6 json",
                format!(r#"{p}{{"client":"{ip}","proto":"h2"}}"#),
                vec![plant(Network, ip)],
            )
        }
        11 => {
            let ip = ipv6(r);
            (
                "ipv6 zone",
                format!("{p}neighbor {ip}%eth0 lladdr reachable"),
                vec![plant(Network, ip)],
            )
        }
        12 => {
            let m = mac(r);
            (
                "mac kv",
                format!("{p}device registered mac={m} vendor=unknown"),
                vec![plant(Network, m)],
            )
        }
        13 => {
            let m = mac(r);
            let ip = ipv4(r);
            (
                "dhcp",
                format!("{p}DHCPACK on {ip} to {m} via eth0"),
                vec![plant(Network, ip), plant(Network, m)],
            )
        }
        14 => {
            let m = mac(r);
            (
                "mac json",
                format!(r#"{p}{{"hw_addr":"{m}","link":"up"}}"#),
                vec![plant(Network, m)],
            )
        }
        15 => {
            let ip = ipv4(r);
            (
                "ssh",
                format!(
                    "{p}sshd[{}]: Failed password for invalid user admin from {ip} port {} ssh2",
                    r.between(100, 99999),
                    r.between(1024, 65535)
                ),
                vec![plant(Network, ip)],
            )
        }
        16 => {
            let ip = ipv4(r);
            (
                "ip yaml",
                format!("{p}peers:\n  - host: {ip}\n    port: 7946"),
                vec![plant(Network, ip)],
            )
        }
        17 => {
            let ip = ipv4(r);
            (
                "ip cidr",
                format!("{p}allow-list entry {ip}/32 added"),
                vec![plant(Network, ip)],
            )
        }
        18 => {
            let ip = ipv6(r);
            let ip4 = ipv4(r);
            (
                "dual stack",
                format!("{p}listening addresses: {ip4} and {ip}"),
                vec![plant(Network, ip4), plant(Network, ip)],
            )
        }
        20 => {
            let ip = ipv4(r);
            (
                "ip in path",
                format!("{p}DELETE /api/v1/blocklist/{ip} 204 by admin"),
                vec![plant(Network, ip)],
            )
        }
        21 => {
            let ip = ipv4(r);
            (
                "mapped v6",
                format!("{p}client addr ::ffff:{ip} rejected"),
                vec![plant(Network, ip)],
            )
        }
        22 => {
            let ip = ipv4(r);
            let m = mac(r);
            (
                "arp",
                format!("{p}arp -an: ? ({ip}) at {m} [ether] on eth0"),
                vec![plant(Network, ip), plant(Network, m)],
            )
        }
        23 => {
            let ip = ipv4(r);
            (
                "ip log field",
                format!("{p}level=warn msg=\"login throttled\" ip={ip} attempts=5"),
                vec![plant(Network, ip)],
            )
        }
        _ => {
            let ip = ipv4(r);
            (
                "ip user",
                format!("{p}ssh deploy@{ip} -p 22 exited 255"),
                vec![plant(Network, ip)],
            )
        }
    };
    Line {
        kind,
        text,
        planted,
    }
}

pub fn positive_line(r: &mut Rng, category: Category) -> Line {
    match category {
        Credential => credential_line(r),
        Payment => payment_line(r),
        GovernmentId => government_line(r),
        Contact => contact_line(r),
        Network => network_line(r),
        Person => person_line(r),
    }
}

// ---- person names and street addresses ------------------------------------------------

const GIVEN: &[&str] = &[
    "James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "David", "Linda", "Sarah",
    "Thomas", "Karen", "Daniel", "Nancy", "Anna", "Peter", "Laura", "Maria", "Jose", "Emma",
    "Oliver",
];
const FAMILY: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Thompson",
    "White",
    "Harris",
    "Clark",
];

fn full_name(r: &mut Rng) -> String {
    format!("{} {}", r.pick(GIVEN), r.pick(FAMILY))
}

pub fn street_address(r: &mut Rng) -> String {
    let n = r.between(1, 9999);
    match r.below(6) {
        0 => format!(
            "{n} {} {}",
            r.pick(&["Main", "Oak", "Maple", "Cedar", "Elm", "Washington", "Lake"]),
            r.pick(&[
                "Street",
                "St",
                "Avenue",
                "Ave",
                "Road",
                "Rd",
                "Boulevard",
                "Lane",
                "Drive"
            ])
        ),
        1 => format!(
            "{n} {} {} Apt {}",
            r.pick(&["Pine", "Hill", "Park", "Sunset", "River"]),
            r.pick(&["St.", "Ave.", "Dr.", "Blvd.", "Ct."]),
            r.between(1, 999)
        ),
        2 => format!(
            "{} {}",
            r.pick(&[
                "Hauptstraße",
                "Bahnhofstr.",
                "Gartenweg",
                "Schillerstraße",
                "Lindenallee"
            ]),
            r.between(1, 199)
        ),
        3 => format!(
            "{}, {} {}",
            r.between(1, 199),
            r.pick(&["rue", "avenue", "boulevard", "place"]),
            r.pick(&["de la Paix", "Victor Hugo", "des Lilas", "du Moulin"])
        ),
        4 => format!(
            "{}{}路{}号",
            r.pick(&["北京市朝阳区", "上海市浦东新区", "广州市天河区"]),
            r.pick(&["建国", "中山", "人民", "解放"]),
            r.between(1, 999)
        ),
        _ => format!(
            "{} {} {}",
            r.between(1, 300),
            r.pick(&["High", "Church", "Station", "Victoria", "Green"]),
            r.pick(&["Street", "Road", "Lane", "Close", "Crescent"])
        ),
    }
}

pub fn person_line(r: &mut Rng) -> Line {
    let p = prefix(r);
    let (kind, text, planted): (&'static str, String, Vec<Planted>) = match r.below(8) {
        0 => {
            let n = full_name(r);
            (
                "greeting",
                format!("{p}chat: Hi {n}, your order has shipped."),
                vec![plant(Person, n)],
            )
        }
        1 => {
            let n = full_name(r);
            let t = *r.pick(&["Mr.", "Mrs.", "Ms.", "Dr."]);
            (
                "title",
                format!("{p}ticket opened by {t} {n} about billing"),
                vec![plant(Person, n)],
            )
        }
        2 => {
            let n = full_name(r);
            let key = *r.pick(&["customer_name", "full_name", "name", "customer"]);
            (
                "name field",
                format!(r#"{p}{{"{key}":"{n}","tier":"gold"}}"#),
                vec![plant(Person, n)],
            )
        }
        3 => {
            let n = full_name(r);
            let e = email(r);
            (
                "from header",
                format!("{p}From: {n} <{e}>"),
                vec![plant(Person, n), plant(Contact, e)],
            )
        }
        4 => {
            let a = street_address(r);
            (
                "address kv",
                format!("{p}shipping address: {a}"),
                vec![plant(Person, a)],
            )
        }
        5 => {
            let a = street_address(r);
            (
                "address prose",
                format!("{p}prompt: please deliver to {a} tomorrow"),
                vec![plant(Person, a)],
            )
        }
        6 => {
            let n = full_name(r);
            (
                "my name is",
                format!("{p}llm input: My name is {n} and I need help"),
                vec![plant(Person, n)],
            )
        }
        _ => {
            let a = street_address(r);
            (
                "address json",
                format!(
                    r#"{p}{{"address":"{a}","country":"{}"}}"#,
                    r.pick(&["US", "DE", "FR", "CN", "GB"])
                ),
                vec![plant(Person, a)],
            )
        }
    };
    Line {
        kind,
        text,
        planted,
    }
}

// ---- hard negatives -----------------------------------------------------------------

/// A 16-digit number with a card's first digit that fails the Luhn check.
fn not_luhn_16(r: &mut Rng) -> String {
    loop {
        let n = format!("{}{}", r.pick(&["4", "5", "3", "6"]), r.digits(15));
        if !luhn_ok(&n) {
            return n;
        }
    }
}

/// A Luhn-valid 15-digit IMEI (type allocation codes start with 35 or 86).
fn luhn_15(r: &mut Rng) -> String {
    let p = format!("{}{}", r.pick(&["35", "86"]), r.digits(12));
    luhn_complete(&p)
}

fn version(r: &mut Rng, parts: usize) -> String {
    (0..parts)
        .map(|i| {
            if i == 0 {
                r.between(0, 20)
            } else {
                r.between(0, 250)
            }
            .to_string()
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn words(r: &mut Rng) -> String {
    const W: &[&str] = &[
        "the",
        "cache",
        "miss",
        "for",
        "request",
        "retry",
        "scheduled",
        "queue",
        "depth",
        "reached",
        "shard",
        "rebalanced",
        "compaction",
        "finished",
        "worker",
        "started",
        "plugin",
        "loaded",
        "config",
        "reloaded",
    ];
    let n = r.between(3, 8);
    (0..n).map(|_| *r.pick(W)).collect::<Vec<_>>().join(" ")
}

pub fn negative_line(r: &mut Rng) -> Line {
    let p = prefix(r);
    let text = match r.below(60) {
        0 => format!("{p}request {} completed in {}ms", uuid(r), r.between(1, 5000)),
        1 => format!("{p}deployed commit {} to production", r.hex(40)),
        2 => format!("{p}merge {} into {} (fast-forward)", r.hex(40), r.hex(7)),
        3 => format!("{p}trace_id={} span_id={} parent_id={} sampled=1", r.hex(32), r.hex(16), r.hex(16)),
        4 => format!("{p}traceparent: 00-{}-{}-01", r.hex(32), r.hex(16)),
        5 => format!("{p}request_id=req_{} idempotency_key={} status=200", ulid(r), uuid(r)),
        6 => format!("{p}job {} scheduled at {} next run {}", ulid(r), timestamp(r), timestamp(r)),
        7 => format!("{p}event_time={} ingest_time_ms={} lag_ms={}", r.between(1_600_000_000_000, 1_800_000_000_000), r.between(1_600_000_000_000, 1_800_000_000_000), r.between(0, 90000)),
        8 => format!("{p}epoch={} nanos={}", r.between(1_600_000_000, 1_800_000_000), r.between(1_600_000_000_000_000_000, 1_800_000_000_000_000_000)),
        9 => format!("{p}starting app version {}", version(r, 3)),
        10 => format!("{p}client version {} (build {})", version(r, 4), version(r, 4)),
        11 => format!(r#"{p}{{"app":"{}","version":"{}","sdkVersion":"{}"}}"#, r.pick(SERVICES), version(r, 4), version(r, 4)),
        12 => format!("{p}User-Agent: MyApp/{} (iPhone; iOS {}) CFNetwork/{} Darwin/{}", version(r, 4), version(r, 2), version(r, 3), version(r, 3)),
        13 => format!("{p}upgrading plugin from v{} to v{}", version(r, 4), version(r, 4)),
        14 => format!("{p}X-App-Version: {} X-Build: {}", version(r, 4), r.between(1000, 99999)),
        15 => format!("{p}order_id={} settled amount={}.{:02}", not_luhn_16(r), r.between(1, 9999), r.below(100)),
        16 => format!("{p}shipment {} for order #{} dispatched", not_luhn_16(r), r.between(100000, 99999999)),
        17 => format!("{p}invoice INV-{}-{:04} order ORD-{}-{:06} created", r.between(2023, 2026), r.below(10000), r.between(2023, 2026), r.below(1_000_000)),
        18 => format!("{p}took {}ms (db {}ms, render {}.{}s) timeout={}s retry_after=PT{}M", r.between(1, 9999), r.between(1, 999), r.below(10), r.below(1000), r.between(1, 120), r.between(1, 59)),
        19 => format!("{p}md5={} sha256={}", r.hex(32), r.hex(64)),
        20 => format!("{p}etag: \"{}\" content-length: {}", r.hex(40), r.between(0, 10_000_000)),
        21 => {
            let w = words(r);
            format!("{p}payload(base64)={} size={}", base64(w.as_bytes(), B64, true), w.len())
        }
        22 => {
            let w = words(r);
            format!(r#"{p}{{"message":"{}","encoding":"base64"}}"#, base64(w.as_bytes(), B64, true))
        }
        23 => format!("{p}open /var/lib/{}/data/{}/segment-{:08}.log: no such file or directory", r.pick(SERVICES), r.hex(8), r.below(1_000_000)),
        24 => format!("{p}loading C:\\Program Files\\Acme\\plugins\\{}\\plugin.dll", r.pick(SERVICES)),
        25 => format!(
            "{p}java.lang.NullPointerException: Cannot invoke \"String.length()\"\n\tat com.acme.{}.Handler.handle(Handler.java:{})\n\tat com.acme.core.Dispatcher.dispatch(Dispatcher.java:{})\n\tat java.base/java.lang.Thread.run(Thread.java:{})",
            r.pick(&["billing", "search", "auth"]), r.between(10, 999), r.between(10, 999), r.between(700, 1600)
        ),
        26 => format!(
            "{p}Traceback (most recent call last):\n  File \"/app/{}/views.py\", line {}, in handler\n    return fn(*args)\nKeyError: 'user_id'",
            r.pick(&["billing", "search", "auth"]), r.between(10, 999)
        ),
        27 => format!("{p}thread 'tokio-runtime-worker' panicked at src/{}.rs:{}:{}:\ncalled `Option::unwrap()` on a `None` value", r.pick(&["lib", "main", "pipeline/collect"]), r.between(1, 900), r.between(1, 80)),
        28 => format!("{p}goroutine {} [running]:\nmain.(*Server).handle(0xc000{})\n\t/app/server.go:{} +0x{}", r.between(1, 999), r.hex(6), r.between(10, 900), r.hex(3)),
        29 => format!("{p}listening on 0.0.0.0:{} and [::]:{}", r.between(1024, 65535), r.between(1024, 65535)),
        30 => format!("{p}health check http://127.0.0.1:{}/healthz ok, localhost:{} ok", r.between(1024, 65535), r.between(1024, 65535)),
        31 => format!("{p}db pool: host={} port={} max_conns={} idle={}", r.pick(HOSTS), r.pick(&[5432, 3306, 6379, 27017]), r.between(1, 100), r.between(0, 100)),
        32 => format!("{p}{}", words(r)),
        33 => format!("{p}GET {}?page={}&per_page={}&sort=created_at HTTP/1.1 200 {}", r.pick(PATHS), r.between(1, 99), r.pick(&[20, 50, 100]), r.between(10, 99999)),
        34 => format!("{p}password reset email queued for user_id={} (template=reset_v{})", r.between(1, 9_999_999), r.between(1, 9)),
        35 => format!("{p}token expired for session of user_id={}, refreshing", r.between(1, 9_999_999)),
        36 => format!("{p}authorization failed: missing scope {}:write", r.pick(&["orders", "users", "billing"])),
        37 => format!("{p}max_tokens={} temperature=0.{} token_count={} prompt_tokens={}", r.between(16, 4096), r.below(10), r.between(1, 9999), r.between(1, 9999)),
        38 => format!("{p}cpu={}.{:02} mem={}MiB gc_pause={}us goroutines={}", r.below(8), r.below(100), r.between(64, 8192), r.between(10, 99999), r.between(1, 5000)),
        39 => format!("{p}SELECT id, name FROM users WHERE id = {} AND tenant_id = {} LIMIT {}", r.between(1, 9_999_999), r.between(1, 999), r.between(1, 100)),
        40 => format!("{p}image registry.example.com/{}:{} pulled, digest sha256:{}", r.pick(SERVICES), version(r, 3), r.hex(64)),
        41 => format!("{p}pod {}-{}-{} restarted {} times, node ip-{}", r.pick(SERVICES), r.hex(10), r.string(b"bcdfghjklmnpqrstvwxz2456789", 5), r.between(1, 30), r.pick(&["a", "b", "c"])),
        42 => format!("{p}kafka partition={} offset={} key={} lag={}", r.between(0, 63), r.between(0, 9_999_999_999), uuid(r), r.between(0, 99999)),
        43 => format!("{p}oid 1.3.6.1.4.1.{}.{}.{} value={}", r.between(1, 60000), r.between(1, 9), r.between(1, 9), r.between(0, 9999)),
        44 => format!("{p}batch {}/{} processed ({} records, {} bytes), phone_verified=false", r.between(1, 99), r.between(100, 999), r.between(1, 99999), r.between(1, 99_999_999)),
        45 => format!("{p}feature flags: debug-observability-v2=on debug-ticket-bridge=off rollout={}%", r.below(101)),
        46 => format!("{p}span {} duration_ns={} start={}", r.hex(16), r.between(1000, 9_999_999_999), r.between(1_600_000_000_000_000_000, 1_800_000_000_000_000_000)),
        48 => format!("{p}host key fingerprint {} accepted", (0..16).map(|_| r.hex(2)).collect::<Vec<_>>().join(":")),
        49 => format!("{p}assumed role arn:aws:iam::{}:role/{}-deployer role_session_name=ci-{}", r.digits(12), r.pick(SERVICES), r.between(1, 99999)),
        50 => format!("{p}exec: docker login --username ci --password-stdin registry.example.com && helm upgrade --install {} ./chart --token-file /var/run/secrets/token", r.pick(SERVICES)),
        51 => format!("{p}error[E0599]: no method named `unwrap_or_none` found for enum `std::option::Option<T>` in std::collections::HashMap::<K, V>::get"),
        52 => format!("{p}instance i-{} in subnet-{} (vpc-{}) is {}", r.hex(17), r.hex(17), r.hex(17), r.pick(&["running", "stopping", "pending"])),
        53 => format!("{p}uptime {:02}:{:02}:{:02}, load average: 0.{}, 0.{}, 0.{}", r.below(24), r.below(60), r.below(60), r.below(100), r.below(100), r.below(100)),
        54 => format!(r#"{p}{{"password_set":true,"mfa_enabled":false,"login_count":{},"last_login":"{}"}}"#, r.between(0, 999), timestamp(r)),
        55 => format!("{p}<response><status>OK</status><tokenCount>{}</tokenCount><elapsed>{}</elapsed></response>", r.between(1, 9999), r.between(1, 999)),
        56 => format!("{p}GET /api/v1/items/{}/versions/{} 200 {}ms", r.between(1, 9_999_999), version(r, 3), r.between(1, 999)),
        57 => format!("{p}resolved com.acme:{}-client:{} from https://repo.maven.apache.org/maven2", r.pick(SERVICES), version(r, 3)),
        58 => format!("{p}imei={} model={} os={}", luhn_15(r), r.pick(&["Pixel 8", "iPhone15,2", "SM-S918B"]), version(r, 3)),
        _ => format!("{p}cache key user:{}:profile:v{} ttl={}s hit_ratio=0.{}", r.between(1, 9_999_999), r.between(1, 9), r.between(1, 86400), r.below(1000)),
    };
    Line {
        kind: "negative",
        text,
        planted: Vec::new(),
    }
}

/// A realistic mix for throughput: mostly ordinary lines, about one in a hundred with
/// a planted value of some category.
pub fn mixed_lines(seed: u64, n: usize) -> Vec<String> {
    let mut r = Rng::new(seed);
    (0..n)
        .map(|_| {
            if r.chance(1) {
                let c = *r.pick(&Category::ALL);
                positive_line(&mut r, c).text
            } else {
                negative_line(&mut r).text
            }
        })
        .collect()
}
