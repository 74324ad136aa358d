//! The whole ticket loop against a real Redmine: Debian's package (installed by
//! scripts/install-redmine, which scripts/test runs first), started on loopback
//! with a fresh SQLite database, driven by the real casefile binary with the
//! shipped `ticket-redmine` mapper. A diagnosis opens an issue, a recurrence adds a
//! note, a passing regression closes it, a later recurrence reopens it; then a
//! person assigns, closes and reopens it in Redmine itself, and casefile's polling
//! sync follows (Redmine has no webhooks). The API key goes in a file that casefile
//! attaches as `X-Redmine-API-Key`; the mapper never sees it.
//!
//! A machine without Redmine fails this test with what to run; it is not skipped.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::*;

const REDMINE_DIR: &str = "/usr/share/redmine";

/// A Redmine started for this test, in its own process group: dropping it (also
/// when the test panics) stops the group, so no server outlives the test.
struct Redmine {
    child: Child,
    base: String,
    key: String,
    log: PathBuf,
    http: reqwest::Client,
}

impl Drop for Redmine {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// A command run as www-data in Redmine's directory, on the test's database (the
/// Debian instance `default` supplies the rest of the configuration).
fn as_redmine(db: &Path, secs: u64, args: &[&str]) -> Command {
    let mut c = Command::new("timeout");
    c.arg(secs.to_string())
        .args(["runuser", "-u", "www-data", "--", "env", "REDMINE_INSTANCE=default", "RAILS_ENV=production"])
        .arg(format!("DATABASE_URL=sqlite3:{}", db.display()))
        .args(args)
        .current_dir(REDMINE_DIR);
    c
}

fn run(what: &str, mut c: Command) -> String {
    let started = Instant::now();
    let out = c.output().unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{what} failed ({}): {}", out.status, &text[text.len().saturating_sub(3000)..]);
    eprintln!("redmine: {what} took {} ms", started.elapsed().as_millis());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What the test sets up in its Redmine: the REST API on, logins required (else a
/// wrong key is served as anonymous), the admin's API key, a project `casefile`
/// with the issue tracker, and the admin as its manager (so issues can be assigned).
const SETUP: &str = r#"
Redmine::DefaultData::Loader.load("en") if Redmine::DefaultData::Loader.no_data?
Setting.rest_api_enabled = "1"
Setting.login_required = "1"
admin = User.find_by_login("admin")
admin.update!(must_change_passwd: false)
p = Project.new(name: "casefile", identifier: "casefile")
p.enabled_module_names = ["issue_tracking"]
p.trackers = Tracker.all
p.save!
Member.create!(project: p, user: admin, roles: [Role.givable.find_by!(name: "Manager")])
puts "API_KEY=#{admin.api_key}"
"#;

/// Whether `GET /login` answers 200 (Redmine is up once its login page renders).
fn login_page_answers(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    if s.write_all(b"GET /login HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

impl Redmine {
    fn start(dir: &Path) -> Redmine {
        assert!(
            Path::new(REDMINE_DIR).join("config.ru").exists(),
            "Redmine is not installed ({REDMINE_DIR}/config.ru is missing): run scripts/install-redmine \
             (Debian's redmine, redmine-sqlite and ruby-webrick packages); scripts/test does this before the tests"
        );
        // www-data writes the database and its journal here.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let db = dir.join("redmine.sqlite3");
        // SCHEMA=/dev/null: www-data may not write db/schema.rb after migrating.
        run("rake db:migrate", as_redmine(&db, 300, &["rake", "db:migrate", "SCHEMA=/dev/null"]));
        let setup = dir.join("setup.rb");
        std::fs::write(&setup, SETUP).unwrap();
        std::fs::set_permissions(&setup, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = run("rails runner (setup)", as_redmine(&db, 120, &["ruby", "bin/rails", "runner", &setup.display().to_string()]));
        let key = out.lines().find_map(|l| l.strip_prefix("API_KEY=")).expect("the setup prints the API key").trim().to_string();
        assert_eq!(key.len(), 40, "an API key: {out}");

        let port = closed_port();
        let log = dir.join("redmine.log");
        let started = Instant::now();
        // `rails server` and a plain `rackup` fail: WEBrick is not in its Gemfile.
        let mut c = as_redmine(&db, 900, &["rackup", "-r", "webrick", "-s", "webrick", "-E", "production", "-o", "127.0.0.1", "-p", &port.to_string()]);
        c.stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
            .stderr(Stdio::from(std::fs::File::options().append(true).open(&log).unwrap()))
            .process_group(0);
        let child = c.spawn().expect("start Redmine");
        let redmine = Redmine { child, base: format!("http://127.0.0.1:{port}"), key, log, http: reqwest::Client::new() };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if login_page_answers(port) {
                break;
            }
            assert!(Instant::now() < deadline, "Redmine did not answer GET /login within 120 s; its log: {}", redmine.log_text());
            std::thread::sleep(Duration::from_millis(250));
        }
        eprintln!("redmine: start took {} ms", started.elapsed().as_millis());
        redmine
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).header("X-Redmine-API-Key", &self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("Redmine answers");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn issue(&self, id: &str) -> Value {
        let (status, v) = self.call(reqwest::Method::GET, &format!("/issues/{id}.json?include=journals"), None).await;
        assert_eq!(status, 200, "GET issue {id}: {v}");
        v["issue"].clone()
    }

    /// The notes on an issue, oldest first.
    async fn notes(&self, id: &str) -> Vec<String> {
        self.issue(id).await["journals"].as_array().into_iter().flatten().filter_map(|j| j["notes"].as_str()).filter(|n| !n.is_empty()).map(str::to_string).collect()
    }

    /// What a person does in Redmine's own API.
    async fn change(&self, id: &str, issue: Value) {
        let (status, v) = self.call(reqwest::Method::PUT, &format!("/issues/{id}.json"), Some(json!({ "issue": issue }))).await;
        assert_eq!(status, 204, "PUT issue {id}: {v}");
    }
}

fn config(dir: &Path, redmine: &Redmine, runner: &str, settings: &str) -> PathBuf {
    let key_file = dir.join("redmine.key");
    std::fs::write(&key_file, format!("{}\n", redmine.key)).unwrap();
    let template = dir.join("report_template.yaml");
    std::fs::write(&template, "sections: [summary, sources, errors, timeline, traces, metrics, masking]\n").unwrap();
    let p = dir.join("casefile.yaml");
    std::fs::write(
        &p,
        format!(
            r#"report: {{ template: {template} }}
runtime: {{ cache_dir: {cache} }}
components:
  masker: {{ kind: masker, source: "builtin:masker-default" }}
  redmine: {{ kind: ticket-mapper, source: "builtin:ticket-redmine" }}
ticket:
  endpoint: "{endpoint}"
  retry_base_ms: 100
  retry_max_ms: 1000
  poll_interval_secs: 1
  settings: {settings}
  credentials: {{ scheme: header, header: X-Redmine-API-Key, from_file: "{key_file}" }}
regression: {{ url: "http://{runner}/internal/debug/regression/run" }}
default: {{ masker: masker, sources: [], ticket_mapper: redmine, owners: [team-checkout] }}
tenants:
  default: {{}}
"#,
            template = template.display(),
            cache = shared_cache_dir().display(),
            endpoint = redmine.base,
            key_file = key_file.display(),
        ),
    )
    .unwrap();
    p
}

async fn diagnose(host: &Host, event: &str, message: &str) -> String {
    let (status, created) = host
        .post("/internal/debug/report", &json!({"error_event_id": event, "tenant": "default", "plugin": {"id": "checkout"}, "environments": ["prod"], "message": message}))
        .await;
    assert_eq!(status, 202, "{created}");
    created["task_id"].as_str().expect("task id").to_string()
}

/// Waits until `check` of Redmine's issue holds (casefile delivers in the background).
async fn until_issue(redmine: &Redmine, id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let i = redmine.issue(id).await;
        if check(&i) {
            return i;
        }
        assert!(Instant::now() < deadline, "Redmine issue {id}: {what} did not happen in 60 s; last: {i:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn ticket_audit(host: &Host) -> Vec<Value> {
    let (_, audit) = host.get("/internal/audit").await;
    audit["entries"].as_array().cloned().unwrap_or_default().into_iter().filter(|e| e["actor"] == "ticket-system").collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_loop_against_a_real_redmine() {
    let dir = tempfile::tempdir().unwrap();
    let redmine_dir = dir.path().join("redmine");
    std::fs::create_dir_all(&redmine_dir).unwrap();
    let redmine = Redmine::start(&redmine_dir);
    let tickets = Tickets::default();
    *tickets.regression_passes.lock().unwrap() = true;
    let runner = start_tickets(tickets.clone()).await;
    let host = Host::start(&config(dir.path(), &redmine, &runner.to_string(), r#"{"project_id": "casefile"}"#), &dir.path().join("data"));
    let message = "card token rejected by the payment gateway";

    // The first diagnosis opens an issue in the project.
    let a = diagnose(&host, "rm-1", message).await;
    let ta = host.wait_state(&a, &["awaiting_fix", "failed"], 90).await;
    assert_eq!(ta["state"], "awaiting_fix", "{ta:#}");
    let id = ta["ticket"]["id"].as_str().expect("a ticket id").to_string();
    assert!(id.parse::<u64>().is_ok(), "a Redmine issue id: {ta:#}");
    assert_eq!(ta["ticket"]["url"].as_str(), Some(format!("{}/issues/{id}", redmine.base).as_str()), "{ta:#}");
    let issue = redmine.issue(&id).await;
    assert_eq!((issue["project"]["name"].as_str(), issue["status"]["id"].as_u64()), (Some("casefile"), Some(1)), "{issue:#}");
    let description = issue["description"].as_str().unwrap_or_default();
    assert!(description.contains(&format!("casefile task {a}")) && description.contains("Owners: team-checkout"), "{description}");
    assert!(!issue["subject"].as_str().unwrap_or_default().is_empty(), "{issue:#}");

    // A recurrence adds a note to the same issue.
    let b = diagnose(&host, "rm-2", message).await;
    assert_eq!(host.wait_state(&b, &["awaiting_fix", "failed"], 60).await["ticket"]["id"].as_str(), Some(id.as_str()));
    let notes = redmine.notes(&id).await;
    assert!(notes.iter().any(|n| n.starts_with("Seen again: occurrence 2")), "{notes:?}");

    // The fix passes regression: casefile closes the issue (status 5, Closed).
    let (status, _) = host.post(&format!("/internal/debug/report/{a}/regression"), &json!({"ref": "fix-1"})).await;
    assert_eq!(status, 202);
    assert_eq!(host.wait_state(&a, &["closed", "failed"], 60).await["state"], "closed");
    let closed = until_issue(&redmine, &id, "the close", |i| i["status"]["id"] == 5).await;
    assert_eq!(closed["status"]["is_closed"], true);

    // It comes back: the same issue is reopened (status 1, New) with a regression note.
    let c = diagnose(&host, "rm-3", message).await;
    let tc = host.wait_state(&c, &["awaiting_fix", "failed"], 60).await;
    assert_eq!((tc["state"].as_str(), tc["ticket"]["id"].as_str()), (Some("awaiting_fix"), Some(id.as_str())), "{tc:#}");
    until_issue(&redmine, &id, "the reopen", |i| i["status"]["id"] == 1).await;
    assert!(redmine.notes(&id).await.iter().any(|n| n.starts_with("Regression:")), "{:?}", redmine.notes(&id).await);
    assert!(ticket_audit(&host).await.is_empty(), "casefile's own changes are not taken for a person's: {:#?}", ticket_audit(&host).await);

    // A person assigns the issue, then closes it, in Redmine: the poll records the
    // assignment and closes the waiting tasks as `closed (manual)`.
    redmine.change(&id, json!({"assigned_to_id": 1, "notes": "mine"})).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ticket_audit(&host).await.iter().any(|e| e["action"] == "ticket.assigned") {
        assert!(Instant::now() < deadline, "the assignment was not recorded in 30 s: {:#?}", ticket_audit(&host).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    redmine.change(&id, json!({"status_id": 5, "notes": "fixed by hand"})).await;
    let tc = host.wait_state(&c, &["closed"], 30).await;
    assert!(tc.to_string().contains("closed (manual)"), "the task says a person closed it: {tc:#}");
    assert_eq!(host.wait_state(&b, &["closed"], 10).await["state"], "closed", "every task waiting on the issue");

    // And reopens it: the latest task waits for a fix again.
    redmine.change(&id, json!({"status_id": 2, "notes": "not fixed after all"})).await;
    assert_eq!(host.wait_state(&c, &["awaiting_fix"], 30).await["state"], "awaiting_fix");
    let actions: Vec<String> = ticket_audit(&host).await.iter().filter_map(|e| e["action"].as_str().map(str::to_string)).collect();
    assert_eq!(actions, ["ticket.assigned", "ticket.closed", "ticket.reopened"], "each change once");

    // The key stayed in the host: not in its log.
    assert!(!host.log().contains(&redmine.key), "the API key leaked into the host's log");
    drop(host);

    // Redmine refuses an issue for a project it does not have (422): the create is
    // refused once, not retried, and the task keeps Redmine's own words.
    let (_, before) = redmine.call(reqwest::Method::GET, "/issues.json?status_id=*", None).await;
    let other = dir.path().join("refused");
    std::fs::create_dir_all(&other).unwrap();
    let host = Host::start(&config(&other, &redmine, "127.0.0.1:9", r#"{"project_id": "no-such-project"}"#), &other.join("data"));
    let task = diagnose(&host, "rm-refused", "connection pool exhausted").await;
    let t = host.wait_state(&task, &["awaiting_fix", "failed"], 90).await;
    let delivery = &t["ticket"]["delivery"];
    assert_eq!((delivery["state"].as_str(), delivery["attempts"].as_i64()), (Some("rejected"), Some(1)), "{t:#}");
    let answer = delivery["answer"].as_str().unwrap_or_default();
    assert!(answer.contains("422") && answer.contains("Project cannot be blank"), "Redmine's reason: {answer}");
    let (_, after) = redmine.call(reqwest::Method::GET, "/issues.json?status_id=*", None).await;
    assert_eq!(after["total_count"], before["total_count"], "no issue was opened");
}
