"""The review console in a real browser (Debian's Chromium, driven by Selenium through its
ChromeDriver), against a real OpenLDAP, on runs of the shared demo.

Two of the demo's runs are copied (their manifests; the output tables are read where the demo
wrote them) into a folder of this module's own, so nothing here decides a run that the pipeline
test reviews. The two-checker rule is walked through the console and the CLI: one approval in each,
and nothing is released before the second.
"""

import json
import shutil
import ssl
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from pooling.console import server
from pooling.console.app import create_app
from pooling.console.desk import Desk
from pooling.console.signin import Directory
from pooling.core.audit import current_actor
from pooling.core.config import Conf
from pooling.core.zones import Zones
from pooling.outputs.manifest import MANIFEST
from tests.system.directory import BASE_DN, REPO, directory

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
REVIEWERS = ("reviewer_a", "reviewer_b", "author_c")  # author_c ran the copied runs
# Its outputs fail the threshold and dominance and pass once suppressed (at 4,000 persons).
PROJECT = "education_labour"
SCREENSHOT = REPO / ".cache" / "console-run.png"  # the README's picture is taken from it

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (make browser, as root)",
)


@pytest.fixture(scope="module")
def ldap(tmp_path_factory):
    with directory(tmp_path_factory.mktemp("ldap"), (*REVIEWERS, "stranger")) as d:
        yield d


@pytest.fixture(scope="module")
def desk_site(demo, spark_session, tmp_path_factory):
    """conf/ with this module's reviewers (and the OS user, who approves in the CLI), and a data
    root holding two copies of the demo's education_labour run, by author_c."""
    _, demo_zones, _ = demo
    d = tmp_path_factory.mktemp("console")
    conf_dir = d / "conf"
    shutil.copytree(REPO / "conf", conf_dir)
    (d / ".cache").symlink_to(REPO / ".cache")  # the jars, beside conf/ as in a repository
    (conf_dir / "review.yaml").write_text(
        yaml.safe_dump({"reviewers": [*REVIEWERS, current_actor()], "session_minutes": 30})
    )
    zones = Zones.under(d / "data")
    run_dir = sorted(Path(demo_zones.outputs(PROJECT)).glob(f"*/{MANIFEST}"))[0].parent
    refs = {}
    # Two runs of the same outputs (their ids a microsecond apart), by author_c: one is
    # approved by two checkers, on the other two checkers disagree.
    # The second id differs in its last microsecond digit (whatever the first one's was).
    twin = run_dir.name[:-2] + ("8" if run_dir.name[-2] == "9" else "9") + "Z"
    for which, run_id in (("approved", run_dir.name), ("disputed", twin)):
        manifest = json.loads((run_dir / MANIFEST).read_text())
        manifest |= {"author": "author_c", "run_id": run_id}
        target = Path(zones.outputs(PROJECT, run_id))
        target.mkdir(parents=True)
        (target / MANIFEST).write_text(json.dumps(manifest, indent=2))
        refs[which] = f"{PROJECT}/{run_id}"
    return conf_dir, zones, refs


@pytest.fixture(scope="module")
def console(desk_site, ldap, spark_session):
    conf_dir, zones, refs = desk_site
    url, users = ldap
    desk = Desk(spark_session, Conf(conf_dir), zones)
    app = create_app(desk, Directory(url, BASE_DN), tls=False)
    httpd = server.make_server(app, "127.0.0.1", 0)
    server.start(httpd)
    yield f"http://127.0.0.1:{httpd.bind_addr[1]}", users, desk
    httpd.stop()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    options.add_argument("--window-size=1400,1000")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()


class Anyone(Directory):
    """For tests of the session and the URLs, through Flask's test client: the directory is not
    under test there (it is, against slapd, in the sign-in tests)."""

    def authenticates(self, user, password):
        return True


def _sign_in(browser, base: str, user: str, password: str) -> None:
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(f"{base}/signin")
    browser.find_element(By.ID, "user").send_keys(user)
    browser.find_element(By.ID, "password").send_keys(password)
    _submit(browser, "go")


def _submit(browser, button: str) -> None:
    """Click and wait for the next page (the old one going stale), not a moment less."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    old = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.ID, button).click()
    WebDriverWait(browser, 120).until(lambda _: _stale(old))


def _stale(element) -> bool:
    """True once ``element``'s page is gone. Chromedriver says so with a stale-element error,
    or, when the node was discarded mid-call, with an inspector error naming it (seen once in
    a run of the console test: "Node with given id does not belong to the document")."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as e:
        if "does not belong to the document" in (e.msg or ""):
            return True
        raise
    return False


def _decide(browser, verdict: str, reason: str, *, suppress: bool = False) -> str:
    from selenium.webdriver.common.by import By

    browser.find_element(By.ID, f"v-{verdict}").click()
    if suppress:
        browser.find_element(By.ID, "suppress").click()
    browser.find_element(By.ID, "reason").send_keys(reason)
    _submit(browser, "submit")
    return browser.find_element(By.ID, "flash").text


def _released(zones: Zones) -> list[Path]:
    root = Path(zones.released(""))
    return sorted(root.rglob(MANIFEST)) if root.exists() else []


def test_a_signed_out_browser_sees_only_the_sign_in_page(console, desk_site, browser):
    base, users, _ = console
    _, _, refs = desk_site
    browser.delete_all_cookies()
    for path in ("/", f"/runs/{refs['approved']}", "/released"):
        browser.get(base + path)
        assert browser.current_url.startswith(f"{base}/signin"), path
        page = browser.page_source
        assert 'id="signin"' in page and "author_c" not in page and "<table" not in page, path
    # A directory user who is not a checker, a wrong and an empty password: all stay out.
    _sign_in(browser, base, "stranger", users["stranger"])
    assert "is not an output checker" in browser.page_source
    _sign_in(browser, base, "reviewer_a", users["reviewer_b"])
    assert "Wrong user name or password" in browser.page_source
    browser.get(base + "/")
    assert browser.current_url.startswith(f"{base}/signin")


def test_sign_in_binds_to_the_directory_and_refuses_an_unauthenticated_bind(ldap):
    url, users = ldap
    d = Directory(url, BASE_DN)
    assert d.authenticates("reviewer_a", users["reviewer_a"])  # positive control
    assert not d.authenticates("reviewer_a", users["reviewer_b"])
    # An empty password is an unauthenticated bind, which slapd accepts as anonymous.
    assert not d.authenticates("reviewer_a", "")
    assert not d.authenticates("reviewer_a,ou=people", users["reviewer_a"])
    assert not Directory("ldap://127.0.0.1:9", BASE_DN, 2).authenticates("x", "y")


def test_two_checkers_through_console_and_cli_release_exactly_what_was_approved(
    console, desk_site, browser, spark_session, monkeypatch, capsys
):
    from selenium.webdriver.common.by import By

    from pooling import cli

    base, users, desk = console
    conf_dir, zones, refs = desk_site
    ref = refs["approved"]

    # The author may sign in (a checker too) but may not review their own run.
    _sign_in(browser, base, "author_c", users["author_c"])
    browser.get(f"{base}/runs/{ref}")
    assert "ran " + ref in _decide(browser, "approve", "mine", suppress=True)
    assert "may not review it" in browser.find_element(By.ID, "flash").text

    # A checker walks the queue: project, author, age and the worst check of every run.
    _sign_in(browser, base, "reviewer_a", users["reviewer_a"])
    listed = browser.find_elements(By.CSS_SELECTOR, "#queue tr[data-ref]")
    rows = {r.get_attribute("data-ref"): r for r in listed}
    assert set(rows) == set(refs.values())
    assert "author_c" in rows[ref].text and "fails: dominance, threshold" in rows[ref].text
    browser.get(rows[ref].find_element(By.TAG_NAME, "a").get_attribute("href"))
    # Would-be-hidden cells are shaded, with the reason on hover; the chart before and after.
    primary = browser.find_elements(By.CSS_SELECTOR, "td.primary")
    assert primary and all(c.get_attribute("title").startswith("primary: ") for c in primary)
    secondary = browser.find_elements(By.CSS_SELECTOR, "td.secondary")
    assert all(c.get_attribute("title").startswith("secondary: ") for c in secondary)
    charts = browser.find_elements(By.CSS_SELECTOR, ".charts img")
    assert charts and all(
        browser.execute_script("return arguments[0].naturalWidth", img) > 0 for img in charts
    )
    section = browser.find_element(By.CSS_SELECTOR, "section.output")
    browser.execute_script("arguments[0].scrollIntoView()", section)
    browser.save_screenshot(str(SCREENSHOT))

    # A form without its CSRF token is refused by the CSRF check; with it (below) it is taken.
    browser.execute_script("document.querySelector('#decide [name=csrf_token]').remove()")
    browser.find_element(By.ID, "v-reject").click()
    browser.find_element(By.ID, "reason").send_keys("no token")
    _submit(browser, "submit")
    assert "Refused: The CSRF token is missing." in browser.find_element(By.ID, "refused").text
    assert desk.manifest(ref).reviews == []

    # The first approval releases nothing.
    browser.get(f"{base}/runs/{ref}")
    said = _decide(browser, "approve", "small cells suppressed", suppress=True)
    assert "1 of 2 reviews" in said, said
    assert _released(zones) == [] and desk.manifest(ref).status == "pending_review"
    browser.get(f"{base}/runs/{ref}")
    assert "already reviewed" in _decide(browser, "approve", "again", suppress=True)

    # The second, by another reviewer in the CLI (the OS account), releases what both approved.
    monkeypatch.setenv("POOLING_DATA_ROOT", str(Path(zones.roots["outputs"]).parent))
    argv = ["--conf", str(conf_dir), "review", "approve", ref, "--reason", "agreed", "--suppress"]
    assert cli.main(argv) == 0
    assert f"approved by reviewer_a and {current_actor()}" in capsys.readouterr().out
    (released,) = _released(zones)
    held = json.loads(released.read_text())
    assert held["reviewers"] == ["reviewer_a", current_actor()]
    run = desk.run(ref)
    assert set(held["outputs"]) == set(run.outputs)
    for name, o in held["outputs"].items():
        wanted = json.loads(json.dumps(run.outputs[name].suppression.public_cells(), default=str))
        assert o["suppressed"] == wanted, name
        df = spark_session.read.format("delta").load(str(released.parent / name)).toPandas()
        for c in run.outputs[name].meta.people_counts:
            assert all(v == 0 or v >= 10 for v in df[c].dropna()), (name, c)

    # The released page says what, by whom and when, with the released files.
    browser.get(f"{base}/released")
    section = browser.find_element(By.CSS_SELECTOR, f"section[data-ref='{ref}']")
    assert "reviewer_a and " + current_actor() in section.text
    link = section.find_element(By.PARTIAL_LINK_TEXT, ".csv")
    cookie = browser.get_cookie("pooling_console")["value"]
    fetch = urllib.request.Request(
        link.get_attribute("href"), headers={"Cookie": f"pooling_console={cookie}"}
    )
    with urllib.request.urlopen(fetch, timeout=30) as got:
        assert got.read() == (released.parent / link.text).read_bytes()

    # Two different reviewers who disagree send the run back with both comments.
    other = refs["disputed"]
    browser.get(f"{base}/runs/{other}")
    _decide(browser, "approve", "fine by me", suppress=True)
    _sign_in(browser, base, "reviewer_b", users["reviewer_b"])
    browser.get(f"{base}/runs/{other}")
    said = _decide(browser, "reject", "prices too precise")
    assert "disagree" in said and "fine by me" in said and "prices too precise" in said
    assert desk.manifest(other).status == "returned" and len(_released(zones)) == 1

    # Signed out, the pages are gone again.
    _submit(browser, "signout")
    browser.get(f"{base}/runs/{ref}")
    assert browser.current_url.startswith(f"{base}/signin")


def test_sessions_expire_and_cookies_are_locked_down(console, desk_site, monkeypatch):
    """Through Flask's test client: the cookie's flags with TLS on, and a session's end."""
    import pooling.console.app as console_app

    _, _, desk = console

    app = create_app(desk, Anyone("ldap://unused", BASE_DN), tls=True)
    client = app.test_client()
    page = client.get("/signin", base_url="https://localhost").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    signed = client.post(
        "/signin",
        data={"user": "reviewer_a", "password": "x", "csrf_token": token},
        base_url="https://localhost",
        headers={"Referer": "https://localhost/signin"},
    )
    cookie = signed.headers["Set-Cookie"]
    assert all(flag in cookie for flag in ("Secure", "HttpOnly", "SameSite=Strict")), cookie
    assert client.get("/released", base_url="https://localhost").status_code == 200
    later = time.time() + 31 * 60
    monkeypatch.setattr(console_app.time, "time", lambda: later)
    gone = client.get("/released", base_url="https://localhost")
    assert gone.status_code == 302 and "/signin" in gone.headers["Location"]


def test_the_console_serves_tls_and_refuses_plain_http_off_loopback(console, tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from pooling.core.errors import ConfigError

    with pytest.raises(ConfigError, match="needs TLS"):
        server.make_server(None, "0.0.0.0", 0)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "k.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    _, _, desk = console
    app = create_app(desk, Directory("ldap://unused", BASE_DN), tls=True)
    httpd = server.make_server(
        app, "127.0.0.1", 0, cert=str(tmp_path / "c.pem"), key=str(tmp_path / "k.pem")
    )
    server.start(httpd)
    try:
        trust = ssl.create_default_context(cafile=str(tmp_path / "c.pem"))
        url = f"https://localhost:{httpd.bind_addr[1]}/signin"
        with urllib.request.urlopen(url, context=trust, timeout=30) as page:
            assert page.status == 200 and "Sign in" in page.read().decode()
            assert page.headers["Cache-Control"] == "no-store"
    finally:
        httpd.stop()


def test_sign_in_goes_only_to_pages_of_the_console_and_urls_name_only_runs(console, desk_site):
    _, _, desk = console
    _, _, refs = desk_site

    client = create_app(desk, Anyone("ldap://unused", BASE_DN), tls=False).test_client()
    for target, lands in (
        (f"/runs/{refs['approved']}", f"/runs/{refs['approved']}"),  # positive control
        ("//evil.example/x", "/"),
        ("/\\evil.example/x", "/"),
        ("https://evil.example/", "/"),
    ):
        page = client.get("/signin").get_data(as_text=True)
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        form = {"user": "reviewer_a", "password": "x", "csrf_token": token, "next": target}
        assert client.post("/signin", data=form).headers["Location"] == lands, target
    project, run_id = refs["approved"].split("/")
    assert client.get(f"/runs/{project}/{run_id}").status_code == 200  # positive control
    for path in (f"/runs/unknown/{run_id}", f"/runs/{project}/..", f"/runs/{project}/x.json"):
        assert client.get(path).status_code == 404, path


def test_pooling_console_serves_until_stopped_and_refuses_plain_http_elsewhere(
    desk_site, ldap, monkeypatch, capsys
):
    from pooling import cli

    conf_dir, zones, _ = desk_site
    monkeypatch.setenv("POOLING_DATA_ROOT", str(Path(zones.roots["outputs"]).parent))
    base = ["--conf", str(conf_dir), "console", "--ldap-url", ldap[0]]
    assert cli.main([*base, "--host", "0.0.0.0"]) == 2  # refused before Spark starts
    assert "needs TLS" in capsys.readouterr().err
    assert cli.main([*base, "--port", "0", "--stop-after", "0.5"]) == 0
    assert "review console on http://127.0.0.1:" in capsys.readouterr().out
