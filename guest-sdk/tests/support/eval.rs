//! The held-out evaluation (data/eval, made by scripts/eval/make_eval.py): loads a
//! split, masks every record under the default policy, and scores the result. Shared
//! by `tests/eval.rs` (which holds the figures fixed) and `examples/eval.rs` (which
//! prints them).
//!
//! What counts:
//! - a planted value is *masked* when every letter and digit of it lies inside some
//!   finding (whatever the rule: what matters is that it does not leave the host).
//!   For a street address the street line is what must be masked (its first part up
//!   to a comma or line break that holds a letter and a digit); city and postcode
//!   alone say little;
//! - a line *holds nothing sensitive* when nothing was planted in it; it is a false
//!   positive of a category when a finding of that category is in it;
//! - precision of the person rules: findings of the name (or address) rules that
//!   overlap a planted name (or address), over all their findings in all records.

#![allow(dead_code)]

use casefile_guest::detect::examples::expand;
use casefile_guest::detect::{find, mask_text, Category, Counts, HmacPseudonyms, Policy};
use serde_json::Value;
use std::collections::BTreeMap;

/// One planted value in a record's text.
#[derive(Clone, Debug)]
pub struct Planted {
    pub category: Category,
    pub kind: String,
    pub value: String,
    pub start: usize,
    pub end: usize,
}

#[derive(Clone, Debug)]
pub struct Record {
    pub id: String,
    pub source: String,
    pub text: String,
    pub planted: Vec<Planted>,
}

pub fn category(name: &str) -> Category {
    match name {
        "credential" => Category::Credential,
        "payment" => Category::Payment,
        "government-id" => Category::GovernmentId,
        "contact" => Category::Contact,
        "network" => Category::Network,
        "person" => Category::Person,
        other => panic!("unknown category {other}"),
    }
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The records of `split` (`learn` or `eval`), with templates expanded (the same
/// values on every run: the seed is the record's id).
pub fn load(split: &str) -> Vec<Record> {
    let path = format!("{}/data/eval/{split}.jsonl", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("a JSON record");
            let id = v["id"].as_str().unwrap_or_default().to_owned();
            let mut out = String::new();
            let mut rest = v["text"].as_str().unwrap_or_default();
            let planted_in: Vec<&Value> = v["planted"]
                .as_array()
                .map(|a| a.iter().collect())
                .unwrap_or_default();
            let values: Vec<String> = planted_in
                .iter()
                .enumerate()
                .map(|(i, p)| match p["template"].as_str() {
                    Some(t) => expand(t, fnv(&id) ^ (i as u64) << 32),
                    None => p["value"].as_str().unwrap_or_default().to_owned(),
                })
                .collect();
            let mut planted = Vec::new();
            while let Some(at) = rest.find('⟦') {
                out.push_str(&rest[..at]);
                let close = rest[at..].find('⟧').expect("closed mark") + at;
                let i: usize = rest[at + '⟦'.len_utf8()..close]
                    .parse()
                    .expect("mark index");
                let start = out.len();
                out.push_str(&values[i]);
                let p = planted_in[i];
                planted.push(Planted {
                    category: category(p["category"].as_str().unwrap_or_default()),
                    kind: p["kind"].as_str().unwrap_or_default().to_owned(),
                    value: values[i].clone(),
                    start,
                    end: out.len(),
                });
                rest = &rest[close + '⟧'.len_utf8()..];
            }
            out.push_str(rest);
            Record {
                id,
                source: v["source"].as_str().unwrap_or_default().to_owned(),
                text: out,
                planted,
            }
        })
        .collect()
}

/// The part of a planted value that must be masked: the street line of an address.
pub fn must_mask(p: &Planted) -> (usize, usize) {
    if p.kind != "address" {
        return (p.start, p.end);
    }
    let v = &p.value;
    let mut end = 0;
    for part in v.split_inclusive([',', '\n']) {
        end += part.len();
        let seen = &v[..end];
        if seen.chars().any(char::is_alphabetic) && seen.chars().any(|c| c.is_ascii_digit()) {
            break;
        }
    }
    let end = v[..end.min(v.len())]
        .trim_end_matches([',', '\n', ' '])
        .len();
    (p.start, p.start + end)
}

/// Per category: values planted, values masked; lines without planted values, and
/// those of them with a finding of the category.
#[derive(Default, Debug, Clone)]
pub struct Score {
    pub values: BTreeMap<Category, (usize, usize)>,
    pub kinds: BTreeMap<String, (usize, usize)>,
    pub negatives: usize,
    pub changed: usize,
    pub flagged: BTreeMap<Category, usize>,
    /// (findings overlapping a planted name, all name findings); the same for
    /// addresses.
    pub names: (usize, usize),
    pub addresses: (usize, usize),
    pub misses: Vec<String>,
    pub false_positives: Vec<String>,
}

pub fn score(records: &[Record]) -> Score {
    score_with(records, &Policy::default())
}

/// `score` under another policy (the eval example's `--generic-only`).
pub fn score_with(records: &[Record], policy: &Policy) -> Score {
    let policy = policy.clone();
    let mut s = Score::default();
    for r in records {
        let findings = find(&policy, &r.text);
        let covered = |a: usize, b: usize| {
            (a..b).all(|i| {
                !r.text.is_char_boundary(i)
                    || !r.text[i..]
                        .chars()
                        .next()
                        .is_some_and(char::is_alphanumeric)
                    || findings.iter().any(|f| f.start <= i && i < f.end)
            })
        };
        for p in &r.planted {
            let (a, b) = must_mask(p);
            let ok = covered(a, b);
            let e = s.values.entry(p.category).or_default();
            e.0 += 1;
            e.1 += usize::from(ok);
            let kind = format!("{}/{}", p.category.as_str(), kind_group(&p.kind));
            let k = s.kinds.entry(kind).or_default();
            k.0 += 1;
            k.1 += usize::from(ok);
            if !ok {
                s.misses.push(format!(
                    "MISS {} [{}] {:?} in {:?}",
                    p.category.as_str(),
                    p.kind,
                    &r.text[a..b],
                    r.text
                ));
            }
        }
        for f in findings.iter().filter(|f| f.category == Category::Person) {
            let address = f.rule.starts_with("street-address");
            let hit = r.planted.iter().any(|p| {
                p.category == Category::Person
                    && (p.kind == "address" || p.kind == "street") == address
                    && f.start < p.end
                    && p.start < f.end
            });
            let t = if address {
                &mut s.addresses
            } else {
                &mut s.names
            };
            t.0 += usize::from(hit);
            t.1 += 1;
            if !hit {
                s.false_positives.push(format!(
                    "PERSON FP {} {:?} in {:?}",
                    f.rule,
                    &r.text[f.start..f.end],
                    r.text
                ));
            }
        }
        if r.planted.is_empty() {
            s.negatives += 1;
            let out = mask_text(
                &policy,
                &mut HmacPseudonyms::new(b"eval"),
                &r.text,
                &mut Counts::default(),
            );
            if out != r.text {
                s.changed += 1;
                s.false_positives
                    .push(format!("FP {:?}\n   -> {out:?}", r.text));
            }
            for c in Category::ALL {
                if findings.iter().any(|f| f.category == c) {
                    *s.flagged.entry(c).or_default() += 1;
                }
            }
        }
    }
    s
}

/// A planted value's kind, grouped for the table: a collection's rule is just its
/// collection.
fn kind_group(kind: &str) -> &str {
    kind.split(':').next().unwrap_or(kind)
}

fn pct(n: usize, d: usize) -> f64 {
    if d == 0 {
        0.0
    } else {
        100.0 * n as f64 / d as f64
    }
}

/// The table the README shows.
pub fn table(s: &Score) -> String {
    let mut out = String::new();
    out.push_str("category        planted  masked   recall   false positives (of lines with nothing planted)\n");
    for c in Category::ALL {
        let (n, m) = s.values.get(&c).copied().unwrap_or_default();
        let fp = s.flagged.get(&c).copied().unwrap_or_default();
        out.push_str(&format!(
            "{:<14} {:>8} {:>7} {:>7.2} %   {:>4} of {} = {:.2} %\n",
            c.as_str(),
            n,
            m,
            pct(m, n),
            fp,
            s.negatives,
            pct(fp, s.negatives)
        ));
    }
    let (n, m) = s
        .values
        .values()
        .fold((0, 0), |a, v| (a.0 + v.0, a.1 + v.1));
    out.push_str(&format!(
        "{:<14} {:>8} {:>7} {:>7.2} %   {:>4} of {} lines changed = {:.2} %\n",
        "all",
        n,
        m,
        pct(m, n),
        s.changed,
        s.negatives,
        pct(s.changed, s.negatives)
    ));
    out.push_str("\nby kind         planted  masked   recall\n");
    for (k, (n, m)) in &s.kinds {
        out.push_str(&format!("{k:<30} {n:>5} {m:>7} {:>7.2} %\n", pct(*m, *n)));
    }
    let (nt, nf) = s.names;
    let (at, af) = s.addresses;
    let name_recall = s
        .kinds
        .iter()
        .filter(|(k, _)| {
            k.starts_with("person/") && !k.ends_with("address") && !k.ends_with("street")
        })
        .fold((0, 0), |a, (_, v)| (a.0 + v.0, a.1 + v.1));
    let addr_recall = s
        .kinds
        .iter()
        .filter(|(k, _)| k.ends_with("address") || k.ends_with("street"))
        .fold((0, 0), |a, (_, v)| (a.0 + v.0, a.1 + v.1));
    out.push_str(&format!(
        "\nperson names:     precision {:.2} % ({nt} of {nf} findings), recall {:.2} % ({} of {})\n",
        pct(nt, nf),
        pct(name_recall.1, name_recall.0),
        name_recall.1,
        name_recall.0
    ));
    out.push_str(&format!(
        "street addresses: precision {:.2} % ({at} of {af} findings), recall {:.2} % ({} of {})\n",
        pct(at, af),
        pct(addr_recall.1, addr_recall.0),
        addr_recall.1,
        addr_recall.0
    ));
    out
}
