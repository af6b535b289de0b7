//! Talking to the terminal: colour, diagnostics, prompts.

use std::io::{BufRead, IsTerminal, Write};

use lanestack_engine::diag::{Diagnostics, Sources};
use lanestack_engine::render::Style;
use lanestack_engine::secrets::Secrets;

/// Where output goes and how it looks.
pub struct Ui {
    /// Colour on stdout.
    pub color: bool,
    color_err: bool,
    interactive: bool,
    /// Running in CI (`CI=true`, as GitHub Actions, GitLab CI and most others set it).
    pub ci: bool,
}

impl Ui {
    /// Colour only on terminals, and never when NO_COLOR is set (<https://no-color.org>); CI
    /// when `CI` is `true` or `1`.
    pub fn from_env() -> Ui {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        Ui {
            color: !no_color && std::io::stdout().is_terminal(),
            color_err: !no_color && std::io::stderr().is_terminal(),
            interactive: std::io::stdin().is_terminal(),
            ci,
        }
    }

    /// Sends the engine's logs to stderr at the level chosen by `-v` flags or LANESTACK_LOG.
    pub fn init_logging(&self, verbose: u8) {
        use tracing_subscriber::filter::LevelFilter;
        let from_env = std::env::var("LANESTACK_LOG").ok().and_then(|v| v.trim().parse::<LevelFilter>().ok());
        let level = match verbose {
            0 => from_env.unwrap_or(LevelFilter::WARN),
            1 => LevelFilter::INFO,
            2 => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        };
        // Our own crates log at the chosen level; dependencies (HTTP clients, servers) only
        // warnings: their traces are noise to a user and could carry request details.
        use tracing_subscriber::Layer as _;
        use tracing_subscriber::layer::SubscriberExt as _;
        use tracing_subscriber::util::SubscriberInitExt as _;
        let ours = move |meta: &tracing::Metadata<'_>| {
            let limit =
                if meta.target().starts_with("lanestack") { level } else { LevelFilter::WARN.min(level) };
            *meta.level() <= limit
        };
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(self.color_err)
            .with_target(false)
            .with_filter(tracing_subscriber::filter::filter_fn(ours));
        let _ = tracing_subscriber::registry().with(layer).try_init();
    }

    /// The style for rendered plans on stdout.
    pub fn style(&self, secrets: Secrets) -> Style {
        Style { color: self.color, secrets }
    }

    /// Prints to stdout.
    pub fn out(&self, text: &str) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()
    }

    /// Prints a line to stdout.
    pub fn line(&self, text: &str) -> std::io::Result<()> {
        self.out(&format!("{text}\n"))
    }

    /// Prints an error message to stderr.
    pub fn error(&self, message: &str) {
        let label = if self.color_err { "\x1b[1;31merror\x1b[0m" } else { "error" };
        let _ = writeln!(std::io::stderr(), "{label}: {message}");
    }

    /// Prints a warning message to stderr.
    pub fn warn(&self, message: &str) {
        let label = if self.color_err { "\x1b[1;33mwarning\x1b[0m" } else { "warning" };
        let _ = writeln!(std::io::stderr(), "{label}: {message}");
    }

    /// Renders diagnostics with their sources to stderr; returns whether any is an error.
    pub fn diagnostics(&self, diags: &Diagnostics, sources: &Sources) -> bool {
        let theme = if self.color_err {
            miette::GraphicalTheme::unicode()
        } else {
            miette::GraphicalTheme::unicode_nocolor()
        };
        let handler = miette::GraphicalReportHandler::new_themed(theme);
        let mut stderr = std::io::stderr().lock();
        for d in diags.iter() {
            let report = d.to_report(sources);
            let mut text = String::new();
            if handler.render_report(&mut text, report.as_ref()).is_err() {
                text = d.one_line(sources);
            }
            let _ = writeln!(stderr, "{text}");
        }
        diags.has_errors()
    }

    /// Asks for the word "yes". Refuses (false) without a terminal to ask on.
    pub fn confirm(&self, question: &str) -> Result<bool, NoTerminal> {
        if !self.interactive {
            return Err(NoTerminal);
        }
        print!("{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        if std::io::stdin().lock().read_line(&mut answer).is_err() {
            return Ok(false);
        }
        Ok(answer.trim() == "yes")
    }
}

/// There is no terminal to ask for approval on.
#[derive(Debug)]
pub struct NoTerminal;
