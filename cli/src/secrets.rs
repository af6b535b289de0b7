//! `--show-sensitive`: the one way to see secrets, refused in CI unless forced.

use clap::Args;
use lanestack_engine::secrets::Secrets;

use crate::ui::Ui;

/// Flags that reveal sensitive values.
#[derive(Args, Debug, Clone, Default)]
pub struct SecretArgs {
    /// Show sensitive values instead of "(sensitive)", for local debugging. Refused when CI=true
    /// (CI logs and PR comments outlive the run) unless --force-show-sensitive is given.
    #[arg(long)]
    pub show_sensitive: bool,
    /// Show sensitive values even in CI. Whatever is printed stays in the CI logs.
    #[arg(long)]
    pub force_show_sensitive: bool,
}

impl SecretArgs {
    /// Whether renderers may show secrets here.
    pub fn secrets(&self, ui: &Ui) -> anyhow::Result<Secrets> {
        if self.force_show_sensitive {
            return Ok(Secrets::Show);
        }
        if !self.show_sensitive {
            return Ok(Secrets::Redact);
        }
        if ui.ci {
            anyhow::bail!(
                "refusing --show-sensitive in CI (CI=true): secrets printed here stay in the CI logs; pass --force-show-sensitive if that is really wanted"
            );
        }
        Ok(Secrets::Show)
    }
}
