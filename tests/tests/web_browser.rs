//! The dashboard in a real browser: Debian's chromium driven headless through chromedriver
//! (WebDriver, with fantoccini). Opens the overview, filters it, opens a job and finds one
//! chart bar per run, opens the failed run and finds its failed step marked; then reads the
//! overview again with JavaScript switched off. Screenshots of each page are written to
//! `target/tmp/web-screenshots/` (test artifacts; the README's pictures come from there).

use fantoccini::{Client, ClientBuilder, Locator};
use jobmon_tests::closed_port;
use jobmon_tests::web::{History, WebServer};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tracker");
const PAGE: usize = 20;

/// chromedriver on a free port; killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let port = closed_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "start chromedriver (Debian package chromium-driver, installed by tests/setup.sh)",
            );
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(driver: &Driver, javascript: bool) -> Client {
    let mut options = serde_json::json!({
        "binary": "/usr/bin/chromium",
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,900", "--hide-scrollbars"],
    });
    if !javascript {
        options["prefs"] = serde_json::json!({
            "profile.managed_default_content_settings.javascript": 2
        });
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    ClientBuilder::native()
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a chromium session")
}

fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    dir
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(artifacts().join(name), png).expect("write the screenshot");
}

async fn texts(c: &Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in c.find_all(Locator::Css(css)).await.expect(css) {
        out.push(e.text().await.unwrap_or_default());
    }
    out
}

async fn click(c: &Client, what: Locator<'_>) {
    c.find(what).await.unwrap().click().await.unwrap();
}

/// Types `name` into the filter form and submits it with its button.
async fn filter_by_name(c: &Client, web: &WebServer, name: &str) {
    let input = c.find(Locator::Css("input[name=name]")).await.unwrap();
    input.send_keys(name).await.unwrap();
    click(c, Locator::Css("form.filters button")).await;
    let url = url::Url::parse(&web.url(&format!("/?name={name}&state="))).unwrap();
    c.wait().for_url(&url).await.unwrap();
}

#[test]
fn a_browser_filters_the_overview_opens_a_job_and_its_failed_run() {
    let h = History::new(BIN, PAGE, "web_browser");
    let web = h.start("");
    let jobs = h.expected_states().len();
    let driver = Driver::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(in_the_browser(&driver, &web, jobs));
}

async fn in_the_browser(driver: &Driver, web: &WebServer, jobs: usize) {
    let c = browser(driver, true).await;

    c.goto(&web.url("/")).await.unwrap();
    let all = texts(&c, "table.jobs td.name").await;
    assert_eq!(all.len(), jobs, "{all:?}");
    screenshot(&c, "overview.png").await;

    // Filter by name through the form.
    filter_by_name(&c, web, "nightly").await;
    assert_eq!(texts(&c, "table.jobs td.name").await, ["NIGHTLY_LOAD"]);

    // The state filter applies on change (the page's one script).
    c.goto(&web.url("/")).await.unwrap();
    click(
        &c,
        Locator::Css("select[name=state] option[value=CRITICAL]"),
    )
    .await;
    c.wait()
        .for_element(Locator::Css(
            "select[name=state] option[value=CRITICAL][selected]",
        ))
        .await
        .unwrap();
    let states = texts(&c, "table.jobs td .state").await;
    assert!(
        !states.is_empty() && states.iter().all(|s| s == "CRITICAL"),
        "{states:?}"
    );

    // A job: one bar per run in the chart, the failed run marked.
    c.goto(&web.url("/?name=nightly")).await.unwrap();
    click(&c, Locator::LinkText("NIGHTLY_LOAD")).await;
    c.wait()
        .for_element(Locator::Css("svg.durations"))
        .await
        .unwrap();
    let rows = c
        .find_all(Locator::Css("table.runs tbody tr"))
        .await
        .unwrap();
    let bars = c
        .find_all(Locator::Css("svg.durations rect.bar"))
        .await
        .unwrap();
    assert_eq!(rows.len(), PAGE);
    assert_eq!(bars.len(), rows.len(), "one bar per run");
    let failed_bars = c
        .find_all(Locator::Css("svg.durations rect.bar.failed"))
        .await
        .unwrap();
    assert_eq!(failed_bars.len(), 1);
    screenshot(&c, "job.png").await;

    // The failed run: its failed step highlighted.
    click(&c, Locator::Css("table.runs tr.run.failed a")).await;
    let step = c
        .wait()
        .for_element(Locator::Css("tr#failed-step"))
        .await
        .unwrap();
    let text = step.text().await.unwrap();
    assert!(
        text.contains("transform") && text.contains("ORA-01555"),
        "{text}"
    );
    screenshot(&c, "run.png").await;

    c.goto(&web.url("/timeline?range=7d")).await.unwrap();
    let lanes = c
        .find_all(Locator::Css("svg.timeline text.lane-name"))
        .await
        .unwrap();
    assert!(!lanes.is_empty());
    screenshot(&c, "timeline.png").await;
    c.close().await.unwrap();

    // Without JavaScript the pages still read, and the form still filters.
    let c = browser(driver, false).await;
    c.goto(&web.url("/")).await.unwrap();
    assert_eq!(texts(&c, "table.jobs td.name").await.len(), jobs);
    filter_by_name(&c, web, "failing").await;
    assert_eq!(texts(&c, "table.jobs td.name").await, ["FAILING_JOB"]);
    c.close().await.unwrap();
}
