//! Person names and street addresses in free text: chat transcripts, LLM prompts and
//! outputs, support tickets and the log fields that carry them.
//!
//! Names are found in context: after a title (`Mr.`, `Dr.`, `Frau`, `Mme`) or a
//! greeting (`Hi`, `Dear`, `Thanks`), after `my name is` and its like, as the value of a
//! `name`/`customer`/`user`/`holder` field, before an e-mail address in a `From:`/`To:`
//! header or in `Name <mail>`; and, without any of these, as a given name followed by
//! a surname when both are on the public-domain name lists (the 1990 US Census given
//! names and 20,000 most frequent surnames, `data/names`), and neither is a common
//! English word. The weaker the context, the more the lists must confirm.
//!
//! Street addresses are found by their parts: a house number, a street name and a
//! street type from USPS Publication 28 and its UK, German, French, Spanish,
//! Portuguese and Italian counterparts (`data/addresses`), a unit (`Apt 4B`, `Suite
//! 690`, `Flat 5`), and what follows on the line (city, state, postcode); the German
//! style puts the number after the street (`Hauptstraße 5`), the French a comma after
//! the number (`23, rue Victoire Perrier`), and Chinese and Japanese addresses run from
//! province or prefecture to house number (`北京市朝阳区建国路88号`, `…28丁目20番1号`).

use super::prefilter::{Shape, Trigger};

use super::{Candidate, Category::Person, Examples, Rule};
use super::wordset::{WordBuild, WordSet};
use std::collections::HashSet;
use std::sync::OnceLock;

/// A list file's words, hashed by `WordHasher` (a look-up per candidate word: the
/// standard hasher's SipHash cost more than the rest of the test).
type Words = HashSet<&'static str, WordBuild>;

fn list(text: &'static str) -> Words {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

fn given_names() -> &'static Words {
    static SET: OnceLock<Words> = OnceLock::new();
    SET.get_or_init(|| list(include_str!("../../data/names/given.txt")))
}

fn surnames() -> &'static Words {
    static SET: OnceLock<Words> = OnceLock::new();
    SET.get_or_init(|| list(include_str!("../../data/names/surnames.txt")))
}

/// Folded as the words they are compared with are (`praça` is looked up as `praca`).
fn street_types() -> &'static HashSet<String, WordBuild> {
    static SET: OnceLock<HashSet<String, WordBuild>> = OnceLock::new();
    SET.get_or_init(|| {
        list(include_str!("../../data/addresses/street_types.txt"))
            .into_iter()
            .map(fold)
            .collect()
    })
}

#[cfg(test)]
fn unit_types() -> &'static Words {
    static SET: OnceLock<Words> = OnceLock::new();
    SET.get_or_init(|| list(include_str!("../../data/addresses/unit_types.txt")))
}

/// Given names that are also common English words (or words of log text): a name
/// only in a strong context, never on the lists' word alone.
const COMMON_WORD_NAMES: &[&str] = &[
    "will",
    "may",
    "june",
    "april",
    "august",
    "mark",
    "grant",
    "chase",
    "page",
    "bill",
    "rich",
    "art",
    "don",
    "ray",
    "long",
    "young",
    "sky",
    "star",
    "joy",
    "hope",
    "faith",
    "dawn",
    "summer",
    "autumn",
    "winter",
    "rose",
    "lily",
    "ivy",
    "holly",
    "iris",
    "violet",
    "hazel",
    "pearl",
    "ruby",
    "crystal",
    "amber",
    "jade",
    "rocky",
    "hunter",
    "angel",
    "king",
    "major",
    "price",
    "miles",
    "lane",
    "dale",
    "glen",
    "wade",
    "drew",
    "cliff",
    "gene",
    "val",
    "van",
    "del",
    "sal",
    "pat",
    "max",
    "guy",
    "jack",
    "frank",
    "earl",
    "duke",
    "prince",
    "sterling",
    "forest",
    "river",
    "storm",
    "rain",
    "snow",
    "misty",
    "sunny",
    "honey",
    "candy",
    "ginger",
    "sugar",
    "brandy",
    "sherry",
    "diamond",
    "precious",
    "destiny",
    "harmony",
    "melody",
    "essence",
    "trinity",
    "unique",
    "miracle",
    "justice",
    "liberty",
    "christian",
    "tuesday",
    "an",
    "in",
    "so",
    "a",
    "in",
    "le",
    "la",
    "de",
    "jan",
    "sue",
    "lou",
    "ed",
    "al",
    "mac",
    "cash",
    "penny",
    "buck",
    "rod",
    "sandy",
    "rusty",
    "woody",
    "dusty",
    "clay",
    "stone",
    "west",
    "north",
    "south",
    "east",
    "else",
    "home",
    "main",
    "new",
    "rich",
    "noble",
    "royal",
    "carter",
    "mason",
    "cooper",
    "baker",
    "fisher",
    "taylor",
    "parker",
    "porter",
    "walker",
    "hall",
    "love",
    "bay",
    "boy",
    "man",
    "major",
    "minor",
    "pierce",
    "reed",
    "reid",
    "rich",
    "ali",
    "ima",
    "ned",
    "tom",
    "bob",
    "jean",
    "lee",
    "june",
    "kay",
    "le",
    "don",
    "ben",
    "sol",
    "tim",
    "sam",
    "pete",
    "hal",
    "chance",
    "lucky",
    "cherry",
    "apple",
    "berry",
    "bunny",
    "carol",
    "carmen",
    "season",
    "pepper",
    "chuck",
    "freeman",
    "worth",
    "zeal",
    "sage",
    "echo",
    "rex",
    "rich",
    "sonny",
    "spring",
    "tanner",
    "case",
    "wiley",
    "shelby",
    "tracy",
    "dewey",
    "rob",
    "mack",
    "nick",
    "jewel",
    "coral",
    "hunter",
    "avery",
    "bishop",
    "dean",
    "judge",
    "marshal",
    "marshall",
    "sheriff",
    "warden",
    "general",
    "colonel",
    "captain",
    "admiral",
];
static COMMON_WORD_NAMES_SET: WordSet = WordSet::new(COMMON_WORD_NAMES);

/// Capitalised words a context may put where a name goes that are no name.
const NOT_NAMES: &[&str] = &[
    // Nationalities (`I am German`) and states (`I am happy`).
    "german",
    "french",
    "english",
    "american",
    "british",
    "indian",
    "chinese",
    "japanese",
    "brazilian",
    "spanish",
    "italian",
    "russian",
    "canadian",
    "australian",
    "mexican",
    "dutch",
    "swiss",
    "irish",
    "polish",
    "turkish",
    "korean",
    "greek",
    "swedish",
    "norwegian",
    "danish",
    "finnish",
    "portuguese",
    "austrian",
    "belgian",
    "egyptian",
    "nigerian",
    "kenyan",
    "african",
    "european",
    "asian",
    "latin",
    "arab",
    "israeli",
    "iranian",
    "iraqi",
    "pakistani",
    "bangladeshi",
    "vietnamese",
    "thai",
    "filipino",
    "indonesian",
    "malaysian",
    "singaporean",
    "argentinian",
    "chilean",
    "colombian",
    "peruvian",
    "venezuelan",
    "cuban",
    "ukrainian",
    "czech",
    "hungarian",
    "romanian",
    "bulgarian",
    "serbian",
    "croatian",
    "scottish",
    "welsh",
    "happy",
    "sorry",
    "fine",
    "done",
    "ready",
    "back",
    "afraid",
    "glad",
    "team",
    "all",
    "there",
    "everyone",
    "everybody",
    "world",
    "customer",
    "customers",
    "support",
    "service",
    "sir",
    "madam",
    "user",
    "users",
    "admin",
    "administrator",
    "manager",
    "bank",
    "card",
    "account",
    "please",
    "thanks",
    "thank",
    "hello",
    "hi",
    "dear",
    "again",
    "guys",
    "folks",
    "friends",
    "colleagues",
    "team",
    "sales",
    "billing",
    "help",
    "desk",
    "helpdesk",
    "the",
    "this",
    "that",
    "your",
    "my",
    "our",
    "their",
    "his",
    "her",
    "a",
    "an",
    "and",
    "or",
    "for",
    "to",
    "from",
    "of",
    "in",
    "on",
    "at",
    "by",
    "with",
    "you",
    "we",
    "they",
    "it",
    "is",
    "am",
    "are",
    "was",
    "not",
    "no",
    "yes",
    "ok",
    "okay",
    "sure",
    "good",
    "great",
    "morning",
    "afternoon",
    "evening",
    "night",
    "day",
    "week",
    "month",
    "year",
    "today",
    "tomorrow",
    "yesterday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "null",
    "none",
    "unknown",
    "anonymous",
    "guest",
    "test",
    "demo",
    "example",
    "system",
    "root",
    "default",
    "bot",
    "assistant",
    "agent",
    "operator",
    "owner",
    "member",
    "members",
    "client",
    "clients",
    "patient",
    "employee",
    "applicant",
    "beneficiary",
    "recipient",
    "sender",
    "holder",
    "name",
    "names",
    "first",
    "last",
    "full",
    "new",
    "old",
    "other",
    "another",
    "some",
    "any",
    "every",
    "each",
    "both",
    "here",
    "now",
    "then",
    "just",
    "also",
    "only",
    "still",
    "very",
    "so",
    "too",
    "not",
    "error",
    "warning",
    "info",
    "debug",
    "failed",
    "success",
    "request",
    "response",
    "order",
    "payment",
    "invoice",
    "ticket",
    "issue",
    "update",
    "status",
    "true",
    "false",
    "mr",
    "mrs",
    "ms",
    "miss",
    "dr",
    "prof",
    "herr",
    "frau",
    "mme",
    "mlle",
    "monsieur",
    "madame",
    "mister",
    "doctor",
    "professor",
    "company",
    "inc",
    "ltd",
    "llc",
    "gmbh",
    "corp",
    "group",
    "department",
    "office",
    "street",
    "road",
    "avenue",
    "city",
    "state",
    "country",
    "please",
    "kindly",
    "regards",
    "best",
    "cheers",
    "sincerely",
    "hey",
    "welcome",
    "hallo",
    "bonjour",
    "hola",
    "ciao",
    "olá",
    "liebe",
    "lieber",
    "cher",
    "chère",
    "i",
    "me",
    "he",
    "she",
    "him",
    "us",
    "them",
    "who",
    "what",
    "when",
    "where",
    "why",
    "how",
    "can",
    "could",
    "would",
    "should",
    "will",
    "shall",
    "might",
    "must",
    "do",
    "does",
    "did",
    "have",
    "has",
    "had",
    "be",
    "been",
    "being",
    "get",
    "got",
    "let",
    "know",
    "need",
    "want",
    "like",
    "see",
    "check",
    "call",
    "email",
    "phone",
    "mobile",
    "address",
    "number",
    "id",
    "code",
    "password",
    "login",
    "logout",
    "sign",
    "signed",
    "click",
    "open",
    "close",
    "cancel",
    "confirm",
    "block",
    "unblock",
    "lost",
    "stolen",
    "credit",
    "debit",
    "visa",
    "mastercard",
    "amex",
    "iban",
    "swift",
    "bic",
    "api",
    "http",
    "https",
    "json",
    "xml",
    "sql",
    "aws",
    "gcp",
    "azure",
    "google",
    "microsoft",
    "apple",
    "amazon",
    "github",
    "gitlab",
    "slack",
    "jira",
    "linux",
    "windows",
    "android",
    "ios",
    "chrome",
    "firefox",
    "safari",
    "mozilla",
    "java",
    "python",
    "rust",
    "go",
    "node",
    "docker",
    "kubernetes",
    "redis",
    "postgres",
    "mysql",
];
static NOT_NAMES_SET: WordSet = WordSet::new(NOT_NAMES);

/// Words of organisation names: a name-shaped run with one of them is a company's.
const ORG_WORDS: &[&str] = &[
    "orchestra",
    "band",
    "group",
    "company",
    "co",
    "foundation",
    "university",
    "college",
    "hospital",
    "bank",
    "inc",
    "llc",
    "ltd",
    "gmbh",
    "corp",
    "corporation",
    "sa",
    "sas",
    "sarl",
    "plc",
    "ag",
    "kg",
    "bv",
    "associates",
    "partners",
    "sons",
    "brothers",
    "industries",
    "solutions",
    "systems",
    "services",
    "holdings",
    "capital",
    "ventures",
    "media",
    "labs",
    "institute",
    "school",
    "church",
    "club",
    "hotel",
    "restaurant",
    "cafe",
    "store",
    "shop",
    "market",
    "center",
    "centre",
    "studio",
    "studios",
    "records",
    "press",
    "publishing",
    "airlines",
    "motors",
    "pharma",
    "energy",
    "international",
    "global",
];
static ORG_WORDS_SET: WordSet = WordSet::new(ORG_WORDS);

/// Countries and territories whose English names are two or three capitalised words
/// the first of which is also a given name (`Sierra Leone`, `Marshall Islands`): with
/// an unlisted second word, the bare-name rule would read them as a person.
const PLACES_OF_NAMES: &[&str] = &[
    "sierra leone", "costa rica", "marshall islands", "solomon islands", "cook islands",
    "christmas island", "norfolk island", "heard island", "saint lucia", "saint helena",
    "saint martin", "saint barthelemy", "saint kitts", "saint vincent", "saint pierre",
    "san marino", "santa cruz", "santa clara", "santa fe", "santa monica", "santa barbara",
    "san diego", "san jose", "san antonio", "san francisco", "el salvador", "puerto rico",
    "sri lanka", "burkina faso", "papua new guinea", "new guinea", "new zealand",
    "new caledonia", "faroe islands", "virgin islands", "cayman islands",
    "falkland islands", "pitcairn islands", "jan mayen", "hong kong",
    "south africa", "north macedonia", "timor leste", "guinea bissau", "cabo verde",
    "cape verde", "sao tome", "victoria falls",
    "mount pleasant", "port louis", "port moresby", "ivory coast", "gold coast",
];

/// Whether the words are one of `PLACES_OF_NAMES` (or start with one).
fn place_name(words: &[&str]) -> bool {
    let joined = words.iter().map(|w| fold(w)).collect::<Vec<_>>().join(" ");
    PLACES_OF_NAMES.iter().any(|p| {
        joined
            .strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
    })
}

/// The abbreviated days and months of log timestamps (`[Sun Mar 01 11:28:02 2026]`),
/// some of them listed names: two of them in a row are a date, not a person.
const DATE_WORDS: &[&str] = &[
    "mon", "tue", "wed", "thu", "fri", "sat", "sun", "jan", "feb", "mar", "apr", "may", "jun",
    "jul", "aug", "sep", "sept", "oct", "nov", "dec",
];
static DATE_WORDS_SET: WordSet = WordSet::new(DATE_WORDS);

/// Folds a word for the lists: lower case, common Latin diacritics dropped
/// (`Müller` is listed as `muller`).
fn fold(word: &str) -> String {
    word.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
            'ç' => 'c',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ñ' => 'n',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            'ý' | 'ÿ' => 'y',
            'ß' => 's',
            '’' => '\'',
            c => c,
        })
        .collect()
}

/// `f(&fold(word))`, without a new string for a short ASCII word (most words looked
/// up): `fold` of ASCII is its lower case.
fn with_folded<R>(word: &str, f: impl FnOnce(&str) -> R) -> R {
    let b = word.as_bytes();
    if b.len() <= 32 && b.is_ascii() {
        let mut buf = [0u8; 32];
        for (d, s) in buf.iter_mut().zip(b) {
            *d = s.to_ascii_lowercase();
        }
        // Lower-case ASCII is UTF-8.
        f(std::str::from_utf8(&buf[..b.len()]).unwrap_or_default())
    } else {
        f(&fold(word))
    }
}

fn is_given(word: &str) -> bool {
    listed(word, |f| given_names().contains(f) && !COMMON_WORD_NAMES_SET.contains(f))
}

fn is_surname(word: &str) -> bool {
    listed(word, |f| surnames().contains(f) && !NOT_NAMES_SET.contains(f))
}

/// `known(fold(word))`, or for a double-barrelled word (`Joubert-Leclerc`,
/// `Hans-Bernd`) whether one of its parts is known: the lists hold the parts.
fn listed(word: &str, known: impl Fn(&str) -> bool) -> bool {
    with_folded(word, |f| {
        known(f) || f.contains('-') && f.split('-').any(|part| part.len() >= 2 && known(part))
    })
}

fn is_not_name(word: &str) -> bool {
    with_folded(word, |f| NOT_NAMES_SET.contains(f))
}

/// A word of a name: a capital, then letters (apostrophes and hyphens inside:
/// `O'Brien`, `Wieloch-Bolnbach`), or an initial (`J.`).
fn name_word(w: &str) -> bool {
    let mut chars = w.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    if !first.is_uppercase() {
        return false;
    }
    let rest = chars.as_str();
    if rest == "." {
        return true;
    }
    rest.chars()
        .all(|c| c.is_alphabetic() || matches!(c, '\'' | '’' | '-' | '.'))
        && rest.chars().any(char::is_lowercase)
}

/// `PARTICLES.contains(&word.to_lowercase())`, without a new string for an ASCII word
/// (the particles are in lower case).
fn is_particle(word: &str) -> bool {
    if word.is_ascii() {
        PARTICLES.iter().any(|p| p.eq_ignore_ascii_case(word))
    } else {
        PARTICLES.contains(&word.to_lowercase().as_str())
    }
}

/// Particles inside names: `van der`, `da`, `de la`, `bin`.
const PARTICLES: &[&str] = &[
    "van", "von", "der", "den", "de", "da", "del", "della", "di", "du", "la", "le", "bin", "al",
    "dos", "das", "do", "y", "e", "zu", "ter", "ten",
];

fn han(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF)
}

/// Hiragana, katakana and the long-vowel mark.
fn kana(c: char) -> bool {
    matches!(c as u32, 0x3041..=0x309F | 0x30A0..=0x30FF)
}

/// How strongly the text before a candidate says a name follows.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Context {
    None,
    Weak,
    Strong,
}

const STRONG_BEFORE: &[&str] = &[
    "mr",
    "mrs",
    "ms",
    "miss",
    "mx",
    "dr",
    "prof",
    "sir",
    "madam",
    "mme",
    "mlle",
    "herr",
    "frau",
    "señor",
    "señora",
    "sr",
    "sra",
    "srta",
    "dona",
    "monsieur",
    "madame",
    "my name is",
    "i am",
    "i'm",
    "call me",
    "calls me",
    "named",
    "signed by",
    "signed",
    "regards",
    "sincerely",
    "cheers",
    "best",
    "thanks",
    "thank you",
    "dear",
    "attn",
    "attention",
    "contact person",
    "cardholder",
    "card holder",
    "account holder",
    "guardian",
    "patient",
    "employee",
    "applicant",
    "beneficiary",
    "recipient",
    "customer",
    "client",
    "speak to",
    "speak with",
    "ask for",
    "assigned to",
    "escalated to",
    "reported by",
    "written by",
    "approved by",
    "directed by",
    "produced by",
    "founded by",
    "starring",
    "according to",
    "says",
    "said",
    "name is",
    "this is",
    "ich heiße",
    "je m'appelle",
    "me llamo",
    "meu nome é",
    "mein name ist",
];

/// Words after which a name-shaped word may be a name (the lists must confirm it);
/// the greetings and relations of `GREETINGS` count too.
const WEAK_BEFORE: &[&str] = &[
    "my boss",
    "my colleague",
    "my grandfather",
    "my grandmother",
    "called",
    "welcome",
    "with",
    "and",
    "for",
    "by",
    "add",
    "ask",
    "tell",
    "contact",
    "meet",
    "met",
    "visit",
    "invite",
    "told",
    "thank",
    "pay",
    "paid",
    "send",
    "sent",
    "transfer",
    "owe",
    "including",
];

/// What the words right before the candidate (past spaces, a comma, a colon, quotes)
/// say about it.
/// The last bytes of the words of `lists`, for `context_before`'s first test (an empty
/// word, which any text ends with, marks every byte).
const fn last_bytes(lists: &[&[&str]]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut l = 0;
    while l < lists.len() {
        let mut i = 0;
        while i < lists[l].len() {
            let w = lists[l][i].as_bytes();
            if w.is_empty() {
                return [true; 256];
            }
            t[w[w.len() - 1] as usize] = true;
            i += 1;
        }
        l += 1;
    }
    t
}

static STRONG_LAST: [bool; 256] = last_bytes(&[STRONG_BEFORE]);
static WEAK_LAST: [bool; 256] = last_bytes(&[WEAK_BEFORE, GREETINGS]);

fn context_before(before: &str) -> Context {
    let trimmed = before.trim_end_matches([' ', '\t', ',', ':', '"', '\'', '=', '.', '(']);
    let lower = trimmed.to_lowercase();
    // The last byte first: most words of the lists end otherwise, and the test
    // costs no comparison of the whole word (every word of the lists has one).
    let ends_word = |w: &str| {
        lower.as_bytes().last() == w.as_bytes().last()
            && lower.ends_with(w)
            && lower[..lower.len() - w.len()]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric())
    };
    // Field names: `"customer_name": "`, `name=`, `holder: `.
    if before.trim_end().ends_with([':', '=']) || before.trim_end().ends_with(['"', '\'']) {
        let key: String = lower
            .chars()
            .rev()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        // An escaped line break glued to the key is not part of it (`\nName:`).
        let escaped =
            lower[..lower.len() - key.len()].ends_with('\\') && key.starts_with(['n', 'r', 't']);
        let key = if escaped { &key[1..] } else { &key[..] };
        match name_key(key) {
            KeyKind::Person => return Context::Strong,
            KeyKind::Account => return Context::Weak,
            KeyKind::Other => {}
        }
    }
    // A form's or a chat's question (`What's your last name? Rodriguez`).
    if let Some(q) = lower.strip_suffix("name?") {
        let q = q.trim_end_matches(' ');
        if ["last", "first", "given", "family", "middle", "maiden", "full", "sur", "nick"]
            .iter()
            .any(|w| q.ends_with(w))
        {
            return Context::Strong;
        }
    }
    // A list is read only when the text's last byte ends one of its words (the word
    // lists' last bytes, `STRONG_LAST` and `WEAK_LAST`; an empty text reads them all).
    let last_in = |table: &[bool; 256]| lower.as_bytes().last().is_none_or(|&b| table[usize::from(b)]);
    if last_in(&STRONG_LAST) && STRONG_BEFORE.iter().any(|w| ends_word(w)) {
        return Context::Strong;
    }
    // A mail header: `From:`, `To:`, `Cc:` at the start of a line, or after
    // punctuation where a log flattened the headers (`… | To: …`); after a word
    // (`sent to: …`) only a weak hint.
    if before.trim_end().ends_with(':') {
        let word_start = lower
            .rfind(|c: char| !(c.is_alphabetic() || c == '-'))
            .map_or(0, |i| {
                i + lower[i..].chars().next().map_or(1, char::len_utf8)
            });
        if ["from", "to", "cc", "bcc", "reply-to", "sender"].contains(&&lower[word_start..]) {
            let prev = lower[..word_start]
                .trim_end_matches([' ', '\t'])
                .chars()
                .next_back();
            return if prev.is_none_or(|c| !c.is_alphanumeric()) {
                Context::Strong
            } else {
                Context::Weak
            };
        }
    }
    if last_in(&WEAK_LAST) && WEAK_BEFORE.iter().chain(GREETINGS).any(|w| ends_word(w)) {
        return Context::Weak;
    }
    Context::None
}

/// What a key says about its value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    /// A person's name (`full_name`, `customer`, `cardholder`).
    Person,
    /// An account that may be a person's name or a login (`user`, `author`): names
    /// there must be confirmed by the lists, and a lower-case login is no name.
    Account,
    Other,
}

fn name_key(key: &str) -> KeyKind {
    name_key_folded(key.as_bytes(), false)
}

/// `name_key` of `key`, ASCII lower-cased first when `lower`. Without allocating:
/// the `near` test of `person-name-field` asks this for every `user`/`name` in a text.
fn name_key_folded(key: &[u8], lower: bool) -> KeyKind {
    // The last part after a `.` or `-`, without `_`: every key below is shorter than
    // the buffer, so a longer one is none of them.
    let last = key
        .rsplit(|b| matches!(b, b'.' | b'-'))
        .next()
        .unwrap_or(key);
    let mut buf = [0u8; 24];
    let mut n = 0;
    for &b in last.iter().filter(|&&b| b != b'_') {
        if n == buf.len() {
            return KeyKind::Other;
        }
        buf[n] = if lower { b.to_ascii_lowercase() } else { b };
        n += 1;
    }
    let Ok(k) = std::str::from_utf8(&buf[..n]) else {
        return KeyKind::Other;
    };
    match k {
        "name" | "fullname" | "firstname" | "lastname" | "givenname" | "familyname" | "surname"
        | "customer" | "customername" | "contactname" | "recipient" | "sender" | "holder"
        | "cardholder" | "cardholdername" | "accountholder" | "beneficiary" | "patient"
        | "employee" | "applicant" | "displayname" | "person" | "nom" | "prénom" | "prenom"
        | "vorname" | "nachname" | "nombre" | "apellido" | "nome" | "sobrenome" | "guest"
        | "passenger" | "payee" | "payer" | "signer" | "shipto" | "billto" | "attendee"
        | "student" | "teacher" | "doctor" | "physician" => KeyKind::Person,
        "user" | "username" | "contact" | "owner" | "author" | "assignee" | "reporter"
        | "requester" | "buyer" | "seller" | "member" | "driver" => KeyKind::Account,
        _ => KeyKind::Other,
    }
}

/// Whether the text right after the candidate is an e-mail address in angle brackets
/// or parentheses (`Ann Lee <ann@x.com>`), or a phone number or e-mail after a comma.
fn contact_after(after: &str) -> bool {
    let a = after.trim_start_matches([' ', '\t', '"']);
    (a.starts_with('<') || a.starts_with('('))
        && a[1..]
            .chars()
            .take(64)
            .take_while(|c| !matches!(c, '>' | ')' | ' '))
            .any(|c| c == '@')
}

/// Words after a name that give the person a role on an account or in a case (`add
/// Ann Lee as guardian`, `Ann Lee as a beneficiary`, `Ann Lee as my emergency
/// contact`): as strong a context as a title before it.
fn role_after(after: &str) -> bool {
    let a = after.trim_start_matches([' ', '\t']).to_ascii_lowercase();
    let Some(rest) = a.strip_prefix("as ") else {
        return false;
    };
    let rest = ["a ", "an ", "the ", "my ", "our ", "his ", "her ", "their ", "a new ", "the new "]
        .iter()
        .find_map(|d| rest.strip_prefix(d))
        .unwrap_or(rest);
    [
        "guardian",
        "beneficiary",
        "beneficiaries",
        "co-signer",
        "cosigner",
        "co-applicant",
        "authorized user",
        "authorised user",
        "joint holder",
        "joint account holder",
        "account holder",
        "cardholder",
        "nominee",
        "executor",
        "trustee",
        "emergency contact",
        "next of kin",
        "dependent",
        "dependant",
        "spouse",
        "legal representative",
        "power of attorney",
        "attorney",
        "caregiver",
    ]
    .iter()
    .any(|r| {
        rest.strip_prefix(r)
            .is_some_and(|t| t.chars().next().is_none_or(|c| !c.is_alphabetic()))
    })
}

/// Titles that may stand before a name and are masked with it (`Dr.`, `Srta.`,
/// `Univ.Prof.`, `Dipl.-Ing.`), folded and without their dots.
const TITLES: &[&str] = &[
    "mr", "mrs", "ms", "miss", "mx", "dr", "dra", "prof", "sir", "mme", "mlle", "herr", "frau",
    "senor", "senora", "sr", "sra", "srta", "dona", "monsieur", "madame", "ing", "dipl", "univ",
    "mag", "lic", "dott",
];

/// Degrees and generational suffixes after a name, masked with it (`MBA.`, `DVM`,
/// `B.Sc.`, `Jr.`, `IV`).
const SUFFIXES: &[&str] = &[
    "mba", "dvm", "dds", "phd", "md", "jr", "sr", "ii", "iii", "iv", "ba", "bsc", "msc", "ma",
    "beng", "meng", "llm", "esq", "cpa", "rn",
];

/// `value` without the titles before the name (up to two: `Prof. Dr.`), and whether
/// it had one.
static TITLES_SET: WordSet = WordSet::new(TITLES);
static SUFFIXES_SET: WordSet = WordSet::new(SUFFIXES);

fn strip_titles(value: &str) -> (&str, bool) {
    let mut rest = value;
    let mut titled = false;
    for _ in 0..2 {
        let Some((first, tail)) = rest.split_once([' ', '\t']) else {
            break;
        };
        let title = first.split(['.', '-']).filter(|p| !p.is_empty()).count() > 0
            && first
                .split(['.', '-'])
                .filter(|p| !p.is_empty())
                .all(|p| with_folded(p, |f| TITLES_SET.contains(f)));
        if !title {
            break;
        }
        rest = tail.trim_start();
        titled = true;
    }
    (rest, titled)
}

/// `value` without the degrees and suffixes after the name.
fn strip_suffixes(value: &str) -> &str {
    let mut rest = value.trim_end_matches(['.', ',']);
    for _ in 0..2 {
        let Some((head, last)) = rest.rsplit_once([' ', '\t']) else {
            break;
        };
        // `fold(last)` without its dots, in the list.
        let suffix = with_folded(last, |f| {
            if f.contains('.') {
                SUFFIXES_SET.contains(&f.replace('.', ""))
            } else {
                SUFFIXES_SET.contains(f)
            }
        });
        if !suffix {
            break;
        }
        rest = head.trim_end_matches([' ', '\t', ',', '.']);
    }
    rest
}

/// Greetings and relations after which one word is a name whether or not the lists
/// know it (`Hi Cosima,`, `my kid Ladli`).
const GREETINGS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "dear",
    "hallo",
    "bonjour",
    "hola",
    "olá",
    "ciao",
    "liebe",
    "lieber",
    "cher",
    "chère",
    "good morning",
    "good afternoon",
    "good evening",
    "my kid",
    "my son",
    "my daughter",
    "my wife",
    "my husband",
    "my friend",
    "my brother",
    "my sister",
    "my mother",
    "my father",
    "my mom",
    "my dad",
    "my child",
    "my partner",
    "calls me",
];

fn greeting_before(before: &str) -> bool {
    let lower = before
        .trim_end_matches([' ', '\t', ',', ':'])
        .to_lowercase();
    GREETINGS.iter().any(|w| {
        lower.as_bytes().last() == w.as_bytes().last()
            && lower.ends_with(w)
            && lower[..lower.len() - w.len()]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric())
    })
}

/// The `person-name` rule's validator.
pub fn person_name(c: &Candidate<'_>) -> bool {
    name_in_context(c, Context::None)
}

/// `person-name-answer`'s validator: the name answers a question that asks for one,
/// as strong a context as a title.
fn answered_name(c: &Candidate<'_>) -> bool {
    name_in_context(c, Context::Strong)
}

/// `person_name` with the context at least `floor`.
fn name_in_context(c: &Candidate<'_>, floor: Context) -> bool {
    // A title before the name and a degree after it are masked with it, and a title
    // is as strong a context as any.
    let (value, titled) = strip_titles(c.value().trim_end_matches(['.', ',']));
    if titled && glued_by_hyphen(c) {
        return false;
    }
    let value = strip_suffixes(value);
    if value.is_empty() {
        return false;
    }
    // CJK names: two to four Han characters (or family name, space, given name); one
    // after a title, an introduction or a greeting (`My name is 成`).
    if value.chars().next().is_some_and(han) {
        let chars: Vec<char> = value.chars().filter(|c| !c.is_whitespace()).collect();
        let answered = floor == Context::Strong;
        let strong = titled || answered || context_before(c.before(48)) == Context::Strong;
        let greeted = greeting_before(c.before(48));
        // An answer may give a Japanese given name in kana (`松本 あすか`).
        return (1..=5).contains(&chars.len())
            && chars.iter().all(|&c| han(c) || answered && kana(c))
            && (chars.len() >= 2 || strong || greeted)
            && (cjk_surname(&chars) || strong || greeted || cjk_marker(c.before(16), &chars));
    }
    // A name ends where a word does (`DB_PASSWORD` is no `D`), and starts where one
    // does: `Vg'` in a password `…WC_6Vg'` is no name (found by the property tests; the
    // name rule took the password's closing quote, and masking again found more). An
    // escaped line break (`…\nAnn: hi`) still ends the word before.
    if c.char_after()
        .is_some_and(|ch| ch.is_alphanumeric() || ch == '_')
        || (c
            .char_before()
            .is_some_and(|ch| ch.is_ascii_alphanumeric() || ch == '_')
            && !escaped_break_before(c.haystack.as_bytes(), c.start))
    {
        return false;
    }
    let words: Vec<&str> = value.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
    let lower_case = words.iter().all(|w| w.chars().all(|ch| !ch.is_uppercase()));
    if lower_case && words.len() < 2 {
        return false;
    }
    let name_words: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| !is_particle(w))
        .collect();
    if name_words.is_empty()
        || name_words.len() > 4
        || !name_words
            .iter()
            .all(|w| name_word(w) || key_context_lowercase(c, w))
        || name_words
            .iter()
            .any(|w| is_not_name(w.trim_end_matches('.')))
    {
        return false;
    }
    let before = c.before(48);
    // The start of a line, or of a quoted or flattened one (`> Ann:`, `… | Ann:`).
    let line_start = before.is_empty()
        || before.ends_with('\n')
        || before.ends_with("\\n")
        || before.trim_end_matches([' ', '\t']).ends_with(['|', '>']);
    let speaker = line_start && c.after(1) == ":";
    let context = context_before(before)
        .max(floor)
        .max(if titled {
            Context::Strong
        } else {
            Context::None
        })
        .max(if contact_after(c.after(80)) || role_after(c.after(40)) {
            Context::Strong
        } else {
            Context::None
        })
        .max(if speaker {
            Context::Weak
        } else {
            Context::None
        });
    // A company's name (`Roche Vidal S.A.S.`, `… and Coleman Orchestra`).
    // The next word on the same line, a whole one (`CO_API_KEY` is no `Co.`).
    let rest = c.after(24).trim_start_matches([' ', '\t', ',']);
    let word_len = rest
        .find(|ch: char| !(ch.is_alphanumeric() || ch == '.'))
        .unwrap_or(rest.len());
    let next_word: String = if rest[word_len..].starts_with('_') {
        String::new()
    } else {
        rest[..word_len]
            .chars()
            .filter(|ch| *ch != '.')
            .collect::<String>()
            .to_lowercase()
    };
    if name_words
        .iter()
        .any(|w| with_folded(w.trim_end_matches('.'), |f| ORG_WORDS_SET.contains(f)))
        || ORG_WORDS_SET.contains(&next_word)
    {
        return false;
    }
    let first = name_words[0];
    let last = name_words[name_words.len() - 1];
    let listed_first = is_given(first);
    let listed_last = name_words.len() >= 2 && is_surname(last);
    match context {
        // A strong context: any name-shaped words (names of every origin).
        Context::Strong => true,
        // A weak one: the lists must know the given name, or the surname of two words;
        // after a greeting or a relation one name-shaped word will do.
        Context::Weak => {
            listed_first || listed_last || name_words.len() == 1 && greeting_before(before)
        }
        // None: a listed given name and a surname, listed or not (the lists are
        // mostly of English-speaking countries' names: `Lucie Bigot`). An unlisted
        // surname needs more: no particle in the name (`Cruz do Norte` is a place),
        // a first name that is no place's, and no date's words (`Sun Mar 01`).
        Context::None => {
            name_words.len() >= 2
                && listed_first
                && !with_folded(first, |f| DATE_WORDS_SET.contains(f))
                && !place_name(&name_words)
                && (listed_last
                    || name_words.len() == words.len()
                        && !with_folded(first, |f| PLACE_NAMES_SET.contains(f))
                        && !with_folded(last, |f| street_types().contains(f)))
        }
    }
}

/// In a `name`-like field, a name may be written in lower case (`"customer": "ann
/// lee"`): then the lists must know it.
fn key_context_lowercase(c: &Candidate<'_>, w: &str) -> bool {
    w.chars().all(|ch| ch.is_lowercase())
        && (is_given(w) || is_surname(w))
        && lower_case_name_context(c.before(48))
}

/// A lower-case name counts only as the value of a person-name key, and with two
/// words or more (`"customer": "ann lee"`; `user=bob` is a login).
fn lower_case_name_context(before: &str) -> bool {
    let lower = before
        .trim_end_matches([' ', '\t', '"', '\''])
        .to_lowercase();
    let Some(k) = lower.strip_suffix(['=', ':']) else {
        return false;
    };
    let k = k.trim_end_matches([' ', '"', '\'']);
    let key: String = k
        .chars()
        .rev()
        .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    name_key(&key) == KeyKind::Person
}

const CJK_SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝";

const JP_SURNAMES: &[&str] = &[
    "佐藤",
    "鈴木",
    "高橋",
    "田中",
    "伊藤",
    "渡辺",
    "山本",
    "中村",
    "小林",
    "加藤",
    "吉田",
    "山田",
    "佐々木",
    "山口",
    "松本",
    "井上",
    "木村",
    "林",
    "斎藤",
    "清水",
    "山崎",
    "森",
    "池田",
    "橋本",
    "阿部",
    "石川",
    "山下",
    "中島",
    "石井",
    "小川",
    "前田",
    "岡田",
    "長谷川",
    "藤田",
    "後藤",
    "近藤",
    "村上",
    "遠藤",
    "青木",
    "坂本",
    "斉藤",
    "福田",
    "太田",
    "西村",
    "藤井",
    "金子",
    "岡本",
    "藤原",
    "中野",
    "三浦",
    "原田",
    "中川",
    "松田",
    "竹内",
    "小野",
    "田村",
    "中山",
    "和田",
    "石田",
    "森田",
    "上田",
    "原",
    "内田",
    "柴田",
    "酒井",
    "宮崎",
    "横山",
    "高木",
    "安藤",
    "宮本",
    "大野",
    "小島",
    "谷口",
    "今井",
    "工藤",
    "高田",
    "増田",
    "丸山",
    "杉山",
    "村田",
    "大塚",
    "新井",
    "小山",
    "平野",
    "藤本",
    "河野",
    "上野",
    "野口",
    "武田",
    "松井",
    "千葉",
    "岩崎",
    "菅原",
    "木下",
    "久保",
    "佐野",
    "野村",
    "松尾",
    "菊地",
    "杉本",
    "市川",
];

fn cjk_surname(chars: &[char]) -> bool {
    let s: String = chars.iter().collect();
    CJK_SURNAMES.contains(chars[0]) || JP_SURNAMES.iter().any(|j| s.starts_with(j))
}

/// A Chinese or Japanese name marker right before (`姓名：`, `联系人`, `我叫`). Glued to
/// the name, a marker may be the start of a longer word (`用户名`, `客户端`): then
/// the name must start with a listed surname (`我叫王伟`).
fn cjk_marker(before: &str, chars: &[char]) -> bool {
    let b = before.trim_end_matches([' ', '：', ':', '　']);
    if b.len() == before.len() && !cjk_surname(chars) {
        return false;
    }
    [
        "姓名",
        "名字",
        "联系人",
        "收件人",
        "收货人",
        "客户",
        "用户",
        "我叫",
        "我是",
        "氏名",
        "名前",
        "担当",
        "担当者",
        "宛先",
    ]
    .iter()
    .any(|m| b.ends_with(m))
}

/// Trigger words of `person-name` (ASCII case-insensitively): titles, greetings,
/// introductions and the words that put a person next.
const CONTEXT_WORDS: &[&str] = &[
    "mr.",
    "mr ",
    "mrs",
    "ms.",
    "ms ",
    "mx ",
    "mx.",
    "miss ",
    "dr.",
    "dr ",
    "dra.",
    "dra ",
    "ing.",
    "univ",
    "dipl",
    "mag.",
    "lic.",
    "dott",
    "prof",
    "sir ",
    "madam",
    "mme",
    "mlle",
    "herr ",
    "frau ",
    "señor",
    "sr.",
    "sr ",
    "sra",
    "srta",
    "dona ",
    "monsieur",
    "madame",
    "my name",
    "name is",
    "name?",
    "i am ",
    "i'm ",
    "call me",
    "calls me",
    "called",
    "named",
    "signed",
    "regards",
    "sincerely",
    "cheers",
    "best",
    "greetings",
    "thanks",
    "thank you",
    "dear ",
    "attn",
    "attention",
    "holder",
    "guardian",
    "patient",
    "employee",
    "applicant",
    "beneficiary",
    "recipient",
    "customer",
    "client",
    "speak ",
    "ask for",
    "assigned",
    "escalated",
    "reported",
    "written by",
    "approved by",
    "directed by",
    "produced by",
    "founded by",
    "starring",
    "according to",
    "says",
    "said",
    "hi ",
    "hi,",
    "hello",
    "hey ",
    "hey,",
    "hallo",
    "bonjour",
    "hola",
    "olá",
    "ciao",
    "liebe",
    "lieber",
    "cher ",
    "chère",
    "good morning",
    "good afternoon",
    "good evening",
    "welcome",
    "this is",
    "ich heiße",
    "appelle",
    "me llamo",
    "meu nome",
    "mein name",
    "contact person",
    "my kid",
    "my son",
    "my daughter",
    "my wife",
    "my husband",
    "my friend",
    "my brother",
    "my sister",
    "my mother",
    "my father",
    "my mom",
    "my dad",
    "my boss",
    "my colleague",
    "my child",
    "my partner",
    "my grand",
];

/// Trigger words of `person-name-field`: the last word of a key that holds a person's
/// name (`customer_name=`, `"assignee": `); the `near` test checks the whole key.
const FIELD_WORDS: &[&str] = &[
    "name",
    "customer",
    "holder",
    "recipient",
    "sender",
    "beneficiary",
    "patient",
    "employee",
    "applicant",
    "person",
    "guest",
    "passenger",
    "payee",
    "payer",
    "signer",
    "attendee",
    "student",
    "teacher",
    "doctor",
    "user",
    "contact",
    "owner",
    "author",
    "assignee",
    "reporter",
    "requester",
    "agent",
    "buyer",
    "seller",
    "member",
    "driver",
    "nom",
    "vorname",
    "nachname",
    "nombre",
    "apellido",
    "nome",
];

/// Trigger words of `person-name-cjk`: the markers before a name (`姓名：`) and the
/// honorifics after one (`様`, `先生`).
const CJK_NAME_MARKERS: &[&str] = &[
    "姓名",
    "名字",
    "联系人",
    "收件人",
    "收货人",
    "客户",
    "用户",
    "我叫",
    "我是",
    "氏名",
    "名前",
    "担当",
    "宛先",
    "様",
    "さん",
    "先生",
    "女士",
    "小姐",
];

/// `Ann Lee <…@…>`: a name before an address in angle brackets.
fn name_before_mail(text: &[u8], start: usize, _end: usize) -> bool {
    // What the rule's `[<(][^>)\s]{1,64}@` allows between the bracket and the `@`.
    text[..start]
        .iter()
        .rev()
        // Sixty-four characters, up to four bytes each.
        .take(257)
        .take_while(|b| !(b.is_ascii_whitespace() || matches!(b, b'>' | b')')))
        .any(|b| matches!(b, b'<' | b'('))
}

/// `person-name`'s `near` test: the context word starts a word, and a capital (or a
/// Han character) comes next, past punctuation, spaces and up to two short lower-case
/// words (`thank you`, `my name is`).
fn context_word_near(text: &[u8], start: usize, end: usize) -> bool {
    let lit = &text[start..end];
    if lit[0].is_ascii_alphabetic() && start > 0 && text[start - 1].is_ascii_alphanumeric() {
        return false;
    }
    let mut i = end;
    for _ in 0..3 {
        while matches!(
            text.get(i),
            Some(b' ' | b'\t' | b'.' | b',' | b':' | b'"' | b'\'' | b'=' | b'!' | b'\n')
        ) {
            i += 1;
        }
        if text
            .get(i)
            .is_some_and(|b| b.is_ascii_uppercase() || *b >= 0xC3)
        {
            return true;
        }
        // A lower-case word in between (`thank you`, `my name is`): skip it.
        let word = text[i.min(text.len())..]
            .iter()
            .take_while(|b| b.is_ascii_lowercase() || **b == b'\'')
            .count();
        if word == 0 || word > 8 {
            return false;
        }
        i += word;
    }
    false
}

/// `person-name-field`'s `near` test: the whole key around the word must be a name's
/// (`customer_name`, not `hostname` or `user_id`), and an operator must follow it.
fn field_word_near(text: &[u8], start: usize, end: usize) -> bool {
    let is_key = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
    let mut from = start;
    while from > 0 && is_key(text[from - 1]) {
        from -= 1;
    }
    // A written-out line break before the key (`\nName:`) is not part of it.
    if from > 0 && text[from - 1] == b'\\' && matches!(text[from], b'n' | b'r' | b't') {
        from += 1;
    }
    let mut i = end;
    while i < text.len() && is_key(text[i]) {
        i += 1;
    }
    let key_end = i;
    // The operator first (a test without side effects, as the key's are: the order
    // changes only the cost), then the key, which most words used as no key never
    // reach.
    while matches!(text.get(i), Some(b'"' | b'\'' | b' ' | b'\\')) {
        i += 1;
    }
    matches!(text.get(i), Some(b':' | b'='))
        && name_starts_after(text, i + 1)
        && std::str::from_utf8(&text[from..key_end]).is_ok()
        && name_key_folded(&text[from..key_end], true) != KeyKind::Other
}

/// After the key's operator (`value_at` is right past it), as `person-name-field`'s
/// pattern reads on: spaces or tabs, maybe a backslash, maybe a quote, then the name,
/// which starts with a letter (a title, a capital, a lower-case letter or a Han
/// character: an ASCII letter or a byte of a character outside ASCII). Where the
/// pattern matches at this key, each of those optional parts is taken exactly where
/// this takes it (a name starts with none of them), so a number or a sign there
/// (`user:5572846`, `user_id=42`) means no name at this key.
fn name_starts_after(text: &[u8], value_at: usize) -> bool {
    let mut j = value_at;
    while matches!(text.get(j), Some(b' ' | b'\t')) {
        j += 1;
    }
    j += usize::from(text.get(j) == Some(&b'\\'));
    j += usize::from(matches!(text.get(j), Some(b'"' | b'\'')));
    text.get(j).is_some_and(|&c| c.is_ascii_alphabetic() || c >= 0x80)
}

/// `person-name-given`'s trigger: `, ` (see `vocative_near`), and the verbs after which
/// a lone given name is someone's (`Kimberly is very reliable`, `but Andrew just has
/// to`), each with the one space before it that the pattern takes.
const GIVEN_TRIGGERS: &[&str] = &[
    ", ", " is", " was", " has", " had", " will", " would", " can", " could", " just", " shouted",
    " said", " says", " told", " asked", " lives", " lived", " works", " worked", " went",
    " wrote", " loves", " likes", " wants", " needs", " called", " sent",
];

/// `person-name-given`'s test: `vocative_near` for `, `, `capitalised_word_before` for
/// a verb.
fn given_near(text: &[u8], start: usize, end: usize) -> bool {
    if &text[start..end] == b", " {
        vocative_near(text, start, end)
    } else {
        capitalised_word_before(text, start, end)
    }
}

/// A character of a name's word, as `person-name-given`'s pattern reads one (and
/// any other letter: the tests may say yes where the pattern says no).
fn name_char(c: char) -> bool {
    c.is_alphabetic() || matches!(c, '\'' | '’' | '-') || ('\u{300}'..='\u{36F}').contains(&c)
}

/// Where the run of `name_char`s that ends at `end` starts, and its first character;
/// `None` when the run may go on past the 256 bytes looked at (then the tests say
/// yes).
fn word_before(text: &[u8], end: usize) -> Option<(usize, Option<char>)> {
    // ASCII first, byte by byte: the run and what ends it, without validating the
    // 256 bytes as UTF-8 and walking them as characters. The answer is the same; a
    // byte outside ASCII before the run leaves it to the walk below.
    let lower = end.saturating_sub(256);
    let mut p = end;
    while p > lower && matches!(text[p - 1], b'a'..=b'z' | b'A'..=b'Z' | b'\'' | b'-') {
        p -= 1;
    }
    let first = (p < end).then(|| char::from(text[p]));
    if p == lower {
        return (lower == 0).then_some((p, first));
    }
    if text[p - 1].is_ascii() {
        return Some((p, first));
    }
    let mut from = end.saturating_sub(256);
    while from < end && (0x80..0xC0).contains(&text[from]) {
        from += 1;
    }
    let head = std::str::from_utf8(&text[from..end]).ok()?;
    let mut w = end;
    let mut first = None;
    for (i, c) in head.char_indices().rev() {
        if !name_char(c) {
            return Some((w, first));
        }
        w = from + i;
        first = Some(c);
    }
    (from == 0).then_some((w, first))
}

/// `person-name-given`'s test for a verb: a word right before it that starts with a
/// capital (or any letter outside ASCII: `É`, Han).
fn capitalised_word_before(text: &[u8], start: usize, _end: usize) -> bool {
    let Some((w, first)) = word_before(text, start) else {
        return true;
    };
    first.is_some_and(|c| c.is_uppercase() || !c.is_ascii()) && listed_or_not_ascii(&text[w..start])
}

/// A word in ASCII must be a listed given name (as the validator wants; a lookup
/// costs less than running the pattern); any other the pattern decides.
fn listed_or_not_ascii(word: &[u8]) -> bool {
    !word.is_ascii() || std::str::from_utf8(word).is_ok_and(is_given)
}

/// `person-name-given`'s test for `, `: the word before it opens a line (`Tina, can
/// I …`), or a capitalised word after it ends in `!` or `?` (`Don't go, Peter!`).
fn vocative_near(text: &[u8], start: usize, end: usize) -> bool {
    let Some((w, first)) = word_before(text, start) else {
        return true;
    };
    // The start of a line, of a written-out one (`\n`) or of a flattened or quoted
    // one (`… | Tina, `, `> Tina, `).
    let mut q = w;
    while q > 0 && matches!(text[q - 1], b' ' | b'\t') {
        q -= 1;
    }
    let line_start = w == 0
        || text[w - 1] == b'\n'
        || text[w - 1] == b'\\'
        || q > 0 && matches!(text[q - 1], b'|' | b'>');
    if first.is_some() && line_start && listed_or_not_ascii(&text[w..start]) {
        return true;
    }
    // The common answer without validating the next 256 bytes: in a text that ends
    // within them, past spaces, nothing or an ASCII byte that is no capital (what
    // the lines below say for it).
    if end + 256 >= text.len() {
        let j = end + text[end..].iter().take_while(|b| matches!(b, b' ' | b'\t')).count();
        if text.get(j).is_none_or(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
            return false;
        }
    }
    let mut to = (end + 256).min(text.len());
    while to < text.len() && (0x80..0xC0).contains(&text[to]) {
        to -= 1;
    }
    let Ok(tail) = std::str::from_utf8(&text[end..to]) else {
        return true;
    };
    let tail = tail.trim_start_matches([' ', '\t']);
    if to < text.len() && tail.trim_start_matches(name_char).is_empty() {
        return true;
    }
    if !tail
        .chars()
        .next()
        .is_some_and(|c| c.is_uppercase() || !c.is_ascii())
    {
        return false;
    }
    let rest = tail.trim_start_matches(name_char);
    rest.starts_with(['!', '?']) && listed_or_not_ascii(&tail.as_bytes()[..tail.len() - rest.len()])
}

/// Words before a lone given name that make it something else's: an article or a
/// possessive (`the Jordan was`), a preposition of place (`from Austin is`), the
/// conjunction that ends a firm's list of names (`Gill, Edwards and Bailey was`).
/// Particles (`do Amparo`) and street types (`rue Antoine`) are turned away too.
const NOT_BEFORE_GIVEN: &[&str] = &[
    "the", "a", "an", "this", "that", "these", "those", "our", "your", "his", "her", "their",
    "its", "every", "each", "no", "some", "any", "of", "in", "on", "at", "from", "to", "near",
    "into", "via", "and", "&", "or", "und", "et",
];
static NOT_BEFORE_GIVEN_SET: WordSet = WordSet::new(NOT_BEFORE_GIVEN);

/// Given names that are as often a country, a state, a city or a product, which a
/// lone name before a verb more likely is (`India has`, `Georgia is`, `Ruby was`).
const PLACE_NAMES: &[&str] = &[
    "jordan",
    "chad",
    "georgia",
    "israel",
    "kenya",
    "india",
    "china",
    "victoria",
    "florence",
    "austin",
    "sydney",
    "lincoln",
    "charlotte",
    "houston",
    "savannah",
    "paris",
    "dallas",
    "denver",
    "orlando",
    "eugene",
    "tyler",
    "jackson",
    "madison",
    "chelsea",
    "devon",
    "kent",
    "cleveland",
    "raleigh",
    "virginia",
    "carolina",
    "dakota",
    "nevada",
    "alexandria",
    "adelaide",
    "regina",
    "lourdes",
    "santiago",
    "salvador",
    "sofia",
    "valencia",
    "aurora",
    "mercedes",
    "dell",
    "alexa",
    "ruby",
    "crystal",
    "julia",
    "asia",
    "africa",
    "america",
    "europe",
    "london",
    "berlin",
    "vienna",
    "milan",
    "verona",
    "siena",
    "roma",
    "sierra",
    "montana",
    "phoenix",
    "hamilton",
    "washington",
    "columbia",
    "memphis",
    "troy",
    "camden",
    "marion",
    // Countries in other languages: `Maurice` is Mauritius in French, `Mauricio` in
    // Spanish.
    "argentina",
    "argelia",
    "france",
    "dominica",
    "kenia",
    "maurice",
    "mauricio",
    "georgie",
    "brittany",
];
static PLACE_NAMES_SET: WordSet = WordSet::new(PLACE_NAMES);

/// Given names of the census lists that are also ordinary English words (beyond
/// `COMMON_WORD_NAMES`, which every name rule turns away): alone at the start of a
/// sentence they are more likely the word (`Carry the load`, `Grace was shown`). Found
/// by intersecting the list with the lower-case words of the Rust book and the Debian
/// package documentation, and read through by hand.
const WORD_NAMES: &[&str] = &[
    "aide", "alpha", "angle", "bee", "bell", "brain", "brook", "bud", "buddy", "buster", "carry",
    "charity", "daisy", "delta", "desire", "dot", "era", "fern", "gale", "gay", "glory", "golden",
    "grace", "hang", "heath", "heather", "hue", "hung", "jay", "kit", "lang", "lean", "lore",
    "manual", "many", "maple", "mercy", "merry", "meta", "min", "miss", "moon", "nova", "olive",
    "omega", "patience", "peg", "ping", "raven", "robin", "see", "song", "soon", "sun", "tiny",
    "ward",
];
static WORD_NAMES_SET: WordSet = WordSet::new(WORD_NAMES);

/// `person-name-answer`'s test: `name` as a word, a `?` within 48 bytes on the same
/// sentence, then (past spaces and maybe a speaker's `Label:`) a capital or a
/// character outside ASCII.
fn name_question_near(text: &[u8], start: usize, end: usize) -> bool {
    if start > 0 && text[start - 1].is_ascii_alphanumeric()
        || text.get(end).is_some_and(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    let window = &text[end..text.len().min(end + 49)];
    let Some(q) = window.iter().position(|&b| matches!(b, b'?' | b'.' | b'!' | b'\n')) else {
        return false;
    };
    if window[q] != b'?' {
        return false;
    }
    let mut i = end + q + 1;
    let skip = |i: &mut usize| {
        while matches!(text.get(*i), Some(b' ' | b'\t')) {
            *i += 1;
        }
    };
    skip(&mut i);
    // A speaker's label (`User:`): its word and colon.
    let label_end = (i..text.len().min(i + 17)).find(|&j| !text[j].is_ascii_alphabetic());
    if let Some(j) = label_end {
        if j > i + 1 && text[j] == b':' && text[i].is_ascii_uppercase() {
            i = j + 1;
            skip(&mut i);
        }
    }
    text.get(i).is_some_and(|&b| b.is_ascii_uppercase() || b >= 0x80)
}

/// `person-name-list`'s test: a capitalised word (or a character outside ASCII) on
/// each side of the `and`.
fn names_around_and(text: &[u8], start: usize, end: usize) -> bool {
    let mut from = start;
    while from > 0 && text[from - 1].is_ascii_alphabetic() {
        from -= 1;
    }
    let before_ok = text.get(from).is_some_and(u8::is_ascii_uppercase)
        || from == start && start > 0 && text[start - 1] >= 0x80;
    before_ok && text.get(end).is_some_and(|&b| b.is_ascii_uppercase() || b >= 0x80)
}

/// Surnames of the census lists that are as often ordinary words, which a list of
/// them more likely is (`Black and White`), beyond `COMMON_WORD_NAMES` and
/// `WORD_NAMES`, which `person-name-list` turns away too.
const WORD_SURNAMES: &[&str] = &[
    "black", "white", "brown", "green", "gray", "grey", "short", "small", "little", "hill",
    "wood", "woods", "rice", "march", "banks", "bird", "fox", "wolf", "frost", "day", "key",
    "law", "lord", "sharp", "strong", "swift", "wise", "house", "field", "ford", "street",
    "park", "lake", "bush", "glass", "gold", "silver", "steel", "cook", "miller", "carpenter",
    "turner", "rider", "singer", "pope", "knight", "power", "best", "good", "hard", "free",
    "hand", "head", "heart", "sands", "waters", "fields", "cross", "church", "more", "rust",
    "service", "test", "read", "start", "close", "old",
];

/// Words for a group of people that introduce a list of their names (`founders:`).
const GROUP_WORDS: &[&str] = &[
    "founders", "co-founders", "cofounders", "authors", "members", "attendees",
    "participants", "speakers", "owners", "reviewers", "approvers", "assignees", "partners",
    "witnesses", "signatories",
];
static WORD_SURNAMES_SET: WordSet = WordSet::new(WORD_SURNAMES);

/// `person-name-list`'s validator: the words say people (a plural verb after them,
/// or a word for a group before the colon), and every name is one the lists know and
/// no ordinary word, place or firm; a Han name starts with a family name.
fn listed_names(c: &Candidate<'_>) -> bool {
    let value = c.value();
    let after = c.after(16);
    let verb = [
        " were", " are", " have", " had", " met", " founded", " started", " wrote", " said",
        " agreed", " built", " created", " designed", " signed", " joined", " left",
    ]
    .iter()
    .any(|v| {
        after.starts_with(v)
            && !after[v.len()..].starts_with(|ch: char| ch.is_alphanumeric())
    });
    let group = c
        .before(32)
        .trim_end_matches([' ', '\t'])
        .strip_suffix(':')
        .is_some_and(|b| {
            let word = b.rsplit(|ch: char| !(ch.is_ascii_alphabetic() || ch == '-')).next().unwrap_or("");
            GROUP_WORDS.iter().any(|g| g.eq_ignore_ascii_case(word))
        });
    if !(verb || group) {
        return false;
    }
    // No word of the list may make it a firm's name (`Smith and Sons`).
    let names: Vec<&str> = value
        .split([',', '&'])
        .flat_map(|p| p.split(" and "))
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .collect();
    names.len() >= 2
        && names.iter().all(|&w| {
            if w.chars().next().is_some_and(han) {
                let chars: Vec<char> = w.chars().collect();
                return chars.iter().all(|&ch| han(ch)) && cjk_surname(&chars);
            }
            let folded = fold(w);
            (is_surname(w) || is_given(w))
                && !COMMON_WORD_NAMES_SET.contains(&folded)
                && !WORD_SURNAMES_SET.contains(&folded)
                && !WORD_NAMES_SET.contains(&folded)
                && !ORG_WORDS_SET.contains(&folded)
                && !PLACE_NAMES_SET.contains(&folded)
                && !DATE_WORDS_SET.contains(&folded)
                && !is_not_name(w)
        })
}

/// `person-name-object`'s trigger: the verbs (with what follows them) after which a
/// person's name stands, each with the space the pattern takes after it.
const OBJECT_TRIGGERS: &[&str] = &[
    "told ", "asked ", "given ", "gave ", "thanked ", "named him ", "named her ", "named them ",
    "shouted at ", "talked to ", "spoke to ", "spoke with ", "emailed ", "texted ", "messaged ",
    "introduced ",
];

/// A capital (or a character outside ASCII, which may be one) right after the literal.
fn capital_after(text: &[u8], _start: usize, end: usize) -> bool {
    text.get(end).is_some_and(|&b| b.is_ascii_uppercase() || b >= 0x80)
}

/// `person-name-object`'s validator: `lone_given_name`, whatever stands before the verb.
fn given_name_object(c: &Candidate<'_>) -> bool {
    lone_given_name(c.value())
}

/// The `person-name-given` rule's validator: a given name the lists know (and no
/// common word), or one to three Han characters; no capitalised word, article or
/// preposition right before it.
pub fn given_name_alone(c: &Candidate<'_>) -> bool {
    let v = c.value();
    let before = c.before(32);
    let line = before.rsplit('\n').next().unwrap_or("");
    let prev = line
        .trim_end_matches([' ', '\t'])
        .rsplit([' ', '\t'])
        .next()
        .unwrap_or("");
    // After punctuation (`Hello. Sheila is`, `…，Sheila is`) a clause starts afresh.
    let prev = if prev.chars().next_back().is_some_and(char::is_alphanumeric) {
        prev
    } else {
        ""
    };
    let prev_folded = fold(prev);
    if prev.chars().next().is_some_and(char::is_uppercase)
        || NOT_BEFORE_GIVEN_SET.contains(&prev_folded)
        || PARTICLES.contains(&prev_folded.as_str())
        || street_types().contains(prev_folded.as_str())
        || FRENCH_TYPES.contains(&prev_folded.as_str())
    {
        return false;
    }
    lone_given_name(v)
}

/// A given name standing alone: one the lists know that is no common word, place or
/// firm, or one to three Han characters that name no place or firm (`龙市`, `…公司`).
fn lone_given_name(v: &str) -> bool {
    if v.chars().next().is_some_and(han) {
        let place = v.ends_with([
            '市', '省', '县', '区', '镇', '村', '州', '町', '都', '府', '県', '司',
        ]);
        return v.chars().count() <= 3 && v.chars().all(han) && !place;
    }
    let folded = fold(v);
    is_given(v)
        && !is_not_name(v)
        && !ORG_WORDS_SET.contains(&folded)
        && !PLACE_NAMES_SET.contains(&folded)
        && !WORD_NAMES_SET.contains(&folded)
}

/// A chat transcript's speaker: a capitalised word (or Han characters) at the start of
/// a line (or after a written-out `\n`), then `:`.
fn speaker_label(s: &Shape<'_>) -> bool {
    let b = s.text.as_bytes();
    let label_at = |mut i: usize| {
        while i > 0 && matches!(b[i - 1], b'|' | b'>') && matches!(b.get(i), Some(b' ' | b'\t')) {
            i += 1;
            while matches!(b.get(i), Some(b' ' | b'\t')) {
                i += 1;
            }
        }
        let rest = &b[i.min(b.len())..];
        // Everything the pattern's name may hold: letters, `'` and `-` (`D'angelo`,
        // `Anne-marie`; `’` and marks are non-ASCII), and a space between two Han
        // names (`田中 太郎`).
        let word = (0..rest.len())
            .take_while(|&j| match rest[j] {
                c if c.is_ascii_alphabetic() || c >= 0x80 => true,
                b'\'' | b'-' => j > 0,
                b' ' => j > 0 && rest[j - 1] >= 0x80 && rest.get(j + 1).is_some_and(|&n| n >= 0x80),
                _ => false,
            })
            .count();
        // The pattern's name is a capital and then lower-case letters (or Han
        // characters) up to the `:`: a capital after the first letter (`KeyError:` of
        // a Python traceback) rules it out.
        word >= 2
            && rest.get(word) == Some(&b':')
            && (rest[0].is_ascii_uppercase() || rest[0] >= 0xC3)
            && !rest[1..word].iter().any(u8::is_ascii_uppercase)
    };
    // Most lines have no break: their start is the only place a label can be.
    if !s.breaks() {
        return label_at(0);
    }
    // A written-out `\n` found by its backslash: a `memmem` finder would cost more to
    // build than this line takes to scan.
    let starts = std::iter::once(0)
        .chain(memchr::memchr3_iter(b'\n', b'|', b'>', b).map(|i| i + 1))
        .chain(
            memchr::memchr_iter(b'\\', b)
                .filter(|&i| b.get(i + 1) == Some(&b'n'))
                .map(|i| i + 2),
        );
    starts.into_iter().any(label_at)
}

/// `person-name-han`'s shape: the text has characters outside ASCII (a Han name's
/// bytes are).
fn han_shape(s: &Shape<'_>) -> bool {
    s.non_ascii()
}

/// Common words of two Han characters that start with a character the family-name
/// list holds, as log and UI text writes them alone (`result 成功`), and countries'
/// names of two or three.
const HAN_WORDS: &[&str] = &[
    "成功", "文件", "方法", "时间", "安全", "关闭", "金额", "高级", "明细", "管理", "应用",
    "文本", "万元", "常规", "江苏", "上海", "北京", "广东", "黄金", "白色", "黄色", "蓝色",
    "毛利", "时区", "包裹", "向导", "关于", "司机", "高速", "安装", "方式", "明天", "文档",
    "石油", "余额", "程序", "计划", "任务", "周期", "于是", "和平", "全部", "全局", "应答",
    "单位", "单据", "项目", "连接", "路径", "时长", "康复", "宁波", "苏州", "温州", "常州",
    "金融", "钱包", "邮件", "费用", "车辆", "景点", "宫殿", "米饭", "东京", "大阪",
    // Countries (`国` last is no place mark: `王建国` is a name).
    "韩国", "中国", "美国", "英国", "法国", "德国", "泰国", "俄国", "古巴", "马里", "苏丹",
    "秘鲁", "印度", "越南", "朝鲜", "蒙古", "文莱", "老挝", "缅甸", "丹麦", "瑞典", "瑞士",
    "希腊", "挪威", "约旦", "伊朗", "也门", "阿曼", "黎巴嫩", "伊拉克", "以色列", "新加坡",
    "菲律宾", "柬埔寨", "尼泊尔", "马耳他", "冈比亚", "加纳", "加蓬", "日本",
];
static HAN_WORDS_SET: WordSet = WordSet::new(HAN_WORDS);

/// `person-name-han`'s validator: a listed family name first, not a common word, and
/// a word of Latin script right beside the name (the word before it, past one space,
/// or the word after it), so that a name among Chinese or Japanese text is left to the
/// rules that read its markers (`姓名：`).
fn han_name_inline(c: &Candidate<'_>) -> bool {
    let value = c.value();
    // (The ideographic space between family and given name is whitespace too.)
    let chars: Vec<char> = value.chars().filter(|ch| !ch.is_whitespace()).collect();
    if chars.len() < 2 || !chars.first().is_some_and(|&ch| han(ch)) || !cjk_surname(&chars) {
        return false;
    }
    // A place: a word for an administrative area, an island, a road last (`江東区`,
    // `马鞍山县`), a country's name, or a preposition of place before (`I live in
    // 莫桑比克`).
    let place_last = chars
        .last()
        .is_some_and(|ch| "市区县省州镇乡村路街道町都府郡岛山湖港".contains(*ch));
    if HAN_WORDS_SET.contains(value) || place_last {
        return false;
    }
    let latin_word = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphabetic());
    let before = c.before(32);
    let word_before = before
        .strip_suffix(' ')
        .map(|b| b.rsplit([' ', '\t', '(', '\n']).next().unwrap_or(""));
    let after = c.after(32);
    let word_after = after.strip_prefix(' ').map(|a| {
        a.split(|ch: char| !ch.is_ascii_alphabetic()).next().unwrap_or("")
    });
    // (`to` and `visit` take a name too, `change it to 韩瑞`: only a run of four
    // characters or more, as many countries' names are written, is a place after them.)
    let one_of = |w: &str, words: &[&str]| words.iter().any(|p| p.eq_ignore_ascii_case(w));
    let place_before = word_before.is_some_and(|w| {
        one_of(w, &["in", "from", "at", "near"])
            || chars.len() >= 4 && one_of(w, &["to", "visit", "visited"])
    });
    if place_before {
        return false;
    }
    // A Latin word before it, or (at a line's start, after a tab or a bracket, where
    // no word stands before it) a Latin word after it.
    word_before.is_some_and(latin_word) || word_before.is_none() && word_after.is_some_and(latin_word)
}

/// The bare-name rule's shape: two capitalised words in a row (a capital after a
/// space, letters, one space, a capital and a lower-case letter), or any text
/// outside ASCII, where the shape's ASCII classes cannot tell a capitalised word
/// (`Júlia`, `Émilie`).
fn bare_name_shape(s: &Shape<'_>) -> bool {
    s.title_bigram || s.non_ascii()
}

/// The particles the bare-name rule takes between two names, each between the spaces
/// the pattern wants around it (its `near` test looks at the words on either side).
const PARTICLE_TRIGGERS: &[&str] = &[
    " van ", " von ", " der ", " den ", " de ", " da ", " del ", " della ", " di ", " du ",
    " la ", " le ", " dos ", " das ", " do ", " zu ", " ter ",
];

/// `person-name-bare`'s test for a particle in ASCII text (any other text fires the
/// rule by its shape): a capitalised word or another particle on each side (`Ian das
/// Neves`, `Juan de la Cruz`).
fn particle_between_names(text: &[u8], start: usize, end: usize) -> bool {
    // `start` is the space before the particle, `end` is past the space after it.
    let mut from = start;
    while from > 0 && text[from - 1].is_ascii_alphabetic() {
        from -= 1;
    }
    let before = &text[from..start];
    let mut to = end;
    while to < text.len() && text[to].is_ascii_alphabetic() {
        to += 1;
    }
    let after = &text[end..to];
    let side = |w: &[u8]| {
        w.first().is_some_and(u8::is_ascii_uppercase)
            || std::str::from_utf8(w).is_ok_and(is_particle)
    };
    side(before) && side(after)
}

// ---- street addresses -----------------------------------------------------------

/// The number-first address rule's validator: a street type among the words after
/// the number (the last word of the street name, or `rue`/`avenue` first), and no
/// date or time in front of it.
pub fn street_address(c: &Candidate<'_>) -> bool {
    let value = c.value();
    let before = c.before(16);
    if before.ends_with([':', '.', '/', '-', '$', '#']) || before.ends_with("v") {
        return false;
    }
    // The trigger's own test, on the candidate: the rule is skipped on lines the
    // trigger rejects, so a value it would reject must not pass here either (or the
    // prefilter would change what is found). It also keeps `0 PL21 ...` (an IBAN)
    // from reading as a house number and the street type `Pl`.
    let b = value.as_bytes();
    // The number and the street are split by a space, or by a line break when the
    // number ends one line and the street starts the next (`979\nBaria Path`).
    let Some(sep) = b.iter().position(|&ch| ch == b' ' || ch == b'\n') else {
        return false;
    };
    if !house_number_at(b, sep) {
        return false;
    }
    // Over the break, the number must start its line, follow another number (`H.No.
    // 20 676`, a unit's), or come after words that say an address follows: `Step 4`,
    // `line 12`, `count=12` end many lines before a capitalised one.
    let broken = b[sep] == b'\n';
    if broken && !number_may_end_a_line(c.before(40)) {
        return false;
    }
    // (A written-out line break, `Street\\nSpringfield`, splits words too.)
    let words: Vec<&str> = value
        .split("\\n")
        .flat_map(|line| line.split(|ch: char| ch.is_whitespace() || ch == ','))
        .filter(|w| !w.is_empty())
        .collect();
    // The first word is the number; then the street's words.
    let street: Vec<String> = words
        .iter()
        .skip(1)
        .map(|w| fold(w.trim_end_matches('.')))
        .collect();
    let types = street_types();
    // A Brazilian type comes first and wants the name after it (`30 Campo de
    // Fonseca`; `3 Campo errors` is none).
    let typed = street
        .iter()
        .take(7)
        .enumerate()
        .any(|(i, w)| types.contains(w.as_str()) && (i + 1 < street.len() || !TYPE_FIRST.contains(&w.as_str())))
        || street.len() >= 2 && street[1..].iter().take(6).any(|w| named_type(w))
        || named_type_after_name(words.get(1..).unwrap_or(&[]));
    // A number and an ordinary word such as `200 OK` or `3 Retries` is not enough:
    // a street type must be there, and the words must be a street's (capitalised,
    // or the lower-case types and particles of French and Spanish addresses).
    let tail = postcode_tail(value);
    let context = address_context(c.before(40));
    // Over a line break the street must show its type (or a postcode after it): a
    // line that ends in a number and a next line that starts with capitalised words
    // are otherwise common (`Chapter 12` then `Next Steps`).
    (typed || tail || context && street.len() >= 2 && !broken)
        && street.first().is_some_and(|w| !is_log_word(w))
        && street.get(1).is_none_or(|w| !is_log_word(w) || named_for_a_person(&words[1]))
}

/// What stands before a house number that ends its line: nothing on the line
/// (a line start, an escaped one, a quote mark), another number, or words that say
/// an address follows.
fn number_may_end_a_line(before: &str) -> bool {
    let line = before
        .rsplit(['\n'])
        .next()
        .unwrap_or("")
        .rsplit("\\n")
        .next()
        .unwrap_or("")
        .trim_start_matches([' ', '\t', '>', '|']);
    line.is_empty()
        || before.ends_with(' ') && line.trim_end().ends_with(|ch: char| ch.is_ascii_digit())
        || address_context(before)
}

/// A street named for a person (`12 Mccarthy Ways`, `442 Franco View`) may end in a
/// type that is also a word of log text; `120 Dropped Lines` or `3 Slow Points` may
/// not, so the name before it must be one the name lists know.
fn named_for_a_person(word: &str) -> bool {
    word.chars().next().is_some_and(char::is_uppercase) && (is_given(word) || is_surname(word))
}

/// The Brazilian kinds of street that are written before the street's name (folded).
const TYPE_FIRST: &[&str] = &[
    "aeroporto", "alameda", "avenida", "campo", "chacara", "colonia", "condominio", "conjunto",
    "esplanada", "estrada", "favela", "fazenda", "jardim", "ladeira", "largo", "loteamento",
    "nucleo", "passarela", "patio", "praca", "quadra", "recanto", "residencial", "rodovia", "rua",
    "sitio", "travessa", "trecho", "vereda", "viaduto", "viela", "vila",
];

/// A city and a postcode (or a state) after the street, as the rule's last part
/// takes them: `, Lake Katieview, TR3W 5AA`, `, NM 72965`, `, ACT, 2983`.
fn postcode_tail(value: &str) -> bool {
    let last = value.rsplit([',', '\n']).next().unwrap_or("").trim();
    let digits = last.bytes().filter(u8::is_ascii_digit).count();
    value.contains(',')
        && (4..=10).contains(&digits)
        && last.len() <= 14
        && last
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b' ' || b == b'-')
}

/// Words that say an address follows.
fn address_context(before: &str) -> bool {
    ends_with_address_words(before, &["at", "following?", "following"])
}

/// `address_context` without the weak words (`at`, `following`): what a street with
/// no house number (`ship to Calle Mayor`) or a bare `Box 12` needs before it.
fn address_context_strict(before: &str) -> bool {
    ends_with_address_words(before, &[])
}

/// Whether `before` ends (past spaces, a colon or a quote) in one of `ADDRESS_WORDS`
/// or of `weak`, in any case.
fn ends_with_address_words(before: &str, weak: &[&str]) -> bool {
    let lower = before.to_lowercase();
    let lower = lower.trim_end_matches([' ', ':', '"', '\'']);
    ADDRESS_WORDS.iter().chain(weak).any(|w| lower.ends_with(w))
}

const ADDRESS_WORDS: &[&str] = &[
    "address",
    "addr",
    "live in",
    "lived in",
    "living at",
    "lives at",
    "live at",
    "sent to",
    "send to",
    "return to",
    "returned to",
    "mail to",
    "mailed to",
    "post to",
    "posted to",
    "forward to",
    "forwarded to",
    "bill to",
    "ship to",
    "shipped to",
    "deliver to",
    "delivered to",
    "located at",
    "moved to",
    "residing at",
    "resides at",
    "visit us at",
    "corner of",
    "anschrift",
    "adresse",
    "dirección",
    "endereço",
    "地址",
];

/// Words that follow a number in log text and happen to be street types (`200 OK`
/// is not one, but `5 Way merge`, `3 Point release`, `2 Park` might be).
/// Street types of the Australian and British styles (Australia Post's list) that are
/// also words of log text (`5 Rides`, `2 Ground`): a type only after a name
/// (`Wattle Parade`, `Eric Ground`), never alone after a number. `w` is folded.
fn named_type(w: &str) -> bool {
    matches!(
        w,
        "artery"
            | "brae"
            | "circuit"
            | "concourse"
            | "footway"
            | "grange"
            | "ground"
            | "interchange"
            | "parade"
            | "promenade"
            | "ride"
            | "siding"
            | "strand"
            | "wade"
    )
}

/// The rest of Australia Post's street types (AS 4590) that are not on the list
/// because they are ordinary words (`Steps`, `Cross`, `Lower`, `Glade`): a type only
/// right after a name the name lists know (`Madeline Steps`, `Theodore Cross`),
/// never after a number or an ordinary word. The ones that are words of log and
/// program text even after a surname that is also a word (`Long Range`, `Page
/// End`, `Short Break`: `Access`, `Block`, `Break`, `Edge`, `End`, `Front`, `Gap`,
/// `Line`, `Link`, `Part`, `Range`, `Round`, `Top`, `Turn`) are left out. `w` is
/// folded.
fn au_named_type(w: &str) -> bool {
    matches!(
        w,
        "alleyway" | "amble" | "anchorage" | "basin" | "brace" | "broadway" | "brow"
            | "byway" | "centreway" | "circlet" | "circus" | "colonnade" | "copse"
            | "courtyard" | "cross" | "crossway" | "cruiseway" | "cutting" | "dell"
            | "deviation" | "dip" | "distributor" | "driveway" | "elbow" | "entrance"
            | "fairway" | "firetrail" | "follow" | "foreshore" | "formation" | "frontage"
            | "gates" | "glade" | "gully"
            | "highroad" | "intersection" | "laneway" | "lees" | "little" | "lookout"
            | "lower" | "meander" | "mew" | "nook" | "outlook" | "parklands" | "pathway"
            | "plateau" | "pocket" | "quad" | "quadrangle" | "quadrant" | "quay" | "quays"
            | "ramble" | "reach" | "reserve" | "retreat" | "ridgeway" | "riverway"
            | "riviera" | "roadside" | "roadway" | "ronde" | "rosebowl" | "slope"
            | "sound" | "stairs" | "steps" | "strip" | "tarn"
            | "thoroughfare" | "tollway" | "towers" | "triangle" | "trunkway" | "upper"
            | "villas" | "walkway"
    )
}

/// Among the street's words (unfolded, the number left off), one of `au_named_type`
/// right after a capitalised name the lists know.
fn named_type_after_name(words: &[&str]) -> bool {
    words.windows(2).take(6).any(|w| {
        named_for_a_person(w[0]) && with_folded(w[1].trim_end_matches('.'), au_named_type)
    })
}

fn is_log_word(w: &str) -> bool {
    matches!(
        w,
        "ms" | "s"
            | "sec"
            | "min"
            | "bytes"
            | "kb"
            | "mb"
            | "gb"
            | "records"
            | "rows"
            | "times"
            | "retries"
            | "errors"
            | "items"
            | "way"
            | "point"
            | "points"
            | "step"
            | "steps"
            | "pass"
            | "run"
            | "loop"
            | "ways"
            | "lines"
            | "line"
            | "view"
            | "views"
    )
}

/// The street-name-first rule's validator (`Hauptstraße 5`, `Calle Mayor 12`): no
/// version or path before it.
pub fn street_address_named(c: &Candidate<'_>) -> bool {
    let before = c.before(4);
    if before.ends_with(['/', '.', '-', '_']) {
        return false;
    }
    // Without a house number (`ship to Calle Mayor`), words that say an address
    // follows must stand before it, or a Brazilian postcode, city and state after it
    // (`Via de Machado, Vila Formosa, 35267-804 Cardoso / MT`): `Via Roma` alone
    // may be a place, a hotel or a film.
    c.value().bytes().any(|b| b.is_ascii_digit()) || address_context_strict(c.before(40))
}

/// A street's name after a street type that comes first: a particle maybe, then a
/// capitalised word; one to four of them.
macro_rules! type_first_street {
    () => {
        r"(?:Calle|Avenida|Via|Viale|Piazza|Corso|Rua|Praça|Travessa|Largo|Paseo|Plaza|Aeroporto|Alameda|Campo|Chácara|Colônia|Condomínio|Conjunto|Distrito|Esplanada|Estação|Estrada|Favela|Fazenda|Feira|Jardim|Ladeira|Lagoa|Loteamento|Morro|Núcleo|Parque|Passarela|Pátio|Quadra|Recanto|Residencial|Rodovia|Setor|Sítio|Trecho|Trevo|Vereda|Viaduto|Viela|Vila)(?:[ \t]+(?:de|del|da|do|dos|das|della|di)?[ \t]*\p{Lu}[\p{L}\p{M}'’.-]*){1,4}"
    };
}

/// The unit words `street-address-unit` starts with.
const UNIT_FIRST: &[&str] = &[
    "flat",
    "studio",
    "unit",
    "level",
    "suite",
    "apartment",
    "apt",
    "h.no",
    "h. no",
];

/// `street-address-unit`'s trigger: a unit word that starts a word (or an escaped
/// line), then a number after spaces or a dot.
fn unit_then_number(text: &[u8], start: usize, end: usize) -> bool {
    let starts =
        start == 0 || !text[start - 1].is_ascii_alphanumeric() || escaped_break_before(text, start);
    let mut i = end;
    while matches!(text.get(i), Some(b' ' | b'\t' | b'.')) {
        i += 1;
    }
    starts && text.get(i).is_some_and(u8::is_ascii_digit)
}

/// `street-address-unit`'s validator: after the unit and the numbers, a name and a
/// street type last (`Suzanne Roads`, `Ravel Marg`), no word of log text.
pub fn street_address_unit(c: &Candidate<'_>) -> bool {
    if c.before(4).ends_with(['/', '.', '-', '_', '$', '#']) {
        return false;
    }
    let words: Vec<String> = c
        .value()
        .split(|ch: char| ch.is_whitespace() || ch == ',')
        .filter(|w| !w.is_empty() && !w.starts_with(|ch: char| ch.is_ascii_digit()))
        .skip(1)
        .map(|w| fold(w.trim_end_matches('.')))
        .filter(|w| w != "no")
        .collect();
    let Some(last) = words.last() else {
        return false;
    };
    // `H.No.` (house number) says an address by itself: its street need not end in
    // a type (`H.No. 420, Kannan Zila`).
    let house_no = c.value().starts_with("H.");
    words.len() >= 2
        && (street_types().contains(last.as_str())
            || named_type(last)
            || house_no
            || au_named_after_name(c.value()))
        && !matches!(
            last.as_str(),
            "center" | "centre" | "point" | "station" | "gateway"
        )
        && !words.iter().any(|w| is_log_word(w) || unit_word(w))
}

/// `named_type_after_name` over a unit rule's value: its last two words.
fn au_named_after_name(value: &str) -> bool {
    let words: Vec<&str> = value.split_whitespace().collect();
    words.len() >= 2 && named_type_after_name(&words[words.len() - 2..])
}

/// `street-address-po-box`'s trigger: `box`, then a number after spaces or a `#`.
fn box_then_number(text: &[u8], _start: usize, end: usize) -> bool {
    let mut i = end;
    while matches!(text.get(i), Some(b' ' | b'\t' | b'#')) {
        i += 1;
    }
    text.get(i).is_some_and(u8::is_ascii_digit)
}

/// `street-address-po-box`'s validator: the post office prefix, or words before a
/// bare `Box` that say an address follows; no path or version before it.
fn po_box(c: &Candidate<'_>) -> bool {
    if c.before(4).ends_with(['/', '.', '-', '_', '$', '#']) {
        return false;
    }
    let bare = c.value().starts_with(['B', 'b']);
    !bare || address_context_strict(c.before(40))
}

/// A unit word standing where the street's words should (`Suite 4 Integration
/// Tests` reads `tests` as no street, but `Unit 3 Suite 5` is no street either).
fn unit_word(w: &str) -> bool {
    matches!(
        w,
        "flat" | "studio" | "unit" | "level" | "suite" | "apt" | "apartment"
    )
}

/// The CJK address rule's validator: a province, city, district or county before the
/// street, or a house number after it.
pub fn street_address_cjk(c: &Candidate<'_>) -> bool {
    let v = c.value();
    let admin = ["省", "市", "区", "县", "都", "道", "府", "県", "町", "村"]
        .iter()
        .any(|m| v.contains(m));
    let number = v.contains('号') || v.contains("丁目") || v.contains('座') || v.contains('番');
    number && (admin || v.chars().filter(|c| han(*c)).count() >= 4)
}

/// The number-first rule's trigger: a house number (one to six digits starting a
/// word), maybe a comma, a space, then a capitalised word (`Main`, not `INFO`) or a
/// French street type (`rue`, `avenue`, ...).
fn number_then_word(s: &Shape<'_>) -> bool {
    let b = s.text.as_bytes();
    let spaced = match s.number_spaces() {
        Some(spaces) => spaces.iter().any(|&sp| house_number_at(b, sp as usize)),
        None => memchr::memchr_iter(b' ', b).any(|sp| house_number_at(b, sp)),
    };
    // Or the number ends a line and the street starts the next (`979\nBaria Path`):
    // the shape keeps spaces only, so the (rare) line breaks are looked at here, in a
    // text that has some.
    spaced || s.breaks() && memchr::memchr_iter(b'\n', b).any(|nl| house_number_at(b, nl))
}

/// The candidate starts right after a hyphen glued to a letter or digit. With a title
/// first, that is the end of a token (`…EnQi-Ms 中文` in an API key is no `Ms` and a
/// name; found by the property tests); without one it may be a name's second half.
fn glued_by_hyphen(c: &Candidate<'_>) -> bool {
    let b = c.haystack.as_bytes();
    c.start >= 2 && b[c.start - 1] == b'-' && b[c.start - 2].is_ascii_alphanumeric()
}

/// `b[..at]` ends with an escaped line break or tab (`\n`, `\r`, `\t`): a line
/// of a multi-line value that was put into a JSON string or a log field, whose next
/// line starts at `at` although a letter stands right before it.
pub(crate) fn escaped_break_before(b: &[u8], at: usize) -> bool {
    at >= 2 && b[at - 2] == b'\\' && matches!(b[at - 1], b'n' | b'r' | b't')
}

/// The space at `sp` follows a house number and comes before a street's name.
fn house_number_at(b: &[u8], sp: usize) -> bool {
    {
        // After the space: a capital and a lower-case letter (or a dot, or the lead
        // byte of an accented letter), or a French street type. Tested first: most
        // spaces a shape keeps come before a number, a sign or a lower-case word
        // (`17 10:42`, `:49 +0000`, `1234 for`), turned away before the walk back over
        // the number.
        let rest = &b[sp + 1..];
        let capital = rest.first().is_some_and(u8::is_ascii_uppercase)
            && rest
                .get(1)
                .is_some_and(|c| c.is_ascii_lowercase() || *c == b'.' || *c >= 0x80);
        let accented = rest.first().is_some_and(|c| *c >= 0xC3);
        let french_first = rest.first().is_some_and(|c| FRENCH_TYPE_FIRST[usize::from(*c)]);
        if !(capital || accented || french_first) {
            return false;
        }
        // Before the space: maybe a comma, maybe a letter or a range, then one to six
        // digits that start a word.
        let mut i = sp;
        if i > 0 && b[i - 1] == b',' {
            i -= 1;
        }
        if i > 0 && b[i - 1].is_ascii_alphabetic() {
            i -= 1;
        }
        if i == 0 || !b[i - 1].is_ascii_digit() {
            return false;
        }
        let digits_end = i;
        while i > 0 && b[i - 1].is_ascii_digit() {
            i -= 1;
        }
        if i > 0 && matches!(b[i - 1], b'-' | b'/') && digits_end > i {
            let mut j = i - 1;
            while j > 0 && b[j - 1].is_ascii_digit() {
                j -= 1;
            }
            if j < i - 1 {
                i = j;
            }
        }
        let n = digits_end - i;
        let number = (1..=12).contains(&n)
            && (i == 0
                || escaped_break_before(b, i)
                || !(b[i - 1].is_ascii_alphanumeric()
                    || matches!(b[i - 1], b'.' | b':' | b'-' | b'/')));
        if !number {
            return false;
        }
        capital
            || accented
            || french_first
                && FRENCH_TYPES.iter().any(|w| {
                    rest.len() > w.len()
                        && rest[..w.len()].eq_ignore_ascii_case(w.as_bytes())
                        && rest[w.len()] == b' '
                })
    }
}

/// The lower-case letters that start a word of `FRENCH_TYPES`: the list is read only
/// after one (most numbers are followed by a word that starts none: `port=27017
/// max_conns`, `#4736 dispatched`).
static FRENCH_TYPE_FIRST: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < FRENCH_TYPES.len() {
        t[FRENCH_TYPES[i].as_bytes()[0].to_ascii_lowercase() as usize] = true;
        i += 1;
    }
    t
};

const FRENCH_TYPES: &[&str] = &[
    "rue",
    "avenue",
    "boulevard",
    "bd",
    "place",
    "chemin",
    "impasse",
    "allée",
    "quai",
    "route",
];

/// `straße 5`, `weg 12`: a street type then a house number; `Calle Mayor`, `Via
/// Roma`: a street type (ending in a space) then a capitalised word.
fn type_then_number(text: &[u8], start: usize, end: usize) -> bool {
    if text[end - 1] == b' ' {
        // A particle may stand first (`Avenida de Araújo`, `Via della Spiga`).
        let rest = &text[end..];
        let particle = ["de ", "del ", "da ", "do ", "dos ", "das ", "della ", "di "]
            .iter()
            .find(|p| rest.starts_with(p.as_bytes()))
            .map_or(0, |p| p.len());
        return text
            .get(end + particle)
            .is_some_and(|b| b.is_ascii_uppercase() || *b >= 0xC3)
            && text[start].is_ascii_uppercase();
    }
    let mut i = end;
    while matches!(text.get(i), Some(b' ' | b'\t' | b'.' | b',')) {
        i += 1;
    }
    i > end && text.get(i).is_some_and(u8::is_ascii_digit)
}

/// A title before a name (`Mr.`, `Frau`, `Señora`), ASCII case-insensitively.
macro_rules! title {
    () => {
        r"(?i:mr|mrs|ms|miss|mx|dr|dra|prof|sir|mme|mlle|herr|frau|señor|señora|sr|sra|srta|dona|monsieur|madame|ing|dipl|univ|mag|lic|dott)\.?(?:-?(?i:ing|prof|dr)\.?)?"
    };
}

/// A name in Latin script: an initial maybe, a capitalised word, and up to three more
/// (capitalised words, initials, short all-capital words), particles between them.
/// Each Unicode class stands once per word: a class written out many times makes a
/// regex that takes many milliseconds to build, once per component instance.
macro_rules! latin_name {
    () => {
        r"(?:\p{Lu}\.[ \t]+)?\p{Lu}[\p{Ll}\p{M}'’-]+(?:[ \t]+(?:(?:van|von|der|den|de|da|del|della|di|du|la|le|bin|al|dos|das|do|zu|ter)[ \t]+){0,2}(?:[A-Z]{1,4}\.(?:[A-Z][a-z]{0,2}\.)*|\p{Lu}[\p{L}\p{M}'’-]*)){0,4}"
    };
}

/// A name in a list of names (`person-name-list`): a capitalised word (a hyphenated
/// part maybe), or one to three Han characters.
macro_rules! list_name {
    () => {
        concat!("(?:", bare_word!(), r"|\p{Han}{1,3})")
    };
}

/// A name in Han characters: two to four, or family name, space, given name.
macro_rules! han_name {
    () => {
        r"\p{Han}{2,4}(?:[ \x{3000}]\p{Han}{1,3})?"
    };
}

/// A word of a name with no context around it: a capital, then lower-case letters of
/// any script (an apostrophe other than ASCII's inside: `D’Amico`), maybe a hyphen and
/// another such part. ASCII's `'` is left out so that a name in ASCII text is always
/// one the shape's `title_bigram` sees.
macro_rules! bare_word {
    () => {
        r"\p{Lu}[\p{Ll}\p{M}’]+(?:-\p{Lu}[\p{Ll}\p{M}’]+)?"
    };
}

pub const RULES: &[Rule] = &[
    Rule {
        name: "person-name",
        category: Person,
        trigger: Trigger::literals_near(CONTEXT_WORDS, context_word_near),
        // A name after a title, a greeting, an introduction or a word that puts a
        // person next. The validator weighs the context against the name lists.
        pattern: concat!(
            r"(?:(?i:\b(?:madam)\.?)",
            r"|(?i:\b(?:hi|hello|hey|dear|thanks|thank you|regards|sincerely|cheers|best|hallo|liebe|lieber|bonjour|cher|chère|hola|olá|ciao|good morning|good afternoon|good evening|welcome|greetings)),?(?:[ \t]+(?i:i'm|i’m|i am|this is|my name is))?",
            r"|(?i:\b(?:my name is|(?:last|first|given|family|middle|maiden|full|sur|nick) ?name\?|i am|i'm|call me|named|signed by|signed|this is|name is|ich heiße|je m'appelle|me llamo|meu nome é|mein name ist|contact person|attn\.?|attention|guardian|cardholder|card holder|account holder|speak to|speak with|ask for|assigned to|escalated to|reported by|written by|approved by|directed by|produced by|founded by|starring|according to|says|said|customer|client|patient|employee|applicant|beneficiary|recipient|my (?:kid|son|daughter|wife|husband|friend|brother|sister|mother|father|mom|dad|boss|colleague|child|partner|grandfather|grandmother)|calls me|called)):?)",
            r"[ \t]+(?P<v>(?:",
            title!(),
            r"[ \t]+)?(?:",
            latin_name!(),
            r"|\p{Han}{1,4}(?:[ \x{3000}]\p{Han}{1,3})?",
            "))",
            // A title is a context of its own, and is masked with the name.
            r"|\b(?P<v2>",
            title!(),
            r"[ \t]+(?:",
            latin_name!(),
            "|",
            han_name!(),
            "))"
        ),
        validate: Some(person_name),
        examples: Examples {
            masks: &[
                "Hi «Sarah Connor», your order shipped",
                "ticket opened by «Mr. John Smith»",
                "Dear «Ms. Jane Lee», welcome",
                "My name is «Priya Raghunathan» and I need help",
                "Best, «Maria»",
                "a film directed by «Ana Lima» and starring «Tom Reed»",
                "\"It works,\" says «Grace Hopper».",
                "From the film, also featuring «Dipl.-Ing. Ekkehart Förster»",
                "«Mrs. Anne Morgan MBA.» will be talking",
                "Hi «Cosima», thanks for the update",
                "user: Hi, I'm «钱斌», my number is below",
                "Hello, this is «Jane Roe» from billing",
                "My name is «成»",
                "What's your last name? «Kowalczyk»",
                "first name? «Aynur»",
            ],
            keeps: &[
                "Hi team, the build is green",
                " AIza{B33}-Ms 中文 本ñ",
                "Dear Customer Service, my card is blocked",
                "Connection Refused while contacting Upstream Server",
                "Thanks again!",
                "Will Retry in 5 seconds",
                "the upstream says Service Unavailable",
                "according to RFC 7231",
                "Missing last name? See Docs",
                "what is the hostname? Unknown",
            ],
        },
    },
    Rule {
        name: "person-name-field",
        category: Person,
        trigger: Trigger::literals_near(FIELD_WORDS, field_word_near),
        // The value of a key that holds a person's name (in lower case too, when the
        // lists know the words).
        pattern: concat!(
            // (After a word boundary, or after an escaped line break: `…\nName: Ann`.)
            r"(?i:(?:\\[nrt]|\b)(?:[a-z0-9_]*(?:name|customer|holder|recipient|sender|beneficiary|patient|employee|applicant|person|guest|passenger|payee|payer|signer|attendee|student|teacher|doctor|user|contact|owner|author|assignee|reporter|requester|agent|buyer|seller|member|driver)|nom|prénom|prenom|vorname|nachname|nombre|apellido|nome|sobrenome))",
            r"\\?[\x22']?[ \t]*[:=][ \t]*\\?[\x22']?",
            r"(?P<v>(?:",
            title!(),
            r"[ \t]+)?(?:",
            latin_name!(),
            r"|\p{Ll}[\p{Ll}'’-]+(?:[ \t]+\p{Ll}[\p{Ll}'’-]+){1,2}|",
            han_name!(),
            "))"
        ),
        validate: Some(person_name),
        examples: Examples {
            masks: &[
                r#"{{"customer_name": "«Anna Müller»", "tier": "gold"}}"#,
                "assignee=«Tomás de la Cruz»",
                r#""customer": "«ann lee»""#,
                r"Date: 2020-01-02\nName: «Jane Doe»\nPhone: none",
            ],
            keeps: &[
                "user=bob session_count=3",
                "hostname=Web01 username=admin",
                r"Date: 2020-01-02\nStatus: Done\nQueue: Default",
                r#"{{"name": "Default Queue"}}"#,
            ],
        },
    },
    Rule {
        name: "person-name-header",
        category: Person,
        trigger: Trigger::literals(&["from:", "to:", "cc:", "reply-to:", "sender:"]),
        // The display name of a mail header (at the start of a line, or inside one
        // where a log flattened the headers).
        pattern: concat!(
            r"(?i:\b(?:from|to|cc|bcc|reply-to|sender):)[ \t]*\x22?",
            r"(?P<v>(?:",
            title!(),
            r"[ \t]+)?",
            latin_name!(),
            ")"
        ),
        validate: Some(person_name),
        examples: Examples {
            masks: &[
                "From: «Maria Garcia» <maria@example.com>",
                "To: «Chen Jing»\nSubject: x",
            ],
            keeps: &["To: All Staff", "From: Monitoring Bot <alerts@example.com>"],
        },
    },
    Rule {
        name: "person-name-mail",
        category: Person,
        trigger: Trigger::literals_near(&["@"], name_before_mail),
        // A name before an e-mail address in angle brackets or parentheses.
        pattern: concat!(
            r"(?P<v>(?:",
            title!(),
            r"[ \t]+)?",
            latin_name!(),
            // An address with a domain after the `@`: what is left of a bracket whose
            // address was masked away (`Ba"  (中@`) is none, and neither is a URL's
            // user and password (`(…，postgres://app:****6223@db.internal`, shorter
            // once masked) or punctuation around an `@` (`(!@，.：ü`): the local part
            // and the domain in the characters an address has (found by the property
            // tests: masking twice found a name the first pass had not).
            r")\x22?[ \t]*[<(][\p{L}\p{N}._%+'-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2}"
        ),
        validate: Some(person_name),
        examples: Examples {
            masks: &[
                "cc «Jane Doe» <jane@example.com>",
                "reply to «Olivia Wilde» (ow@example.org)",
            ],
            keeps: &[
                "Support Team <support@example.com>",
                "Build Bot <ci@example.com>",
                "client_secret='+^o2s8=En8!WC_6Vg' (!@ß.!本",
                "Aa\"  (!@，.：ü",
                "Ab (日A，!：!AAa!!，postgres://app:****6223@db.internal:5432/app",
            ],
        },
    },
    Rule {
        name: "person-name-cjk",
        category: Person,
        trigger: Trigger::literals(CJK_NAME_MARKERS),
        // Han characters after a marker (`姓名：`) or before an honorific (`様`).
        pattern: concat!(
            r"(?:姓名|名字|联系人|收件人|收货人|客户|用户|我叫|我是|氏名|名前|担当者?|宛先)[：: ]*(?P<v7>",
            han_name!(),
            ")",
            r"|(?P<v8>\p{Han}{1,4}[ \x{3000}]?\p{Han}{1,3})(?:様|さん|先生|女士|小姐)"
        ),
        validate: Some(person_name),
        examples: Examples {
            masks: &["姓名：«王伟»", "«田中 太郎»様", "联系人 «李娜»"],
            keeps: &["用户名无效", "客户端连接超时"],
        },
    },
    Rule {
        name: "person-name-speaker",
        category: Person,
        trigger: Trigger::shape(speaker_label),
        // A chat transcript's speaker at the start of a line (or after a written-out
        // `\n`).
        pattern: concat!(
            r"(?m:^|\\n|[|>][ \t]*)(?P<v>\p{Lu}[\p{Ll}\p{M}'’-]+|",
            han_name!(),
            "):"
        ),
        validate: Some(person_name),
        examples: Examples {
            masks: &["«Jennifer»: hi, can you help me with my order?"],
            keeps: &[
                "Error: connection refused",
                "Note: retry later",
                "Traceback: KeyError",
            ],
        },
    },
    Rule {
        name: "person-name-given",
        category: Person,
        trigger: Trigger::literals_near(GIVEN_TRIGGERS, given_near),
        // A given name alone: before a verb (`Kimberly is very reliable`), opening a line
        // before a comma and a request (`Tina, can I …`), or called out after a comma
        // (`Don't go to town, Peter!`). The lists must know the name.
        pattern: concat!(
            r"(?:^|[^\p{L}\p{M}'’-])(?P<v>\p{Lu}[\p{Ll}\p{M}'’-]+|\p{Han}{1,3}) (?:is|was|has|had|will|would|can|could|just|shouted|said|says|told|asked|lives|lived|works|worked|went|wrote|loves|likes|wants|needs|called|sent)\b",
            r"|(?:(?m:^)|\\n|[|>][ \t]*)(?P<v2>\p{Lu}[\p{Ll}\p{M}'’-]+|\p{Han}{1,3}), (?:can|could|would|will|please|I|we|you|do|did|are|have|thanks|thank)\b",
            r"|, (?P<v3>\p{Lu}[\p{Ll}\p{M}'’-]+|\p{Han}{1,3})[!?]"
        ),
        validate: Some(given_name_alone),
        examples: Examples {
            masks: &[
                "«Sheila» is a very sympathetic person.",
                "You can tell «Kyle» was a huge fan.",
                // At the start of a line (the template brings its line break).
                "\n«Tina», can I please speak to your boss?",
                "chat log | «Randall», could you call me back?",
                "Don't go to town, «Peter»!",
                "«艳» is from Beijing",
            ],
            keeps: &[
                "Grant is required for this role",
                "The Jordan was flooded",
                "India has a new rail line",
                "moved from Austin is what she said",
                "Error, retrying",
                "Service is degraded",
                "Bank Austin was closed",
                "Gill, Edwards and Bailey was founded in 1990",
                "rue Antoine is closed today",
                "Mendes do Amparo is a nice place to live",
            ],
        },
    },
    Rule {
        name: "person-name-answer",
        category: Person,
        trigger: Trigger::literals_near(&["name"], name_question_near),
        // The answer to a question that asks for a name, in a form or a chat (`What's
        // the name on the account? User: Dalaja Agate`, `May I have your name? 松本
        // あすか`): a speaker's label may stand between.
        pattern: concat!(
            r"(?i:\bname\b)[^?.!\n]{0,48}\?[ \t]*(?:\p{Lu}\p{Ll}{1,15}:[ \t]*)?(?P<v>(?:",
            title!(),
            r"[ \t]+)?(?:",
            latin_name!(),
            r"|\p{Han}{1,3}(?:[ \x{3000}][\p{Han}\p{Hiragana}\p{Katakana}ー]{1,4})?",
            "))"
        ),
        validate: Some(answered_name),
        examples: Examples {
            masks: &[
                "Bot: What's the name on the account? User: «Dalaja Agate»",
                "May I have your name? «松本 あすか»",
                "what name should I put on the card? «Priya Raghunathan»",
            ],
            keeps: &[
                "What's the name of the queue? Default",
                "name? Unknown",
                "Which name did you use? The one on file",
                "hostname? Web01",
            ],
        },
    },
    Rule {
        name: "person-name-list",
        category: Person,
        trigger: Trigger::literals_near(&[" and ", " & "], names_around_and),
        // Two to five names joined by `,` and `and` (`Watson and Pham were precision
        // engineers`, `founders: Johnson, Morris and Garrett`), when a verb in the
        // plural follows or a word for a group of people and a colon comes before (the
        // validator reads both). Every name must be one the lists know (no ordinary
        // word: `Black and White were`), or a Han family name. The list is masked
        // whole, and is the whole match.
        pattern: concat!(
            r"(?P<v>",
            list_name!(),
            r"(?:, ",
            list_name!(),
            r"){0,3},? (?:and|&) ",
            list_name!(),
            ")"
        ),
        validate: Some(listed_names),
        examples: Examples {
            masks: &[
                "Is there a better song on this list? «Watson and Pham» were precision engineers.",
                "the brainchild of our 3 founders: «Johnson, Morris and Garrett».",
                "reviewers: «Nguyen & Schmidt»",
                "«王 and 金» were engineers",
            ],
            keeps: &[
                "Errors and Warnings were logged",
                "Black and White were the options",
                "Smith and Sons were paid",
                "Johnson and Garrett is a law firm",
                "Search and Rescue were called",
                "status: Johnson and Garrett",
            ],
        },
    },
    Rule {
        name: "person-name-object",
        category: Person,
        trigger: Trigger::literals_near(OBJECT_TRIGGERS, capital_after),
        // A given name alone after a verb that takes a person (`shouted at Lorraine`,
        // `had given Zoe his address`, `She named him Shirley`). The lists must know the
        // name.
        pattern: concat!(
            r"(?i:\b(?:told|asked|given|gave|thanked|named (?:him|her|them)|shouted at|talked to|spoke to|spoke with|emailed|texted|messaged|introduced)) ",
            r"(?P<v>\p{Lu}[\p{Ll}\p{M}'’-]+|\p{Han}{1,3})(?:$|[^\p{L}\p{M}\p{N}_])"
        ),
        validate: Some(given_name_object),
        examples: Examples {
            masks: &[
                "Robert shouted at «Scott»: what are you doing here?",
                "Pam had given «Eric» his address",
                "She named him «Shirley»",
                "I already told «Jessica» about it",
                "秀华 shouted at «建军»: hi",
            ],
            keeps: &[
                "asked Support to retry",
                "the handler was given Max retries",
                "told Austin office",
                "named him Error",
                "spoke to Kubernetes",
            ],
        },
    },
    Rule {
        name: "person-name-bare",
        category: Person,
        trigger: Trigger {
            literals: PARTICLE_TRIGGERS,
            near: Some(particle_between_names),
            shape: Some(bare_name_shape),
        },
        // Two or three capitalised words with no context (the validator wants the
        // lists to know them): letters of any Latin script, hyphenated parts
        // (`Anders-Margraf`), particles between (`Ian das Neves`), a degree after
        // (`Laurie Dominguez MD`). The value is the whole match, which spares the
        // capture groups on every line with two capitalised words (the validator looks
        // at the characters around it).
        pattern: concat!(
            r"\b",
            r"(?P<v>",
            bare_word!(),
            r"(?:(?:[ \t]+|[ ]+(?:(?:van|von|der|den|de|da|del|della|di|du|la|le|dos|das|do|zu|ter)[ ]+){1,2})",
            bare_word!(),
            r"){1,2}(?:[ \t]+(?:Jr\.|Sr\.|II|III|IV|MD|DDS|DVM|PhD|MBA))?)"
        ),
        validate: Some(person_name),
        examples: Examples {
            masks: &[
                "we need to add «Jennifer Martinez» as guardian",
                // A role after a name the lists do not know.
                "please add «Yoshiro Wakabayashi» as a beneficiary",
                "add «Olusegun Adebayo» as my emergency contact",
                "Please ask «David Thompson» to approve",
                "I want to add «Ian dos Santos» to the account",
                "«Júlia Melo» called back",
                "songwriter «Josh Shah-Mills» wrote it",
                "«Laurie Dominguez MD» of Springfield",
            ],
            keeps: &[
                "Grant Access to the Main Street deployment",
                "run Build Agent as the Executor",
                "deploy Payment Service as a dependent",
                "Request Timeout reached",
                "Export de Données terminé",
                "Max Retries Exceeded",
                "The Jordan River Service",
                "Résumé Upload Failed",
            ],
        },
    },
    Rule {
        name: "person-name-han",
        category: Person,
        trigger: Trigger::shape(han_shape),
        // A name in Han characters (a Japanese given name may be in kana) standing
        // alone in a line of Latin script, between its words: `we need to add 张兰英 as
        // guardian`, `福田 英樹 will be talking`. The validator wants a listed family
        // name first and a Latin word beside it.
        pattern: concat!(
            r"(?:^|[ \t(])(?P<v>\p{Han}{1,3}[ \x{3000}][\p{Han}\p{Hiragana}\p{Katakana}ー]{1,4}|\p{Han}{2,3})",
            r"(?:$|[ \t,.!?;:)’']|'s)"
        ),
        validate: Some(han_name_inline),
        examples: Examples {
            masks: &[
                "we need to add «张兰英» as guardian",
                "have you heard «吉田 明美» speak yet?",
                "«福田 英樹» will be talking",
                "not by «张勇»).",
                "«王建国» will be talking",
            ],
            keeps: &[
                "result 成功 after retry",
                "用户 王伟 已登录",
                "msg=\"张兰英\"",
                "the city 北京 is large",
                "flights to 韩国 resumed",
            ],
        },
    },
    Rule {
        name: "street-address",
        category: Person,
        trigger: Trigger::shape(number_then_word),
        // House number (with a letter or a range), an optional direction, up to five
        // words of the street (its type among them), a unit, and what follows on the
        // line: city, state or province, postcode.
        // (What stands before it: a line start, an escaped one, or no word.)
        pattern: r"(?:^|[^\p{L}\p{N}_.\-/#]|\\[nrt])(?P<v>[0-9]{1,6}[A-Za-z]?(?:[-/][0-9]{1,5}[A-Za-z]?)?,?(?:[ \t]+|\n)(?:(?:[NSEW]|N[EW]|S[EW]|North|South|East|West)\.?[ \t]+)?(?:(?:\p{Lu}[\p{L}\p{M}'’.-]*|\p{Han}{1,4}|rue|avenue|av\.|boulevard|bd|place|chemin|impasse|allée|quai|route|cours|passage|de|du|des|da|do|dos|das|la|le|l'|d')[ \t]+){0,5}\p{Lu}[\p{L}\p{M}'’.-]*(?:,?[ \t]+(?:(?i:apartment|appartement|apt|basement|bsmt|bldg|building|bâtiment|dept|étage|etage|flat|floor|fl|lobby|lbby|lot|office|ofc|penthouse|ph|room|rm|space|spc|suite|ste|trailer|trlr|unit|wohnung|whg)\.?[ \t]*)?#?[0-9][0-9A-Za-z-]{0,5})?(?:,?[ \t]*(?:\n|\\n)?[ \t]*(?:\p{Lu}[\p{L}\p{M}'’.-]*[ \t]?){1,4},?[ \t]+(?:[A-Z]{2,3},?[ \t]+)?(?:[0-9]{4,6}(?:-[0-9]{4})?|[A-Z]{1,2}[0-9][A-Z0-9]?[ \t]?[0-9][A-Z]{2}|[A-Z][0-9][A-Z][ \t]?[0-9][A-Z][0-9]))?)",
        validate: Some(street_address),
        examples: Examples {
            masks: &[
                "ship to «391 Johnson Burg Apt. 636, New Jeffreymouth, NM 72965» today",
                "«77763 Tony Village Suite 690»",
                "«10 Downing Street, London SW1A 2AA»",
                "«23, rue Victoire Perrier»",
                "«1600 Pennsylvania Avenue NW»",
                "«7 Griffith End, Lake Anthonytown, ACT, 2983»",
                r"Acme Ltd\n«12 Harbour Road, Springfield, WA, 6000»",
                "«8 Wattle Parade», Hobart",
                // A street named for a family in Han characters, in an English-style line.
                "«690 鈴木 Street», 国立市",
                // A Brazilian street: the type first, then the name.
                "«95 Esplanada da Costa», Centro",
                // Australia Post's types that are ordinary words, after a listed name.
                "«14 Madeline Steps», Ballarat",
                "«9/2 Theodore Cross», Lismore",
                // The number ends one line, the street starts the next.
                "deliver to «40\nKingsley Road», Leeds",
                // Street and city split by a written-out line break.
                r"ship to «12 Harbour Road\nSpringfield, WA 6000» today",
            ],
            keeps: &[
                "HTTP/1.1 200 OK",
                "took 3 Retries and 5 Errors",
                "processed 120 Records in 5 Seconds",
                "2024-05-01 12:34:56 INFO Started",
                "version 3 Point release",
                r"retry\n3 Retries and 5 Errors",
                "Completed 5 Steps in 2 s",
                "收到 3 条 Errors",
                "processed 3 Campo errors",
                "3 Residencial units",
                "established 3 Data Link sessions",
                "built 2 Front End bundles",
                "Chapter 12\nNext Steps",
                "retries: 3\nBlock Storage degraded",
                "address: 4\nData Points",
                "Step 4\nPark Avenue opened",
                "error at line 12\nMain Street handler",
                "count=12\nHarbour Road closed",
                "pid 42 James Front",
            ],
        },
    },
    Rule {
        name: "street-address-named",
        category: Person,
        trigger: Trigger::literals_near(
            &[
                "straße",
                "strasse",
                "str.",
                "weg",
                "allee",
                "platz",
                "gasse",
                "ring",
                "damm",
                "ufer",
                "chaussee",
                "calle ",
                "avenida ",
                "via ",
                "viale ",
                "piazza ",
                "corso ",
                "rua ",
                "praça ",
                "travessa ",
                "largo ",
                "paseo ",
                "plaza ",
                // Brazilian street types (the Correios' kinds of logradouro), written
                // first: `Rodovia Arthur Miguel da Rosa, 81`.
                "aeroporto ",
                "alameda ",
                "campo ",
                "chácara ",
                "colônia ",
                "condomínio ",
                "conjunto ",
                "distrito ",
                "esplanada ",
                "estação ",
                "estrada ",
                "favela ",
                "fazenda ",
                "feira ",
                "jardim ",
                "ladeira ",
                "lagoa ",
                "loteamento ",
                "morro ",
                "núcleo ",
                "parque ",
                "passarela ",
                "pátio ",
                "quadra ",
                "recanto ",
                "residencial ",
                "rodovia ",
                "setor ",
                "sítio ",
                "trecho ",
                "trevo ",
                "vereda ",
                "viaduto ",
                "viela ",
                "vila ",
                "straat",
                "laan",
                "gracht",
                "plein",
            ],
            type_then_number,
        ),
        pattern: concat!(
            r"(?:^|[^\p{L}\p{N}_.\-/#]|\\[nrt])(?P<v>(?:(?:\p{Lu}[\p{L}\p{M}'’.-]*[ \t])?\p{Lu}[\p{L}\p{M}'’.-]*?(?i:straße|strasse|str\.|weg|allee|platz|gasse|ring|damm|ufer|chaussee|straat|laan|gracht|plein)|",
            type_first_street!(),
            r",?)[ \t]+[0-9]{1,5}[a-zA-Z]?(?:[-/][0-9]{1,5}[a-zA-Z]?)?(?:,?[ \t]*\n?[ \t]*[0-9]{4,5}[ \t]+\p{Lu}[\p{L}\p{M}'’.-]*(?:[ \t-]\p{Lu}[\p{L}\p{M}'’.-]*){0,2})?",
            // No house number: the street alone (the validator wants words before
            // it that say an address follows), or with the Brazilian last lines
            // after it: neighbourhood, CEP, city / state.
            "|",
            type_first_street!(),
            r"(?:(?:,[ \t]*(?:\p{Lu}[\p{L}\p{M}'’.-]*|[0-9]{1,3}ª)(?:[ \t]+(?:de|do|da|dos|das|e|\p{Lu}[\p{L}\p{M}'’.-]*|[0-9]{1,3}ª)){0,5}){0,2},[ \t]*[0-9]{5}-?[0-9]{3}[ \t]+\p{Lu}[\p{L}\p{M}'’.-]*(?:[ \t]+(?:de|do|da|dos|das|\p{Lu}[\p{L}\p{M}'’.-]*)){0,5}[ \t]*/[ \t]*[A-Z]{2}\b)?)"
        ),
        validate: Some(street_address_named),
        examples: Examples {
            masks: &[
                "Lieferadresse: «Hauptstraße 5, 10115 Berlin»",
                "«Agnes-Wesack-Straße 26-83»",
                "«Schlosserallee 7»",
                "«Calle Mayor 12»",
                "«Via Roma 1»",
                "entregar em «Rodovia Joaquim Prado, 12», Centro",
                "«Favela do Sol, 3»",
                "«Chácara Boa Vista, 40»",
                // No house number, after words that say an address follows.
                "ship to «Calle Mayor», Madrid",
                "she lives at «Via Roma»",
                "shipping address: «Rua das Flores», Lisboa",
                // The Brazilian last lines: neighbourhood, CEP, city / state.
                "«Via de Souza, Vila Nova, 35267-804 Monte Alto / SP»",
            ],
            keeps: &[
                "the str. 5 field",
                "/api/v1/weg 2",
                "ring 3 buffer",
                "Campo obrigatório: 5 caracteres",
                "Setor 4 offline",
                "we met at Via Roma",
                "Plaza Hotel booking confirmed",
                "Campo Grande airport",
                "the Via Appia is old",
            ],
        },
    },
    Rule {
        name: "street-address-unit",
        category: Person,
        trigger: Trigger::literals_near(UNIT_FIRST, unit_then_number),
        // The unit first, then the street, as British, Australian and Indian addresses
        // write it: `Flat 52z, Suzanne Roads`, `Unit 34 11 Veronica Artery`, `Level 4
        // 60 Baker Interchange`, `H.No. 166, Ravel Marg`. The validator wants a street
        // type at the end, after a name.
        pattern: r"(?:^|[^\p{L}\p{N}_.\-/#]|\\[nrt])(?P<v>(?:Flat|Studio|Unit|Level|Suite|Apartment|Apt\.?|H\.[ ]?No\.?)[ \t]*[0-9]{1,5}[A-Za-z]?,?[ \t]*\n?[ \t]*(?:[0-9]{1,6}[A-Za-z]?(?:/[0-9]{1,5})?,?[ \t]+)?(?:\p{Lu}[\p{L}\p{M}'’-]*[ \t]+){1,3}\p{Lu}[\p{L}\p{M}'’-]*)",
        validate: Some(street_address_unit),
        examples: Examples {
            masks: &[
                "«Flat 12b, Maple Roads», Newtown, S1 2AB",
                "«Unit 7 21 Banksia Artery», Parramatta, NSW, 2150",
                "address «H.No. 42, Gandhi Marg», Jaipur-302001",
                // `H.No.` says a house number: the street needs no type.
                "«H.No. 17, Shanti Kunj», Patna",
                "«Studio 5\nHarbour Port»",
            ],
            keeps: &[
                "Unit 3 Tests Passed",
                "Level 2 Cache Miss",
                "Suite 4 Integration Tests",
                "Flat 5 Percent Discount",
                "escalated to Level 3 Support Center",
                "Unit 4 Access Point rebooted",
                "Level 3 Data Link Layer",
            ],
        },
    },
    Rule {
        name: "street-address-military",
        category: Person,
        trigger: Trigger::literals(&["box ", "fpo ", "apo ", "dpo "]),
        // US military and diplomatic mail (USPS Publication 28, overseas military
        // addresses): `PSC 1234, Box 5678`, `CMR 450 Box 12`, `Unit 2050 Box 4190`
        // with `APO|FPO|DPO` and `AA|AE|AP` and a ZIP code after it; a ship's name
        // before `FPO` (`USS Kidd, FPO AP 96234`); or the last line alone.
        pattern: r"(?:^|[^\p{L}\p{N}_]|\\[nrt])(?P<v>(?:PSC|CMR|Unit|UNIT)[ \t]+[0-9]{1,5},?[ \t]+(?:Box|BOX) [0-9]{1,5}(?:,?[ \t]*(?:\\n|\n)?[ \t]*(?:APO|FPO|DPO) A[AEP](?:[ \t]+[0-9]{5}(?:-[0-9]{4})?\b)?\b)?|(?:USNS|USNV|USS|USCGC)[ \t]+\p{Lu}[\p{L}'’-]+(?:[ \t]+\p{Lu}[\p{L}'’-]+){0,2},?[ \t]*(?:\\n|\n)?[ \t]*FPO A[AEP](?:[ \t]+[0-9]{5}(?:-[0-9]{4})?\b)?\b|(?:APO|FPO|DPO) A[AEP][ \t]+[0-9]{5}(?:-[0-9]{4})?\b)",
        validate: None,
        examples: Examples {
            masks: &[
                "return to «PSC 7871, Box 7880, APO AE 12345» please",
                "«Unit 3456 Box 0983, DPO AP 39877»",
                "ship it to «USNS Carter, FPO AA 34012»",
                "«CMR 402 Box 1187»",
                "Sgt. Kim\\n«FPO AE 09499»",
            ],
            keeps: &[
                "checkbox 3 is ticked",
                "Unit 4 Box failed",
                "USS Enterprise was a ship",
                "apo 12 retries",
                "the APO AE team",
            ],
        },
    },
    Rule {
        name: "street-address-po-box",
        category: Person,
        trigger: Trigger::literals_near(&["box"], box_then_number),
        // A post office box: `P.O. Box 1234`, `PO Box 77`, `Post Office Box 9` (the
        // prefix says it is one), or a bare `Box 512` where words before it say an
        // address follows (`ship to Box 512`; `Box 3 of 5` is none).
        pattern: r"(?:^|[^\p{L}\p{N}_]|\\[nrt])(?P<v>(?:(?i:p\.?[ \t]?o\.?|post[ \t]+office)[ \t]*)?(?i:box)[ \t]*#?[ \t]*[0-9]{1,6})\b",
        validate: Some(po_box),
        examples: Examples {
            masks: &[
                "address: «P.O. Box 1234», Springfield",
                "«PO Box 77», Darwin NT 0801",
                "«Post Office Box 9»",
                "ship to «Box 512», Alice Springs",
                r"Acme Ltd\n«P.O.Box 40»\nNairobi",
            ],
            keeps: &[
                "Box 3 of 5",
                "checkbox 3 is ticked",
                "inbox 12 unread",
                "moved the ticket to Box 4",
                "Dropbox 2 sync done",
                "/var/log/box 3",
                "version 1.2 box 3",
                "PSC 1234, Box 5678",
            ],
        },
    },
    Rule {
        name: "street-address-cjk",
        category: Person,
        trigger: Trigger::literals(&["路", "街", "大道", "巷", "弄", "胡同", "丁目", "番地", "号"]),
        pattern: r"(?P<v>(?:\p{Han}{2,10}(?:省|自治区|市|都|道|府|県))?(?:\p{Han}{1,8}(?:市|区|县|州|町|村|郡))*[\p{Han}\p{Katakana}\p{Hiragana}ー]{1,12}(?:(?:路|街|大道|大街|巷|弄|胡同)(?:[0-9０-９]{1,5}号|[A-Za-z0-9]{1,3}座)?|[0-9０-９]{1,4}丁目(?:[0-9０-９]{1,4}番地?)?(?:[0-9０-９]{1,4}号)?)(?:[0-9０-９]{1,4}(?:栋|幢|号楼|单元|室|层|号))*(?:[ \x{3000}][\p{Han}\p{Hiragana}ー]{0,8}\p{Katakana}[\p{Han}\p{Katakana}\p{Hiragana}ー]{0,11}[0-9０-９]{1,4})?(?:[ \t]*[0-9]{6})?)",
        validate: Some(street_address_cjk),
        examples: Examples {
            masks: &[
                "地址：«北京市朝阳区建国路88号»",
                "«浙江省惠州市高明大冶路L座 150008»",
                "«島根県鎌ケ谷市芝大門28丁目20番1号»",
                // A building's name and room after the block (`ハイツ`, `パーク`).
                "«東京都港区芝公園4丁目2番8号 芝浦ハイツ101»",
            ],
            keeps: &["路由器重启", "号码无效"],
        },
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speaker_labels_with_a_second_capital_do_not_fire() {
        let policy = crate::detect::Policy::default();
        let speaker = |text: &str| {
            crate::detect::fired_rules(&policy, text).contains(&"person-name-speaker")
        };
        assert!(!speaker("Traceback (most recent call last):\n  File \"x\"\nKeyError: 'id'"));
        assert!(!speaker("ValueError: bad"));
        assert!(speaker("Jennifer: hi") && speaker("a\nÉmile: ok") && speaker("x | Anna: y"));
        // The filtered search finds what the unfiltered one does on labels of every
        // case mix, at each place a label may start.
        for text in [
            "Jennifer: hi",
            "JeNnifer: hi",
            "KeyError: 'user_id'",
            "log\nKeyError: x\nAnna: hello",
            "a\\nMaria: hi",
            "> Bob: yes | JohnSmith: no",
            "Émile: bonjour",
            "ÉMile: bonjour",
            "王伟：你好\n李娜: 好",
            "O'Brien: hey",
            "Mary-jane: hey",
            "Anne-marie: hey",
            "D'angelo: ok",
            "D’angelo: ok",
            "田中 太郎: 了解です",
            "log\n田中\u{3000}太郎: 了解",
            "Error connection: refused",
        ] {
            let ranges = |f: Vec<crate::detect::Finding>| {
                f.iter().map(|f| (f.start, f.end)).collect::<Vec<_>>()
            };
            assert_eq!(
                ranges(crate::detect::find(&policy, text)),
                ranges(crate::detect::find_unfiltered(&policy, text)),
                "{text:?}"
            );
        }
    }

    #[test]
    fn context_lists_have_no_empty_word() {
        // `context_before` and `greeting_before` compare a word's last byte first.
        for w in STRONG_BEFORE.iter().chain(WEAK_BEFORE).chain(GREETINGS) {
            assert!(!w.is_empty());
        }
    }

    #[test]
    fn lists_load() {
        assert!(given_names().contains("james"));
        assert!(surnames().contains("smith"));
        assert!(street_types().contains("street") && street_types().contains("rue"));
        assert!(unit_types().contains("apt"));
        assert!(is_given("María") || is_given("Maria"));
        assert!(is_surname("Müller") || !surnames().contains("muller"));
        assert!(!is_given("Will"));
    }

    /// The unit words of `street-address` come from `data/addresses/unit_types.txt`;
    /// the ones left out are the USPS designators that read as ordinary words after a
    /// street (`Front`, `Rear`, `Side`, `Key`, ...).
    #[test]
    fn unit_words_come_from_the_list() {
        let rule = crate::detect::RULES
            .iter()
            .find(|r| r.name == "street-address")
            .unwrap();
        let left_out = [
            "department",
            "frnt",
            "front",
            "hanger",
            "hngr",
            "key",
            "lower",
            "lowr",
            "pier",
            "rear",
            "side",
            "slip",
            "stop",
            "upper",
        ];
        for unit in unit_types() {
            let unit = unit.trim_end_matches('.');
            if unit.is_empty() || unit.starts_with('#') || left_out.contains(&unit) {
                continue;
            }
            assert!(
                rule.pattern.contains(&format!("|{unit}|"))
                    || rule.pattern.contains(&format!("?i:{unit}|"))
                    || rule.pattern.contains(&format!("|{unit})")),
                "{unit}"
            );
        }
    }

    #[test]
    fn contexts() {
        assert!(Context::Strong == context_before("ticket opened by Mr. "));
        assert!(Context::Strong == context_before(r#"{"customer_name": ""#));
        assert!(Context::Weak == context_before("Hi "));
        assert!(Context::None == context_before("the build of "));
        assert!(contact_after(" <ann@example.com>"));
        assert!(!contact_after(" went home"));
    }
}
