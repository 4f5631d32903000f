//! Integration tests of stagenet-report: every format rendered from one realistic fixture and
//! pinned with insta snapshots (`snapshots/`), the JSON round trip, the HTML page's static
//! guarantees, and the page as rendered by a headless Chromium (tests named `needs_chromium_*`;
//! install it with `scripts/setup`).

mod chromium;
mod fixture;
mod formats;
mod html_page;
