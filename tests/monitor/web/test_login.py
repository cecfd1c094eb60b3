"""Logging in to the console: sessions, cookies, CSRF, roles, language."""

from __future__ import annotations

from tests.monitor.web.conftest import PASSWORD, Console


def test_a_page_without_a_session_sends_to_the_login_page(console: Console) -> None:
    client = console.anonymous()
    response = client.get("/fleet")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/fleet"


def test_login_sets_a_secure_http_only_strict_cookie_and_audits_it(console: Console) -> None:
    browser = console.browser("quality")
    cookie = next(h for h in browser.client.cookies.jar if h.name == "dmn_console")
    assert cookie.secure
    assert cookie.has_nonstandard_attr("HttpOnly")
    entries = console.audit("user.login")
    assert entries[0].actor == "Claire Martin (cmartin)"
    assert entries[0].action == "user.login"


def test_a_wrong_password_is_refused_and_audited_without_the_password(console: Console) -> None:
    client = console.anonymous()
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(
        "/login",
        data={"csrf_token": token, "username": "cmartin", "password": "not the password"},
    )
    assert response.status_code == 401
    assert "incorrect" in response.text
    entry = console.audit("user.login_failed")[0]
    assert entry.details == {"reason": "password"}
    assert "not the password" not in str(entry.details)


def test_login_without_the_login_forms_token_is_refused(console: Console) -> None:
    client = console.anonymous()
    response = client.post("/login", data={"username": "cmartin", "password": PASSWORD})
    assert response.status_code == 400
    assert "dmn_console" not in client.cookies


def test_a_form_without_the_csrf_token_is_refused(console: Console) -> None:
    browser = console.browser("quality")
    response = browser.client.post("/logout", data={}, headers={"Origin": "https://testserver"})
    assert response.status_code == 403
    response = browser.client.post(
        "/logout", data={"csrf_token": browser.csrf}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert browser.get("/fleet").status_code == 200


def test_logout_ends_the_session_on_the_server(console: Console) -> None:
    browser = console.browser("viewer")
    secret = browser.client.cookies["dmn_console"]
    assert browser.post("/logout").status_code == 303
    # The old cookie, sent again (as a stolen copy would be), no longer opens a page.
    replay = console.anonymous()
    replay.cookies.set("dmn_console", secret)
    response = replay.get("/fleet")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/fleet&ended=1"
    assert console.audit("user.logout")[0].actor == "Victor Lambert (vlambert)"


def test_pages_carry_security_headers_and_no_external_reference(console: Console) -> None:
    browser = console.browser("viewer")
    response = browser.get("/login")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert "http://" not in response.text and "https://" not in response.text


def test_the_language_switch_changes_the_words(console: Console) -> None:
    client = console.anonymous()
    assert "Mot de passe" in client.get("/login").text
    response = client.get("/lang/en?next=/login")
    assert response.status_code == 303
    assert "Password" in client.get("/login").text


def test_the_language_switch_never_redirects_off_site(console: Console) -> None:
    client = console.anonymous()
    response = client.get("/lang/en?next=//evil.example/x")
    assert response.headers["location"] == "/fleet"


def test_a_login_flood_from_one_client_is_answered_429_and_audited_once(
    console: Console,
) -> None:
    """Failed before: every bogus login ran scrypt and wrote an audit row, unbounded."""
    client = console.anonymous()
    page = client.get("/login")
    limit = console.config.console.login_attempts_per_client
    statuses = []
    token = ""
    for i in range(limit + 15):
        if 'name="csrf_token"' in page.text:  # a login form anew (a short 429 is not)
            token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        data = {"csrf_token": token, "username": "cmartin", "password": f"bad{i}"}
        page = client.post("/login", data=data)
        statuses.append(page.status_code)
    assert statuses == [401] * limit + [429] * 15
    refused = client.post(
        "/login", data={"csrf_token": token, "username": "cmartin", "password": PASSWORD}
    )
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert "Trop de tentatives" in refused.text or "Too many login attempts" in refused.text
    assert len(console.audit("user.login_failed")) == limit
    assert len(console.audit("user.login_throttled")) == 1
