//! The dashboard (`jobmon-tracker web`) against a real cluster with a generated history:
//! in-database jobs (a nightly job with 60 runs and one failure, one failing three times,
//! one running, one late by its job_check_config, one named like a script) and tracked jobs
//! (stored and evaluated by `run --once`). Every page and its API twin are checked for
//! content, paging and filters, the escaping of producers' text, and the refusals: an
//! exposed address without TLS and authentication, missing and wrong passwords, a proxy
//! header from elsewhere, plain HTTP on the TLS port.

use jobmon_tests::tls::Pki;
use jobmon_tests::tracker::{toml_str, TrackerProcess};
use jobmon_tests::wait_until;
use jobmon_tests::web::{get, get_tls, raw_exchange, History, WebServer};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_tracker");
const XSS: &str = "<script>alert(1)</script>";
const PAGE: usize = 4;

fn api_jobs(web: &WebServer, query: &str) -> Vec<serde_json::Value> {
    let r = web.get(&format!("/api/jobs?{query}"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["jobs"].as_array().cloned().unwrap_or_default()
}

fn names(jobs: &[serde_json::Value]) -> Vec<String> {
    jobs.iter()
        .map(|j| j["job_name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn overview_lists_every_job_with_its_state_paged_and_filtered() {
    let h = History::new(BIN, PAGE, "web_overview");
    let web = h.start("");
    let expected = h.expected_states();
    let first = web.get("/api/jobs").json();
    assert_eq!(first["total"].as_u64(), Some(expected.len() as u64));
    // All pages together: every job once.
    let mut seen = Vec::new();
    let pages = expected.len().div_ceil(PAGE);
    for page in 1..=pages {
        let jobs = api_jobs(&web, &format!("page={page}"));
        assert!(jobs.len() <= PAGE);
        seen.extend(jobs);
    }
    let listed: BTreeSet<String> = names(&seen).into_iter().collect();
    assert_eq!(listed.len(), seen.len(), "a job on two pages: {seen:?}");
    assert_eq!(listed, expected.keys().cloned().collect::<BTreeSet<_>>());
    let state = |name: &str| {
        seen.iter()
            .find(|j| j["job_name"] == name)
            .and_then(|j| j["state"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    // Tracked jobs carry the tracker's state; the others check_job_status()'s.
    for (name, tracked) in &expected {
        if let Some(s) = tracked {
            assert_eq!(&state(name), s, "{name}");
        }
    }
    assert_eq!(state("FAILING_JOB"), "CRITICAL");
    assert_eq!(state("LATE_JOB"), "CRITICAL");
    assert_eq!(state("NIGHTLY_LOAD"), "OK");
    let running = seen
        .iter()
        .find(|j| j["job_name"] == "RUNNING_JOB")
        .unwrap();
    assert_eq!(running["last_run_outcome"], "running");
    let backup = seen.iter().find(|j| j["job_name"] == "BACKUP__P").unwrap();
    assert_eq!(backup["tracked"], true);
    assert!(backup["next_due"].is_string(), "{backup}");

    // Filters: by state, by part of a name (any case), both; the counts follow the name.
    let critical = api_jobs(&web, "state=CRITICAL");
    assert!(critical.iter().all(|j| j["state"] == "CRITICAL"));
    let crit_names = names(&critical);
    assert!(crit_names.contains(&"FAILING_JOB".into()) && crit_names.contains(&"LATE_JOB".into()));
    assert_eq!(names(&api_jobs(&web, "name=nightly")), ["NIGHTLY_LOAD"]);
    assert!(api_jobs(&web, "name=nightly&state=CRITICAL").is_empty());
    let counted = web.get("/api/jobs?name=_JOB").json();
    assert_eq!(counted["counts"]["critical"], 2, "{counted}");
    assert_eq!(web.get("/api/jobs?state=BROKEN").status, 400);
    assert_eq!(web.get("/api/jobs?page=0").status, 400);

    // The page: the same jobs, a filter form, a refresh, pager links.
    let page = web.get("/?state=CRITICAL");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("FAILING_JOB") && page.body.contains("LATE_JOB"));
    assert!(!page.body.contains(">NIGHTLY_LOAD<"));
    assert!(page.body.contains("<form class=\"filters\""));
    assert!(page.body.contains("http-equiv=\"refresh\""));
    let all = web.get("/");
    assert!(all.body.contains("rel=\"next\""), "paged: {}", all.body);
}

#[test]
fn job_page_pages_runs_newest_first_with_a_duration_chart() {
    let h = History::new(BIN, PAGE, "web_job");
    let web = h.start("");
    let failed = h.job_id("NIGHTLY_LOAD", "CRITICAL");
    let mut starts = Vec::new();
    let mut failed_page = None;
    for page in 1..=60usize.div_ceil(PAGE) {
        let j = web
            .get(&format!("/api/job?name=NIGHTLY_LOAD&page={page}"))
            .json();
        assert_eq!(j["runs_total"], 60);
        let runs = j["runs"].as_array().unwrap();
        assert_eq!(runs.len(), PAGE);
        for r in runs {
            starts.push(r["start_time"].as_str().unwrap().to_owned());
            if r["job_id"] == failed {
                failed_page = Some(page);
                assert_eq!(r["outcome"], "failed");
                assert_eq!(r["errors"], 1);
            }
        }
    }
    let mut sorted = starts.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(starts, sorted, "newest first across pages");
    assert_eq!(starts.iter().collect::<BTreeSet<_>>().len(), 60);
    let failed_page = failed_page.expect("the failed run is on some page");

    let html = web
        .get(&format!("/job?name=NIGHTLY_LOAD&page={failed_page}"))
        .body;
    assert_eq!(
        html.matches("<rect class=\"bar ").count(),
        PAGE,
        "one bar per run"
    );
    assert_eq!(html.matches("<rect class=\"bar failed\"").count(), 1);
    assert_eq!(html.matches("class=\"fail-mark\"").count(), 1);
    assert!(html.contains(&format!("href=\"/run/{failed}\"")));
    let other = web.get("/job?name=NIGHTLY_LOAD&page=1").body;
    if failed_page != 1 {
        assert!(!other.contains("class=\"fail-mark\""));
    }

    // A tracked job: its schedule in words and its timeout line.
    let backup = web.get("/job?name=BACKUP__P");
    assert_eq!(backup.status, 200);
    assert!(backup.body.contains("cyclic, every 1h"), "{}", backup.body);
    assert!(backup.body.contains("class=\"timeout\""));
    let api = web.get("/api/job?name=BACKUP__P").json();
    assert_eq!(api["timeout_seconds"], 1800.0);
    assert_eq!(web.get("/job?name=NO_SUCH_JOB").status, 404);
    assert_eq!(web.get("/api/job").status, 400);
}

#[test]
fn run_page_shows_the_steps_with_the_failed_one_highlighted() {
    let h = History::new(BIN, PAGE, "web_run");
    let web = h.start("");
    let failed = h.job_id("NIGHTLY_LOAD", "CRITICAL");
    let page = web.get(&format!("/run/{failed}"));
    assert_eq!(page.status, 200);
    let body = &page.body;
    let failed_row = body
        .find("id=\"failed-step\"")
        .expect("the failed step is marked");
    let row_end = body[failed_row..].find("</tr>").unwrap() + failed_row;
    let row = &body[failed_row..row_end];
    assert!(
        row.contains("transform") && row.contains("ORA-01555: snapshot too old"),
        "{row}"
    );
    assert_eq!(body.matches("class=\"step failed\"").count(), 1);
    assert!(body.contains("extract") && body.contains("1200 rows"));

    let api = web.get(&format!("/api/run/{failed}")).json();
    assert_eq!(api["job_name"], "NIGHTLY_LOAD");
    assert_eq!(api["outcome"], "failed");
    let steps = api["steps"].as_array().unwrap();
    let actions: Vec<&str> = steps
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["extract", "transform", "load"], "in step order");
    let flagged: Vec<bool> = steps.iter().map(|s| s["failed"] == true).collect();
    assert_eq!(flagged, [false, true, false]);

    // The tracked job's error event is a step too, its text escaped.
    let backup = web.get("/api/job?name=BACKUP__P").json();
    let id = backup["runs"][0]["job_id"].as_i64().unwrap();
    let run = web.get(&format!("/run/{id}")).body;
    assert!(run.contains("tape &lt;b&gt;jammed&lt;/b&gt;"), "{run}");
    assert_eq!(web.get("/run/999999999").status, 404);
    assert_eq!(web.get("/run/abc").status, 400);
    assert!(web.get("/api/run/abc").json()["error"].is_string());
}

#[test]
fn a_job_named_like_a_script_is_shown_as_text() {
    let h = History::new(BIN, PAGE, "web_escape");
    let web = h.start("");
    for path in [
        "/?name=script".to_owned(),
        "/?name=%3C&state=OK".to_owned(),
        format!("/job?name={}", "%3Cscript%3Ealert%281%29%3C%2Fscript%3E"),
        "/timeline".to_owned(),
    ] {
        let r = web.get(&path);
        assert_eq!(r.status, 200, "{path}");
        assert!(
            !r.body.contains(XSS),
            "{path} carries the script: {}",
            r.body
        );
        assert!(
            r.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path} shows the name: {}",
            r.body
        );
        assert_eq!(
            r.header("content-security-policy"),
            Some(tracker_worker::web::CSP)
        );
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    }
    // The JSON is JSON: the name comes back as it was stored.
    let j = web.get("/api/jobs?name=script").json();
    assert_eq!(j["jobs"][0]["job_name"], XSS);
}

#[test]
fn timeline_health_metrics_and_assets() {
    let h = History::new(BIN, PAGE, "web_misc");
    let web = h.start("");
    let t = web.get("/api/timeline?range=24h").json();
    let from = t["from"].as_str().unwrap().to_owned();
    let jobs = t["jobs"].as_array().unwrap();
    let lane_names = names(jobs);
    assert!(lane_names.contains(&"FAILING_JOB".into()) && lane_names.contains(&"BACKUP__P".into()));
    for j in jobs {
        for r in j["runs"].as_array().unwrap() {
            assert!(r["start_time"].as_str().unwrap() >= from.as_str(), "{r}");
        }
    }
    let failing = jobs
        .iter()
        .find(|j| j["job_name"] == "FAILING_JOB")
        .unwrap();
    assert_eq!(failing["runs"].as_array().unwrap().len(), 3);
    let week = web.get("/api/timeline?range=7d").json();
    let nightly = week["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job_name"] == "NIGHTLY_LOAD")
        .expect("a week holds nightly runs");
    assert!(matches!(nightly["runs"].as_array().unwrap().len(), 6 | 7));
    // The daily tracked job's latest starts are marked.
    let report = week["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job_name"] == "REPORT__P")
        .expect("a tracked job has a lane without runs");
    assert!(report["runs"].as_array().unwrap().is_empty());
    let deadlines = report["deadlines"].as_array().unwrap();
    assert!(
        matches!(deadlines.len(), 6 | 7),
        "daily over a week: {deadlines:?}"
    );
    for d in deadlines {
        let d = d.as_str().unwrap();
        assert!(d.contains("T00:11:00"), "00:01 UTC plus 10 min: {d}");
    }
    let page = web.get("/timeline?range=7d");
    assert!(page.body.contains("<svg class=\"chart timeline\""));
    assert!(page.body.contains("class=\"bar failed\""));
    assert_eq!(web.get("/timeline?range=1y").status, 400);

    let health = web.get("/healthz");
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    let metrics = web.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .body
            .contains("jobmon_job_state{job_name=\"backup\",env=\"p\"}"),
        "{}",
        metrics.body
    );
    let css = web.get("/static/style.css");
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
    assert!(css.body.contains(".state.critical"));
    assert!(web.get("/static/app.js").body.contains("addEventListener"));
    assert_eq!(web.get("/nothing").status, 404);
}

/// A users file with `user`'s password hashed by `web --hash-password`.
fn users_file(dir: &Path, user: &str, password: &str) -> PathBuf {
    let mut child = Command::new(BIN)
        .args(["web", "--hash-password"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let hash = String::from_utf8(out.stdout).unwrap();
    assert!(hash.starts_with("$argon2id$") && !hash.contains(password));
    let path = dir.join("users");
    fs::write(&path, format!("{user}:{}", hash.trim())).unwrap();
    path
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[test]
fn an_exposed_address_needs_tls_and_authentication_or_insecure() {
    let h = History::new(BIN, PAGE, "web_exposed");
    let config = h.config("listen = \"0.0.0.0:0\"");
    // The table has `listen` twice otherwise: write it without the first.
    let text = fs::read_to_string(&config)
        .unwrap()
        .replacen("listen = \"127.0.0.1:0\"\n", "", 1);
    fs::write(&config, &text).unwrap();
    let err = WebServer::start(BIN, &config, &h.dir.path().join("refused.log"))
        .err()
        .expect("refused");
    assert_eq!(err.code, Some(1));
    assert!(
        err.stderr.contains("key `web.listen`") && err.stderr.contains("TLS and authentication"),
        "{}",
        err.stderr
    );
    let check = Command::new(BIN)
        .args(["config", "check"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(1));

    fs::write(&config, format!("{text}insecure = true\n")).unwrap();
    let web = WebServer::start(BIN, &config, &h.dir.path().join("insecure.log"))
        .unwrap_or_else(|f| panic!("{f:?}"));
    assert!(
        web.log_text().contains("insecure = true"),
        "{}",
        web.log_text()
    );
    assert_eq!(get(web.addr, "/healthz", &[]).status, 200);
}

#[test]
fn basic_authentication_refuses_missing_and_wrong_passwords() {
    let h = History::new(BIN, PAGE, "web_basic");
    let users = users_file(h.dir.path(), "ana", "c0rrect horse");
    let web = h.start(&format!(
        "users_file = {}",
        toml_str(&users.to_string_lossy())
    ));
    let none = web.get("/");
    assert_eq!(none.status, 401);
    assert!(none
        .header("www-authenticate")
        .unwrap()
        .starts_with("Basic"));
    assert!(!none.body.contains("NIGHTLY_LOAD"));
    let wrong = get(
        web.addr,
        "/api/jobs",
        &[("Authorization", &basic("ana", "wrong"))],
    );
    assert_eq!(wrong.status, 401);
    let unknown = get(
        web.addr,
        "/api/jobs",
        &[("Authorization", &basic("bob", "c0rrect horse"))],
    );
    assert_eq!(unknown.status, 401);
    let ok = get(
        web.addr,
        "/api/jobs?name=nightly",
        &[("Authorization", &basic("ana", "c0rrect horse"))],
    );
    assert_eq!(ok.status, 200);
    assert!(ok.body.contains("NIGHTLY_LOAD"));
    // The health check needs no credentials and tells nothing.
    assert_eq!(web.get("/healthz").status, 200);
    assert!(!web.log_text().contains("c0rrect"), "a password in the log");
}

#[test]
fn tls_serves_https_and_refuses_plain_http() {
    let h = History::new(BIN, PAGE, "web_tls");
    let pki = Pki::new(&h.dir.path().join("pki"));
    pki.leaf("web", "localhost", Some("DNS:localhost,IP:127.0.0.1"));
    let users = users_file(h.dir.path(), "ana", "pw");
    let extra = format!(
        "tls_cert = {}\ntls_key = {}\nusers_file = {}",
        toml_str(&pki.path("web.crt").to_string_lossy()),
        toml_str(&pki.path("web.key").to_string_lossy()),
        toml_str(&users.to_string_lossy())
    );
    let config = h.config(&extra);
    let text = fs::read_to_string(&config).unwrap().replacen(
        "listen = \"127.0.0.1:0\"",
        "listen = \"0.0.0.0:0\"",
        1,
    );
    fs::write(&config, text).unwrap();
    let web = WebServer::start(BIN, &config, &h.dir.path().join("tls.log"))
        .unwrap_or_else(|f| panic!("{f:?}"));
    assert!(web.tls);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], web.addr.port()));
    let ca = pki.path("ca.crt");
    let auth = basic("ana", "pw");
    let ok = get_tls(
        addr,
        &ca,
        "localhost",
        "/api/jobs?name=nightly",
        &[("Authorization", &auth)],
    )
    .unwrap();
    assert_eq!(ok.status, 200);
    assert!(ok.body.contains("NIGHTLY_LOAD"));
    let anonymous = get_tls(addr, &ca, "localhost", "/", &[]).unwrap();
    assert_eq!(anonymous.status, 401);
    // Plain HTTP on the TLS port gets no HTTP answer and no data.
    let plain = raw_exchange(addr, "/api/jobs");
    assert!(
        !plain.starts_with(b"HTTP/"),
        "{:?}",
        String::from_utf8_lossy(&plain)
    );
    assert!(!String::from_utf8_lossy(&plain).contains("NIGHTLY_LOAD"));
    // A certificate the client does not trust: the handshake fails.
    let other = Pki::new(&h.dir.path().join("other"));
    assert!(get_tls(addr, &other.path("ca.crt"), "localhost", "/", &[]).is_err());
    drop(web);

    // A key others may read is refused at the start, as libpq refuses one.
    jobmon_tests::tls::set_mode(&pki.path("web.key"), 0o644);
    let err = WebServer::start(BIN, &config, &h.dir.path().join("open-key.log"))
        .err()
        .expect("refused");
    assert_eq!(err.code, Some(1));
    assert!(
        err.stderr.contains("has group or world access"),
        "{}",
        err.stderr
    );
}

#[test]
fn a_proxy_header_counts_only_from_the_trusted_proxies() {
    let h = History::new(BIN, PAGE, "web_proxy");
    let web = h.start("auth_header = \"X-Remote-User\"\ntrusted_proxies = [\"127.0.0.1\"]");
    assert_eq!(web.get("/").status, 403);
    let ok = get(web.addr, "/", &[("X-Remote-User", "carol")]);
    assert_eq!(ok.status, 200);
    drop(web);
    let elsewhere = h.start("auth_header = \"X-Remote-User\"\ntrusted_proxies = [\"192.0.2.1\"]");
    assert_eq!(
        get(elsewhere.addr, "/", &[("X-Remote-User", "carol")]).status,
        403
    );
}

#[test]
fn a_read_only_role_is_enough() {
    let h = History::new(BIN, PAGE, "web_read_only");
    let role = h.db.create_role("web", "");
    // The grants of the README's dashboard section.
    h.db.connect()
        .batch_execute(&format!(
            "GRANT USAGE ON SCHEMA jobmon TO \"{role}\";
             GRANT SELECT ON jobmon.job_log, jobmon.job_detail, jobmon.job_check_log,
                   jobmon.job_check_config, jobmon.job_status_text, jobmon.tracker_job_state
                   TO \"{role}\";
             GRANT SELECT ON jobmon.tracker_message, jobmon.tracker_source TO \"{role}\";
             GRANT pg_read_all_stats TO \"{role}\";"
        ))
        .unwrap();
    let config = h.config("");
    let superuser = format!("user = {}", toml_str(&jobmon_tests::cluster().superuser));
    let text = fs::read_to_string(&config).unwrap().replacen(
        &superuser,
        &format!("user = {}", toml_str(&role)),
        1,
    );
    fs::write(&config, text).unwrap();
    let web = WebServer::start(BIN, &config, &h.dir.path().join("ro.log"))
        .unwrap_or_else(|f| panic!("{f:?}"));
    let failed = h.job_id("NIGHTLY_LOAD", "CRITICAL");
    for path in [
        "/".to_owned(),
        "/api/jobs?state=CRITICAL".to_owned(),
        "/job?name=NIGHTLY_LOAD".to_owned(),
        format!("/run/{failed}"),
        "/timeline?range=7d".to_owned(),
        "/metrics".to_owned(),
    ] {
        let r = web.get(&path);
        assert_eq!(r.status, 200, "{path} as {role}: {}", r.body);
    }
    assert_eq!(
        web.get("/api/jobs").json()["total"],
        h.expected_states().len()
    );
    // And it cannot write: the role has no INSERT anywhere.
    let mut c = h.db.connect_as(&role);
    assert!(c
        .batch_execute("INSERT INTO jobmon.job_check_config (job_name, warn_threshold, error_threshold) VALUES ('X', '1h', '2h')")
        .is_err());
}

#[test]
fn run_serves_the_dashboard_beside_the_daemon() {
    let h = History::new(BIN, PAGE, "web_in_run");
    let config = h.config("");
    let log = h.dir.path().join("run.log");
    let mut tracker = TrackerProcess::spawn(BIN, &config, &log);
    let mut url = None;
    let found = wait_until(Duration::from_secs(30), || {
        url = tracker.log_text().lines().find_map(|l| {
            l.split("run: dashboard at http://")
                .nth(1)
                .map(str::to_owned)
        });
        url.is_some()
    });
    assert!(found, "no dashboard line: {}", tracker.log_text());
    let addr: std::net::SocketAddr = url.unwrap().trim_end_matches('/').parse().unwrap();
    let jobs = get(addr, "/api/jobs?name=backup", &[]).json();
    assert_eq!(jobs["jobs"][0]["job_name"], "BACKUP__P");
    tracker.signal(libc::SIGTERM);
    let status = tracker.wait_exit(Duration::from_secs(30)).expect("exits");
    assert!(status.success(), "{status:?}: {}", tracker.log_text());
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still listening"
    );
}
