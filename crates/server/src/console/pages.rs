//! The HTML of the console: the login form and one shell per page. maud
//! escapes every value it interpolates; the script fills `#app` with DOM
//! nodes whose text is set as text, never parsed as HTML.

use dutyhook_store::PersonRecord;
use maud::{html, Markup, DOCTYPE};

/// The script's modules: `app.js` is the entry, loaded as a module; it
/// imports the others by their names.
pub const SCRIPTS: [(&str, &str); 22] = [
    ("app.js", include_str!("assets/app.js")),
    ("common.js", include_str!("assets/common.js")),
    ("dom.js", include_str!("assets/dom.js")),
    ("api.js", include_str!("assets/api.js")),
    ("incidents.js", include_str!("assets/incidents.js")),
    ("incident.js", include_str!("assets/incident.js")),
    ("runs.js", include_str!("assets/runs.js")),
    ("action_form.js", include_str!("assets/action_form.js")),
    (
        "action_settings.js",
        include_str!("assets/action_settings.js"),
    ),
    ("integrations.js", include_str!("assets/integrations.js")),
    (
        "template_editor.js",
        include_str!("assets/template_editor.js"),
    ),
    ("auth_settings.js", include_str!("assets/auth_settings.js")),
    ("timeline.js", include_str!("assets/timeline.js")),
    (
        "incident_people.js",
        include_str!("assets/incident_people.js"),
    ),
    ("alerts.js", include_str!("assets/alerts.js")),
    ("sources.js", include_str!("assets/sources.js")),
    ("email.js", include_str!("assets/email.js")),
    ("replay.js", include_str!("assets/replay.js")),
    ("people.js", include_str!("assets/people.js")),
    (
        "channel_settings.js",
        include_str!("assets/channel_settings.js"),
    ),
    ("history.js", include_str!("assets/history.js")),
    ("directory.js", include_str!("assets/directory.js")),
];
pub const STYLE_CSS: &str = include_str!("assets/style.css");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Incidents,
    Incident,
    Alerts,
    Integrations,
    History,
    Directory,
}

impl Page {
    pub fn named(name: &str) -> Option<Page> {
        Some(match name {
            "incidents" => Page::Incidents,
            "incident" => Page::Incident,
            "alerts" => Page::Alerts,
            "integrations" => Page::Integrations,
            "history" => Page::History,
            "directory" => Page::Directory,
            _ => return None,
        })
    }

    fn slug(self) -> &'static str {
        match self {
            Page::Incidents => "incidents",
            Page::Incident => "incident",
            Page::Alerts => "alerts",
            Page::Integrations => "integrations",
            Page::History => "history",
            Page::Directory => "directory",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Page::Incidents => "Incidents",
            Page::Incident => "Incident",
            Page::Alerts => "Alerts",
            Page::Integrations => "Integration center",
            Page::History => "Invocation history",
            Page::Directory => "Channels, people and keys",
        }
    }

    /// The section of the navigation the page belongs to.
    fn section(self) -> Page {
        match self {
            Page::Incident => Page::Incidents,
            Page::History => Page::Integrations,
            other => other,
        }
    }
}

const NAV: [(Page, &str); 4] = [
    (Page::Incidents, "Incidents"),
    (Page::Alerts, "Alerts"),
    (Page::Integrations, "Integrations"),
    (Page::Directory, "Directory"),
];

fn head(title: &str, csrf: Option<&str>) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · dutyhook" }
            link rel="stylesheet" href="/console/assets/style.css";
            @if let Some(token) = csrf {
                meta name="csrf-token" content=(token);
                script src="/console/assets/app.js" type="module" {}
            }
        }
    }
}

/// A page: the script fills `#app`; `plain` is what it shows until then
/// (and without JavaScript).
pub fn shell(
    page: Page,
    me: &PersonRecord,
    csrf: &str,
    retention_s: u64,
    plain: Option<Markup>,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(page.title(), Some(csrf)))
            body data-page=(page.slug()) data-person-id=(me.person.person_id) data-role=(me.role.as_str()) data-retention-s=(retention_s) {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/console/incidents" { "dutyhook" }
                    nav aria-label="Main" {
                        ul {
                            @for (target, label) in NAV {
                                li {
                                    @if target == page.section() {
                                        a href={ "/console/" (target.slug()) } aria-current="page" { (label) }
                                    } @else {
                                        a href={ "/console/" (target.slug()) } { (label) }
                                    }
                                }
                            }
                        }
                    }
                    form.logout method="post" action="/console/logout" {
                        input type="hidden" name="csrf" value=(csrf);
                        a.me href="/console/directory?tab=people" title="Your account: change your password" { (me.person.person_name) }
                        button type="submit" { "Log out" }
                    }
                }
                main #main tabindex="-1" {
                    h1 #page-title { (page.title()) }
                    noscript {
                        p.notice { "Without JavaScript this page can only be read; changing anything needs it. The Open API (/openapi.json) offers everything the console does." }
                    }
                    div #app aria-live="polite" { @if let Some(p) = plain { div data-plain { (p) } } }
                }
            }
        }
    }
}

/// A page for someone not signed in (logging in, choosing a password): the
/// name and one card.
pub fn signed_out(title: &str, card: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, None))
            body.login {
                main #main {
                    h1 { "dutyhook" }
                    (card)
                }
            }
        }
    }
}

pub fn login(csrf: &str, error: Option<&str>, email: &str) -> Markup {
    signed_out(
        "Log in",
        html! {
                    form.card method="post" action="/console/login" {
                        h2 { "Log in" }
                        @if let Some(e) = error {
                            p.error role="alert" { (e) }
                        }
                        input type="hidden" name="csrf" value=(csrf);
                        label for="email" { "Email" }
                        input #email type="email" name="email" autocomplete="username" required value=(email);
                        label for="password" { "Password" }
                        input #password type="password" name="password" autocomplete="current-password" required;
                        button type="submit" { "Log in" }
                        p.hint { "The first admin's email and password are printed by " code { "dutyhook serve" } " on an empty database, or by " code { "dutyhook admin create" } "." }
                    }
        },
    )
}

pub fn not_found() -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head("Not found", None))
            body { main #main { h1 { "No such page" } p { a href="/console/incidents" { "Back to the incidents" } } } }
        }
    }
}
